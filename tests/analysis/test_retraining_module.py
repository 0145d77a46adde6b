"""``classifier.analysis.retraining``: the helpers of the retraining notebook, without training anything."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from classifier.analysis.retraining import (
    decide_from_known_labels,
    keep_lines,
    loop_settings,
    use_tracking_store,
)
from classifier.common.config import Settings
from classifier.modeling import tracking
from classifier.queue import CaseStore, export_labels
from scored_rows import scored


def test_loop_settings(settings: Settings) -> None:
    fast = loop_settings("never", fast=True, base=settings)
    assert fast.train.real_negatives == "never" and fast.model.folds == 3
    assert fast.score.log_to_mlflow is False
    assert loop_settings("auto", base=settings).model.folds == settings.model.folds


def test_keep_lines(capsys: pytest.CaptureFixture[str]) -> None:
    lines: list[str] = []
    keep_lines(lines)("one")
    keep_lines(lines, echo=False)("two")
    assert lines == ["one", "two"] and capsys.readouterr().out == "one\n"


def test_use_tracking_store_points_later_runs_at_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    try:
        assert use_tracking_store(uri) == uri
        assert tracking.default_tracking_uri() == uri  # what train() configures
    finally:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
        tracking.configure(tracking.default_tracking_uri())


def test_decisions_from_known_labels_are_recorded_once_and_exported(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "url", "label", "category"])
        writer.writerow(["a", "https://shop.example/a", 1, "recruitment"])
        writer.writerow(["b", "https://news.example/b", 0, "none"])
    with CaseStore(f"sqlite:///{tmp_path / 'queue.db'}") as store:
        store.add_scored(
            [
                scored("a", "https://shop.example/a", score=0.9),
                scored("b", "https://news.example/b", score=0.7),
                scored("c", "https://other.example/c", score=0.2),  # not in labels.csv: left alone
            ]
        )
        decided = decide_from_known_labels(store, labels, expert="notebook-demo")
        assert sorted(decided["decision"]) == ["confirmed", "rejected"]
        assert decide_from_known_labels(store, labels).empty  # a re-run decides nothing again
        assert store.counts()["new"] == 1
        rows = {r["url"]: r for r in export_labels(store)}
    assert rows["https://shop.example/a"]["label"] == 1
    assert rows["https://shop.example/a"]["category"] == "recruitment"
    assert rows["https://news.example/b"]["label"] == 0 and rows["https://news.example/b"]["hard_negative"]
    assert {r["expert"] for r in rows.values()} == {"notebook-demo"}
