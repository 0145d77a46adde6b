"""The corpus tables of ``classifier.analysis.corpus_stats`` on a small hand-made labels table and real-negatives folder."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from classifier.analysis import corpus_stats
from classifier.common.config import Settings


def _labels() -> pd.DataFrame:
    rows = [
        ("a", 1, "sale", "ru", "lookalike+emoji", False, ""),
        ("b", 1, "recruitment", "kk", "", False, ""),
        ("c", 1, "propaganda", "mixed", "digits", False, ""),
        ("d", 1, "sale", "ru", "", False, "a"),
        ("e", 0, "none", "ru", "", True, ""),
        ("f", 0, "none", "kk", "", True, ""),
        ("g", 0, "none", "ru", "", False, ""),
    ]
    frame = pd.DataFrame(
        rows, columns=["id", "label", "category", "lang", "obfuscations", "hard_negative", "mirror_of"]
    )
    # two written pages (corpus.written_share of the default corpus is 0.70)
    family = frame["id"].where(~frame["id"].isin(["b", "f"]), "written_" + frame["id"] + "-g01")
    return frame.assign(family=family, malformed=False, kind="k")


def _docs(labels: pd.DataFrame) -> pd.DataFrame:
    originals = labels[labels["mirror_of"] == ""]
    return originals.assign(text=["слово " * (i + 1) for i in range(len(originals))])


def test_counts_overview_and_obfuscations() -> None:
    labels = _labels()
    table = corpus_stats.counts(labels, "lang")
    assert table.loc["ru"].tolist()[:3] == [2, 2, 4]
    assert table["pages"].sum() == len(labels) and table.index[0] == "ru"
    stats = corpus_stats.overview(labels)
    assert stats["positives"] == 4 and stats["mirror_pages"] == 1
    assert stats["hard_negative_share_of_negatives"] == round(2 / 3, 3)
    kinds = corpus_stats.obfuscation_counts(labels)["positive_pages"].to_dict()
    assert kinds == {"none": 2, "lookalike": 1, "emoji": 1, "digits": 1}


def test_examples_and_lengths() -> None:
    docs = _docs(_labels())
    shown = corpus_stats.examples(docs, chars=8)
    assert sorted(shown["category"]) == ["none", "propaganda", "recruitment", "sale"]
    assert shown["text"].str.len().max() <= 9
    lengths = corpus_stats.text_lengths(docs)
    assert lengths.loc[1, ("chars", "count")] == 3 and lengths.loc[0, ("words", "count")] == 3


def test_problems_flag_an_absurd_corpus() -> None:
    labels, settings = _labels(), Settings()
    docs = _docs(labels)
    assert corpus_stats.problems(labels, docs, settings, tolerance=0.5) == []
    broken = labels[labels["category"] != "propaganda"].assign(
        mirror_of=lambda t: t["mirror_of"].replace("a", "zz")
    )
    found = corpus_stats.problems(broken, docs.assign(text=""), settings, tolerance=0.5)
    assert any("propaganda" in f for f in found)
    assert any("mirrors point" in f for f in found)
    assert any("empty text" in f for f in found)
    # a page whose text is only in its pictures is not empty: OCR read it, and the model reads that
    pictured = docs.assign(text="", image_text="Продам авто, пишите")
    assert not any(
        "empty text" in f for f in corpus_stats.problems(labels, pictured, settings, tolerance=0.5)
    )


def test_real_negatives_modes(tmp_path: Path) -> None:
    assert corpus_stats.load_real_negatives("auto", folder=tmp_path / "absent") is None
    assert corpus_stats.load_real_negatives("never", folder=tmp_path) is None
    with pytest.raises(FileNotFoundError):
        corpus_stats.load_real_negatives("always", folder=tmp_path / "absent")
    with pytest.raises(ValueError):
        corpus_stats.load_real_negatives("sometimes", folder=tmp_path)
    rows = [
        {
            "id": f"s:{i}",
            "text": "Новости дня",
            "lang": "ru",
            "source": "s",
            "drug_topic": i == 0,
            "split": split,
        }
        for i, split in enumerate(["dev", "dev", "test"])
    ]
    with gzip.open(tmp_path / "s.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    real = corpus_stats.load_real_negatives("always", folder=tmp_path)
    table = corpus_stats.real_negative_counts(real).set_index("split")
    assert table.loc["dev", "texts"] == 2 and table.loc["dev", "drug_topic"] == 1
    assert table.loc["test", "texts"] == 1


def test_a_corpus_of_another_size_is_made_once_and_then_reused_by_training(tmp_path: Path) -> None:
    """Notebooks ask for a size of their own: training must reuse that corpus, not regenerate it at
    params' size (which once made notebook 01 regenerate 6,200 pages behind its back)."""
    from dataclasses import replace

    from classifier.common.config import load_settings
    from classifier.modeling.datasets import demo_dataset

    base = load_settings()
    settings = replace(base, extract=replace(base.extract, n_jobs=1))
    folder = tmp_path / "corpus"
    summary = corpus_stats.ensure_corpus(folder, settings, n=60, seed=4)
    assert summary["pages"] == 60
    made = (folder / "pages.warc.gz").stat().st_mtime_ns
    said: list[str] = []
    documents = demo_dataset(folder, settings, use_cache=False, say=said.append)
    assert not said and len(documents) <= 60
    assert corpus_stats.ensure_corpus(folder, settings, n=60, seed=4)["pages"] == 60
    assert (folder / "pages.warc.gz").stat().st_mtime_ns == made  # reused, twice
    assert corpus_stats.ensure_corpus(folder, settings, n=70, seed=4)["pages"] == 70  # another size: made
