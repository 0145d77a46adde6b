"""Training on the demo corpus reads the documents `classifier demo` extracted from it, and only those."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from classifier.common.config import Settings
from classifier.corpus.build import generate_corpus
from classifier.extract.run import extract_to_file
from classifier.modeling.datasets import demo_dataset


def test_the_demo_dataset_reuses_documents_extracted_from_the_same_corpus_with_the_same_settings(
    tmp_path: Path, settings: Settings
) -> None:
    generate_corpus(tmp_path, settings.corpus, n=60, seed=4)
    fresh = demo_dataset(tmp_path, settings, use_cache=False, say=lambda _: None)
    extract_to_file([str(tmp_path / "pages.warc.gz")], tmp_path / "documents.parquet", settings)
    said: list[str] = []
    reused = demo_dataset(tmp_path, settings, use_cache=False, say=said.append)
    assert any("reading the documents extracted" in line for line in said)
    pd.testing.assert_frame_equal(
        _nulls_as_none(reused[fresh.columns]), _nulls_as_none(fresh), check_dtype=False
    )
    # other extraction settings: those documents are not what this extraction would give
    other = replace(settings, extract=replace(settings.extract, min_main_text_chars=50))
    said.clear()
    demo_dataset(tmp_path, other, use_cache=False, say=said.append)
    assert not any("reading the documents extracted" in line for line in said)


def _nulls_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet gives an empty cell back as NaN where extraction said None: the same for training."""
    return frame.astype(object).where(frame.notna(), None)
