"""The champion gate: a paired bootstrap by family, ties keep the champion, guards hold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from classifier.modeling.gate import GateRule, Ground, decide, paired_bootstrap

RULE = GateRule(
    metric="average_precision",
    secondary="hard_negative_fpr",
    guards={"false_positive_rate": 0.05},
    resamples=300,
)


def held_out_rows(n_families: int = 60, per_family: int = 4, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n_families) % 2)
    return pd.DataFrame(
        {
            "family": np.repeat([f"f{i}" for i in range(n_families)], per_family),
            "label": np.repeat(labels, per_family),
            "hard_negative": np.repeat(labels == 0, per_family),
        }
    )


def ground(
    frame: pd.DataFrame, ours, theirs, *, our_threshold: float = 0.5, their_threshold: float = 0.5
) -> Ground:
    return Ground(
        frame, np.asarray(ours, float), np.asarray(theirs, float), our_threshold, their_threshold, "test rows"
    )


def noisy_scores(frame: pd.DataFrame, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(frame["label"].to_numpy() * 0.5 + 0.25 + rng.normal(0, noise, len(frame)), 0, 1)


def test_the_first_model_is_promoted() -> None:
    assert decide(None, RULE).promote


def test_a_tie_keeps_the_champion() -> None:
    frame = held_out_rows()
    scores = noisy_scores(frame, 0.3, seed=1)
    decision = decide(ground(frame, scores, scores.copy()), RULE)
    assert not decision.promote
    assert decision.interval.difference == 0 and decision.interval.low == 0
    assert decision.reason.startswith("champion stays")


def test_a_clearly_better_challenger_is_promoted_with_its_interval() -> None:
    frame = held_out_rows()
    decision = decide(ground(frame, noisy_scores(frame, 0.05, 2), noisy_scores(frame, 0.6, 3)), RULE)
    assert decision.promote, decision.reason
    assert 0 < decision.interval.low <= decision.interval.difference <= decision.interval.high
    logged = decision.metrics(RULE)
    assert logged["gate.difference_low"] == decision.interval.low
    assert logged["gate.challenger.average_precision"] > logged["gate.champion.average_precision"]
    assert logged["gate.promoted"] == 1.0


def test_a_clearly_worse_challenger_is_refused() -> None:
    frame = held_out_rows()
    decision = decide(ground(frame, noisy_scores(frame, 0.6, 3), noisy_scores(frame, 0.05, 2)), RULE)
    assert not decision.promote
    assert decision.interval.high < 0


def test_equal_ranking_and_a_better_secondary_metric_promotes() -> None:
    """The same ranking (a gain of 0 lies within the margin), fewer hard negatives flagged."""
    frame = held_out_rows()
    scores = noisy_scores(frame, 0.2, seed=4)
    decision = decide(ground(frame, scores, scores.copy(), our_threshold=0.55, their_threshold=0.45), RULE)
    assert decision.challenger["hard_negative_fpr"] < decision.champion["hard_negative_fpr"]
    assert decision.promote, decision.reason
    assert "better on hard_negative_fpr" in decision.reason


def test_a_guard_blocks_a_better_ranking() -> None:
    frame = held_out_rows()
    ours, theirs = noisy_scores(frame, 0.05, 2), noisy_scores(frame, 0.6, 3)
    decision = decide(ground(frame, ours, theirs, our_threshold=0.0), RULE)  # flags every negative
    assert not decision.promote
    assert "false_positive_rate" in decision.reason


def test_the_bootstrap_resamples_families_not_rows() -> None:
    """Copies of a row in one family are one observation: more copies must not narrow the interval."""
    few = held_out_rows(per_family=1, seed=5)
    ours, theirs = noisy_scores(few, 0.3, 6), noisy_scores(few, 0.4, 7)
    widths = []
    for copies in (1, 20):
        frame = held_out_rows(per_family=copies, seed=5)
        pair = ground(frame, np.repeat(ours, copies), np.repeat(theirs, copies))
        interval = paired_bootstrap(pair, "average_precision", RULE)
        assert interval.groups == 60 and interval.rows == 60 * copies
        widths.append(interval.high - interval.low)
    assert widths[1] > 0.5 * widths[0]  # row resampling would shrink it by about sqrt(20)


@pytest.mark.parametrize(
    "bad",
    [
        {"metric": "f1"},
        {"confidence": 1.0},
        {"margin": -0.1},
        {"resamples": 10},
        {"guards": {"hard_negative_fpr": -0.01}},
    ],
)
def test_gate_rule_refuses_bad_settings(bad: dict) -> None:
    with pytest.raises(ValueError):
        GateRule(**bad)
