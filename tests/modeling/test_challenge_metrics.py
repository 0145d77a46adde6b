"""Challenge-set metrics (classifier.modeling.challenge): minimal pairs, slices, and the set read as documents."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from classifier.modeling.challenge import challenge_metrics, load_challenge, minimal_pairs


def frame(scores: list[float]) -> pd.DataFrame:
    rows = [  # two goods pairs, one stance pair, one unpaired violation and one unpaired hard negative
        ("g1a", 1, "g1", "goods", "ru", False, True),
        ("g1b", 0, "g1", "goods", "ru", True, False),
        ("g2a", 1, "g2", "goods", "kk", False, False),
        ("g2b", 0, "g2", "goods", "kk", True, False),
        ("s1a", 1, "s1", "stance", "mixed", False, True),
        ("s1b", 0, "s1", "stance", "mixed", True, False),
        ("p1", 1, None, None, "ru", False, False),
        ("n1", 0, None, None, "ru", True, False),
    ]
    columns = ["id", "label", "pair_id", "pair_kind", "lang_written", "hard_negative", "disguised"]
    table = pd.DataFrame(rows, columns=columns)
    table["category"] = np.where(table["label"] == 1, "sale", "none")
    return table.assign(score=scores)


def test_minimal_pairs_count_the_violation_scoring_above_its_twin() -> None:
    scored = frame([0.9, 0.2, 0.3, 0.6, 0.7, 0.1, 0.5, 0.4])  # g2 is the wrong way round
    metrics = minimal_pairs(scored)
    assert metrics["minimal_pairs"] == 3
    assert metrics["minimal_pairs_ordered"] == pytest.approx(2 / 3)
    assert metrics["minimal_pairs_ordered.goods"] == 0.5
    assert metrics["minimal_pairs_ordered.stance"] == 1.0


def test_challenge_metrics_at_the_models_threshold() -> None:
    scores = [0.9, 0.2, 0.3, 0.6, 0.7, 0.1, 0.5, 0.4]
    metrics = challenge_metrics(frame(scores).drop(columns="score"), np.array(scores), threshold=0.45)
    assert metrics["challenge.rows"] == 8
    assert metrics["challenge.recall"] == 0.75  # 0.3 is missed
    assert metrics["challenge.hard_negative_fpr"] == 0.25  # 0.6 flagged among four hard negatives
    assert metrics["challenge.disguised_recall"] == 1.0  # g1a and s1a
    assert metrics["challenge.recall_at_k"] == 0.75  # the top four hold three violations
    assert metrics["challenge.minimal_pairs_ordered"] == pytest.approx(2 / 3)


def test_the_challenge_set_reads_as_documents(settings) -> None:
    documents = load_challenge(settings)
    assert documents is not None and len(documents) >= 400
    assert set(documents["extractor"]) == {"text"} and documents["text"].str.len().min() > 0
    assert {"label", "pair_id", "register", "lang_written", "family"} <= set(documents.columns)
