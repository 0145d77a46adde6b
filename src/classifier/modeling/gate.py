"""The champion gate: may a challenger replace the champion?

Both models are judged on the same rows, and only on rows neither trained on: the challenge set (never
trained on) and the held-out families the champion never saw (families are held out by a stable hash of
their name, so the hold-out does not move when data is added; the champion's manifest lists the
families it learned from). The gate metric's difference gets a paired bootstrap interval that resamples
whole families, as they were held out. A challenger is promoted when it is better with the configured
confidence, or not worse within the margin and better on the secondary metric; a tie keeps the
champion, so retraining on unchanged data does not churn it. Guards are lower-is-better metrics the
challenger may raise only by a stated amount.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from classifier.modeling.challenge import challenge_metrics
from classifier.modeling.evaluate import binary_metrics, hard_negative_fpr

CHALLENGE = "challenge."
# metrics the bootstrap can recompute from scores; others are compared as measured
BOOTSTRAPPED = {"average_precision": average_precision_score, "roc_auc": roc_auc_score}
LOWER_IS_BETTER = ("false_positive_rate", "fpr", "ece", "brier")
_EPS = 1e-9


def lower_is_better(name: str) -> bool:
    return name.endswith(LOWER_IS_BETTER)


@dataclass(frozen=True)
class GateRule:
    """When a challenger may replace the champion (params.yaml, section evaluate)."""

    metric: str = "challenge.average_precision"  # higher is better; recomputed in the bootstrap
    confidence: float = 0.90  # two-sided interval of the difference; "better" when it lies above 0
    margin: float = 0.005  # "not worse": the interval's lower end above -margin ...
    secondary: str = "challenge.minimal_pairs_ordered"  # ... and better on this one
    guards: dict[str, float] = field(default_factory=dict)  # lower-is-better metrics and their allowed rise
    resamples: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.metric.removeprefix(CHALLENGE) not in BOOTSTRAPPED:
            raise ValueError(
                f"evaluate.gate_metric must be one of {sorted(BOOTSTRAPPED)} (optionally with the "
                f"'challenge.' prefix), not {self.metric!r}"
            )
        if not 0.5 <= self.confidence < 1 or self.margin < 0 or self.resamples < 100:
            raise ValueError("gate confidence must be in [0.5, 1), margin >= 0, resamples >= 100")
        if any(rise < 0 for rise in self.guards.values()):
            raise ValueError("guard allowances must not be negative")


@dataclass(frozen=True)
class Ground:
    """Rows neither model trained on, with both models' scores and thresholds."""

    frame: pd.DataFrame  # label, family, hard_negative (+ the challenge columns on the challenge set)
    challenger: np.ndarray
    champion: np.ndarray
    challenger_threshold: float
    champion_threshold: float
    what: str  # said in the gate's reason: which rows these are
    on_challenge: bool = False  # the challenge set (metrics named challenge.*), else held-out rows

    def __len__(self) -> int:
        return len(self.frame)


