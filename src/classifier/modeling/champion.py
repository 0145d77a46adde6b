"""The current champion, and the gate a new model must pass to replace it: both judged on rows neither
trained on (the challenge set, or held-out families the champion never saw), decided by ``gate``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from classifier.common.config import Settings
from classifier.modeling import tracking
from classifier.modeling.gate import CHALLENGE, GateDecision, GateRule, Ground, decide
from classifier.modeling.loading import load_trusted_model
from classifier.modeling.model import predict
from classifier.modeling.training_data import Say, TrainingData


def gate_rule(settings: Settings, challenge: pd.DataFrame | None) -> GateRule:
    """The champion gate of params. Without a challenge set, its challenge.* metrics fall back to the
    held-out ones (the same name without the prefix)."""
    ev = settings.evaluate

    def measured(name: str) -> str:
        return name if challenge is not None else name.removeprefix(CHALLENGE)

    return GateRule(
        metric=measured(ev.gate_metric),
        confidence=ev.gate_confidence,
        margin=ev.gate_margin,
        secondary=measured(ev.gate_secondary),
        guards={measured(name): rise for name, rise in ev.gate_guards.items()},
        resamples=ev.gate_resamples,
        seed=settings.train.seed,
    )


@dataclass
class Champion:
    version: str
    pipeline: Pipeline | None  # None: it could not be loaded or cannot score this data
    trained_families: set[str] | None  # None: its manifest does not list them
    problem: str = ""


def load_champion(say: Say, name: str = tracking.MODEL_NAME) -> Champion | None:
    """The current champion of ``name`` with the families it learned from; None when there is none."""
    version = tracking.alias_version(tracking.CHAMPION, name)
    if version is None:
        return None
    try:
        pipeline = load_trusted_model(f"models:/{name}/{version}").pipeline
    except Exception as exc:  # the store may be briefly unreachable: keep the champion, say why
        return Champion(version, None, None, f"could not be loaded ({type(exc).__name__}: {str(exc)[:200]})")
    families = tracking.version_manifest(version, name).get("trained_families")
    if families is None:
        say(
            f"champion version {version} does not list its training families: compared on the challenge set only"
        )
    return Champion(version, pipeline, set(families) if families is not None else None)


def gate_ground(
    rule: GateRule,
    data: TrainingData,
    evaluated: Pipeline,
    shipped: Pipeline,
    champion: Champion,
    challenge: pd.DataFrame | None,
) -> Ground:
    """The rows both models are judged on, scored by both; raises when the champion cannot score them.

    On the challenge set the shipped models meet (neither trained on it); on held-out families the
    evaluation fit (which never saw them) meets the champion, on the families the champion never saw.
    """
    assert champion.pipeline is not None
    on_challenge = rule.metric.startswith(CHALLENGE) and challenge is not None
    if on_challenge:
        frame, challenger, what = challenge, shipped, f"the challenge set ({len(challenge)} texts)"
    else:
        if champion.trained_families is None:  # unknown: no held-out row is known to be unseen
            frame = data.holdout.iloc[:0]
        else:
            frame = data.holdout[~data.holdout["family"].astype(str).isin(champion.trained_families)]
        frame = frame.reset_index(drop=True)
        challenger = evaluated
        what = f"{len(frame)} held-out rows of {frame['family'].nunique()} families neither model trained on"
    return Ground(
        frame,
        predict(challenger, frame).score if len(frame) else np.array([]),
        predict(champion.pipeline, frame).score if len(frame) else np.array([]),
        float(challenger[-1].threshold_),
        float(champion.pipeline[-1].threshold_),
        what,
        on_challenge,
    )


def run_gate(
    rule: GateRule,
    data: TrainingData,
    evaluated: Pipeline,
    shipped: Pipeline,
    challenge: pd.DataFrame | None,
    say: Say,
    name: str = tracking.MODEL_NAME,
) -> tuple[GateDecision, Champion | None, Ground | None]:
    """Compare the challenger with the current champion on rows neither trained on."""
    champion = load_champion(say, name)
    if champion is None:
        return decide(None, rule), None, None
    if champion.pipeline is None:
        reason = f"champion version {champion.version} {champion.problem}: not compared, it stays"
        return GateDecision(False, reason), champion, None
    try:
        ground = gate_ground(rule, data, evaluated, shipped, champion, challenge)
    except Exception as exc:  # a champion that cannot score this data with this code cannot serve
        champion.problem = f"{type(exc).__name__}: {str(exc)[:200]}"
        say(f"warning: champion version {champion.version} cannot score with this code ({champion.problem})")
        reason = f"champion version {champion.version} is unusable ({champion.problem}); the challenger replaces it"
        return GateDecision(True, reason), champion, None
    if not len(ground) or ground.frame["label"].nunique() < 2:
        reason = f"champion stays: no rows of both classes that neither model trained on ({ground.what})"
        return GateDecision(False, reason), champion, ground
    return decide(ground, rule), champion, ground
