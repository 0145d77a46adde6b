"""classifier.analysis.experiments without training: variants, choosing, reading runs back, the closing check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from classifier.analysis import experiments
from classifier.analysis.experiments import Candidate
from classifier.common.config import load_settings
from classifier.modeling import tracking


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh SQLite store in ``tmp_path``; MLflow's global URIs are put back afterwards."""
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    saved = tracking_utils._tracking_uri, registry_utils._registry_uri
    tracking.configure(f"sqlite:///{tmp_path / 'mlflow.db'}")
    yield tmp_path
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(saved[0])
    mlflow.set_registry_uri(saved[1])


def _candidate(name: str, ap: float, run_id: str = "r") -> Candidate:
    return Candidate(name, load_settings(), run_id, {"average_precision": ap})


def _registered(ap: float, version: str, promoted: bool):
    return experiments.TrainResult(None, {"average_precision": ap}, version, promoted, "", Path("."), 0.0)


def test_comparison_settings_and_variants() -> None:
    settings = experiments.comparison_settings("never", fast=True)
    assert settings.train.real_negatives == "never" and settings.model.folds == 3
    fast = experiments.model_variants(settings, fast=True)
    full = experiments.model_variants(experiments.comparison_settings(), fast=False)
    assert len(fast) == 2 and len(full) == 3
    assert {s.model.estimator for s in fast.values()} == {settings.model.estimator, "linear_svm"}
    assert len({(s.model.estimator, s.model.C) for s in full.values()}) == 3


def test_best_candidate_ignores_nan_and_keeps_the_first_on_a_tie() -> None:
    candidates = [
        _candidate("a", 0.8),
        _candidate("b", float("nan")),
        _candidate("c", 0.9),
        _candidate("d", 0.9),
    ]
    assert experiments.best_candidate(candidates).name == "c"


def test_comparison_problems() -> None:
    candidates = [_candidate("a", 0.8, "r1"), _candidate("b", 0.9, "r2")]
    table = pd.DataFrame(
        {
            "experiment": ["comparison"] * 2,
            "variant": ["a", "b"],
            "average_precision": [0.8, 0.9],
            "run_id": ["r1", "r2"],
        }
    )
    assert experiments.comparison_problems(candidates, _registered(0.9, "3", True), table, "3") == []
    assert experiments.comparison_problems(candidates, _registered(0.9, "3", False), table, "2") == []
    problems = experiments.comparison_problems(candidates, _registered(0.9, "3", True), table.head(1), "2")
    assert len(problems) == 2  # run r2 missing; the promoted version is not champion
    worse = table.assign(average_precision=[0.4, 0.9])
    assert experiments.comparison_problems(candidates, _registered(0.7, "3", False), worse, None) != []


def test_runs_table_and_pr_curves_read_back_logged_runs(store: Path, tmp_path: Path) -> None:
    settings = load_settings()
    folder = tmp_path / "evaluation"
    folder.mkdir()
    pd.DataFrame({"label": [0, 0, 1, 1, 0, 1], "score": [0.1, 0.4, 0.35, 0.8, 0.2, 0.9]}).to_csv(
        folder / "predictions.csv", index=False
    )
    run_ids = {}
    for name, ap in (("x", 0.7), ("y", 0.9)):
        with tracking.training_run(
            experiments.COMPARISON_EXPERIMENT, tags={experiments.VARIANT_TAG: name}
        ) as run:
            tracking.log_params({"model": {"estimator": settings.model.estimator, "C": ap}})
            tracking.log_metrics({"average_precision": ap})
            tracking.log_artifacts(folder, "evaluation")
        run_ids[name] = run
    table = experiments.runs_table(list(run_ids.values()))
    assert table["variant"].tolist() == ["y", "x"] and table["version"].isna().all()
    assert np.isnan(table.loc[0, "roc_auc"])
    curves = experiments.pr_curves(run_ids)
    assert set(curves) == {"x", "y"} and curves["x"]["precision"].between(0, 1).all()
    figure = experiments.plot_pr_curves(curves, {"x": "AP 0.7"})
    assert figure.axes[0].get_legend().get_texts()[0].get_text() == "x (AP 0.7)"