def heldout_metrics(frame: pd.DataFrame, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Held-out metrics (unprefixed names) of one model on ground rows."""
    metrics = binary_metrics(frame["label"].to_numpy(dtype=int), scores, threshold)
    metrics["hard_negative_fpr"] = hard_negative_fpr(frame, scores, threshold)
    return metrics


def ground_metrics(ground: Ground, side: str) -> dict[str, float]:
    """One model's (``challenger`` or ``champion``) metrics on the ground, named as in training."""
    scores = getattr(ground, side)
    threshold = getattr(ground, f"{side}_threshold")
    if ground.on_challenge:
        return challenge_metrics(ground.frame, scores, threshold)
    return heldout_metrics(ground.frame, scores, threshold)


@dataclass(frozen=True)
class Interval:
    """The challenger's gain on the gate metric, with its bootstrap interval."""

    difference: float
    low: float
    high: float
    confidence: float
    rows: int
    groups: int

    def __str__(self) -> str:
        return (
            f"{self.difference:+.4f} [{self.low:+.4f}, {self.high:+.4f}] "
            f"({self.confidence:.0%} interval, {self.rows} rows, {self.groups} families)"
        )


def paired_bootstrap(ground: Ground, metric: str, rule: GateRule) -> Interval:
    """Resample whole families with replacement; the same draw scores both models (paired)."""
    score = BOOTSTRAPPED[metric.removeprefix(CHALLENGE)]
    y = ground.frame["label"].to_numpy(dtype=int)
    codes, uniques = pd.factorize(ground.frame["family"].astype(str))
    members = [np.flatnonzero(codes == g) for g in range(len(uniques))]
    ours, theirs = ground.challenger, ground.champion
    observed = score(y, ours) - score(y, theirs)
    rng = np.random.default_rng(rule.seed)
    differences = []
    for _ in range(rule.resamples):
        rows = np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))])
        if y[rows].min() == y[rows].max():  # one class drawn: the metric is undefined
            continue
        differences.append(score(y[rows], ours[rows]) - score(y[rows], theirs[rows]))
    tail = (1 - rule.confidence) / 2
    low, high = np.quantile(differences, [tail, 1 - tail]) if differences else (math.nan, math.nan)
    return Interval(float(observed), float(low), float(high), rule.confidence, len(y), len(uniques))


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    interval: Interval | None = None
    challenger: dict[str, float] = field(default_factory=dict)  # both models' metrics on the ground
    champion: dict[str, float] = field(default_factory=dict)

    def metrics(self, rule: GateRule) -> dict[str, float]:
        """What the challenger's run logs under ``gate.``: both models on the same rows, the interval."""
        logged = {}
        for name in dict.fromkeys([rule.metric, rule.secondary, *rule.guards]):
            for side, values in (("challenger", self.challenger), ("champion", self.champion)):
                if name in values:
                    logged[f"gate.{side}.{name}"] = values[name]
        if self.interval:
            i = self.interval
            logged.update(
                {
                    "gate.difference": i.difference,
                    "gate.difference_low": i.low,
                    "gate.difference_high": i.high,
                }
            )
            logged.update({"gate.rows": float(i.rows), "gate.families": float(i.groups)})
        logged["gate.promoted"] = float(self.promote)
        return logged


def _finite(metrics: dict[str, float], name: str) -> float | None:
    value = metrics.get(name)
    return None if value is None or math.isnan(float(value)) else float(value)


def _guard_failures(ours: dict[str, float], theirs: dict[str, float], rule: GateRule) -> list[str]:
    failures = []
    for name, rise in rule.guards.items():
        mine, champion = _finite(ours, name), _finite(theirs, name)
        if mine is None:
            failures.append(f"{name} not measured")
        elif champion is not None and mine > champion + rise + _EPS:
            failures.append(f"{name} {mine:.4f} vs champion {champion:.4f} (may rise at most {rise:.4f})")
    return failures


def _better_on(name: str, ours: dict[str, float], theirs: dict[str, float]) -> bool:
    mine, champion = _finite(ours, name), _finite(theirs, name)
    if mine is None or champion is None:
        return False
    return mine < champion - _EPS if lower_is_better(name) else mine > champion + _EPS


def decide(ground: Ground | None, rule: GateRule) -> GateDecision:
    """The decision on ``ground`` (None when there is no champion to defend)."""
    if ground is None:
        return GateDecision(True, "no champion yet: the challenger is the first")
    ours, theirs = ground_metrics(ground, "challenger"), ground_metrics(ground, "champion")
    if _finite(ours, rule.metric) is None:
        return GateDecision(False, f"challenger fails: {rule.metric} is not measured on {ground.what}")
    interval = paired_bootstrap(ground, rule.metric, rule)
    said = f"{rule.metric} {ours[rule.metric]:.4f} vs champion {theirs[rule.metric]:.4f}, gain {interval}"
    failures = _guard_failures(ours, theirs, rule)
    if failures:
        return GateDecision(False, "challenger fails: " + "; ".join(failures), interval, ours, theirs)
    if interval.low > 0:
        verdict = (True, f"challenger is better on {ground.what}: {said}")
    elif interval.low > -rule.margin and _better_on(rule.secondary, ours, theirs):
        verdict = (
            True,
            f"challenger is not worse (margin {rule.margin}) and better on {rule.secondary} "
            f"({_finite(ours, rule.secondary):.4f} vs {_finite(theirs, rule.secondary):.4f}) "
            f"on {ground.what}: {said}",
        )
    else:
        verdict = (
            False,
            f"champion stays: not better with {rule.confidence:.0%} confidence on {ground.what}: {said}",
        )
    return GateDecision(*verdict, interval, ours, theirs)
