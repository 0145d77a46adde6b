"""Integration: generate a small corpus, ingest and extract it, and account for every record."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from classifier.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo-data", "--out", str(out), "--n", "160", "--seed", "11"]) == 0
    return out


def test_corpus_files(corpus: Path) -> None:
    labels = pd.read_csv(corpus / "labels.csv")
    assert len(labels) == 160 and labels["id"].is_unique and labels["url"].is_unique
    assert set(labels["label"]) == {0, 1}
    assert set(labels["lang"]) == {"ru", "kk", "mixed"}
    assert {"windows-1251", "koi8-r", "utf-8"} <= set(labels["encoding"])
    summary = json.loads((corpus / "summary.json").read_text())
    assert summary["pages"] == 160


def test_generation_is_deterministic(corpus: Path, tmp_path: Path) -> None:
    assert main(["demo-data", "--out", str(tmp_path), "--n", "160", "--seed", "11"]) == 0
    assert (tmp_path / "labels.csv").read_text() == (corpus / "labels.csv").read_text()


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl", ".csv"])
def test_every_record_is_accounted_for(corpus: Path, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"documents{suffix}"
    assert (
        main(["extract", str(corpus / "pages.warc.gz"), "--out", str(out), "--jobs", "2", "--no-cache"]) == 0
    )
    docs = _read(out)
    labels = pd.read_csv(corpus / "labels.csv")
    assert len(docs) == len(labels)
    assert sorted(docs["id"]) == sorted(labels["id"])
    merged = labels.merge(docs, on="id", suffixes=("_label", ""))
    assert (merged["status"] == "ok").all(), merged.loc[merged["status"] != "ok", "error"].tolist()
    # single-byte pages, declared or not, come out as real Cyrillic text
    legacy = merged[merged["encoding_label"] != "utf-8"]
    assert len(legacy) > 10
    assert not legacy["text"].str.contains("�|Ð|Ñ|Â", regex=True).any()
    assert (legacy["text"].str.count("[А-Яа-яЁё]") >= 4).all()  # some posts are all "Н.О.В.Ы.Й"
    # language ids agree with how the page was written (mixed pages may lean either way)
    pure = merged[merged["lang_label"] != "mixed"]
    assert (pure["lang"] == pure["lang_label"]).mean() > 0.95
    # the title each family wrote reaches the document (bare pages often have no <title> at all)
    titled = merged[(merged["title_label"].fillna("").str.len() > 0) & (merged["layout"] != "bare")]
    assert (titled["title"].fillna("").str.len() > 0).mean() > 0.95


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype={"id": str})
    with path.open(encoding="utf-8") as handle:
        return pd.DataFrame(list(csv.DictReader(handle)))


def test_mixed_inputs_and_bad_ones(corpus: Path, tmp_path: Path, resources: Path) -> None:
    table = tmp_path / "reports.jsonl"
    table.write_text('{"url": "https://x.example/", "text": "Продаю гараж"}\n{broken\n', encoding="utf-8")
    out = tmp_path / "docs.jsonl"
    inputs = [str(corpus / "pages.warc.gz"), str(resources), str(table), str(tmp_path / "missing.warc")]
    assert main(["extract", *inputs, "--out", str(out), "--no-cache"]) == 0
    docs = pd.read_json(out, lines=True, dtype={"id": str})
    html_files = len([p for p in resources.rglob("*") if p.suffix == ".html"])  # hostile/ too
    assert len(docs) == 160 + html_files + 2 + 1
    errors = docs[docs["status"] == "error"]
    assert set(errors["error"].str.split(":").str[0]) >= {
        "input not found",
        "invalid JSON on line 2",
        "empty page",
    }
    assert errors["error"].str.len().min() > 5


def test_demo_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out", str(tmp_path), "--n", "60", "--no-cache", "--no-train"]) == 0
    printed = capsys.readouterr().out
    assert "extracted 60 of 60 pages" in printed
    assert (tmp_path / "documents.parquet").exists()


def test_bad_output_suffix_is_a_clear_error(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["extract", str(corpus / "pages.warc.gz"), "--out", str(tmp_path / "x.xlsx")]) == 2
    assert "output must end in one of" in capsys.readouterr().err
