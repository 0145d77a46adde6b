"""The retraining loop as plain functions: expert decisions → labels → challenger → champion gate.

``classifier export-labels`` and ``classifier train --labels`` run the loop from the command line; these
functions are the same steps for a notebook: point tracking at a store, (for a demonstration) record
decisions from a generated batch's known labels, compare the challenger with the champion on the data
the gate compared them on, and read the gate's decision back from the registry. Nothing here promotes a
model: only :func:`classifier.modeling.train.train` (the gate) or ``classifier promote`` does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from classifier.common.config import Settings, load_settings
from classifier.modeling import tracking
from classifier.modeling.challenge import assess_on_challenge, load_challenge
from classifier.modeling.loading import load_trusted_model
from classifier.modeling.report import assess
from classifier.modeling.train import TrainResult
from classifier.modeling.training_data import DEMO_DIR, load_training_data
from classifier.queue import CATEGORIES, NEW, CaseStore, case_key

# the metrics shown side by side: the gate's metric and guard first, then the usual ones
COMPARED_METRICS = (
    "challenge.average_precision",  # the gate's metric and guard (evaluate section of params.yaml)
    "challenge.hard_negative_fpr",
    "challenge.recall",
    "challenge.ece",
    "average_precision",
    "hard_negative_fpr",
    "roc_auc",
    "precision",
    "recall",
    "f1",
    "false_positive_rate",
    "recall_at_k",
    "threshold",
    "brier",
    "ece",
)


def use_tracking_store(uri: str | None = None) -> str:
    """Point MLflow (and every later ``train`` run, which reads ``MLFLOW_TRACKING_URI``) at ``uri``.

    ``None`` keeps the project's default store (``MLFLOW_TRACKING_URI`` or the embedded ``mlflow.db``).
    Returns the URI in use.
    """
    if uri:
        os.environ["MLFLOW_TRACKING_URI"] = uri
    return tracking.configure(uri)


def loop_settings(real_negatives: str = "auto", fast: bool = False, base: Settings | None = None) -> Settings:
    """``params.yaml`` with ``train.real_negatives`` set, no drift logging while scoring, and with
    ``fast`` three cross-validation folds (a quick demonstration run)."""
    base = base or load_settings()
    settings = replace(
        base,
        train=replace(base.train, real_negatives=real_negatives),
        score=replace(base.score, log_to_mlflow=False),
    )
    if fast:
        settings = replace(settings, model=replace(settings.model, folds=3))
    return settings


def keep_lines(lines: list[str], echo: bool = True) -> Callable[[str], None]:
    """A ``say`` for :func:`classifier.modeling.train.train` that keeps every line in ``lines`` (and prints it)."""

    def say(line: str) -> None:
        lines.append(line)
        if echo:
            print(line)

    return say


def decide_from_known_labels(
    store: CaseStore, labels_csv: Path | str, expert: str = "notebook-demo", limit: int = 100_000
) -> pd.DataFrame:
    """FOR DEMONSTRATIONS ONLY: decide every new case as a generated corpus's ``labels.csv`` says.

    In real use decisions come from experts in the review app (``classifier review``); here the known
    label of a generated page stands in for an expert's verdict: 1 → ``confirmed`` (with the page's
    category), 0 → ``rejected``. Cases are matched by their canonical URL; cases already decided, or not
    in the table, are left alone. Returns one row per decision recorded.
    """
    known = pd.read_csv(labels_csv, dtype={"id": str}, keep_default_na=False)
    verdicts: dict[str, tuple[int, str]] = {}
    for row in known.itertuples(index=False):
        verdicts.setdefault(case_key(row.url, row.id), (int(row.label), str(row.category)))
    decided = []
    for case in store.cases(status=NEW, limit=limit):
        verdict = verdicts.get(case["case_key"])
        if verdict is None:
            continue
        label, category = verdict
        decision = "confirmed" if label else "rejected"
        store.record_decision(
            case["id"],
            decision,
            expert,
            "demonstration: the generated page's known label",
            category=category if label and category in CATEGORIES else None,
        )
        decided.append(
            {
                "case_id": case["id"],
                "url": case["url"],
                "score": case["score"],
                "flagged": bool(case["label"]),
                "decision": decision,
            }
        )
    return pd.DataFrame(decided, columns=["case_id", "url", "score", "flagged", "decision"])


def compare_versions(
    settings: Settings,
    versions: Mapping[str, str],
    *,
    labels: list[Path] | None = None,
    demo_dir: Path = DEMO_DIR,
    data: list[Path] | None = None,
    metrics: tuple[str, ...] = COMPARED_METRICS,
    pipelines: Mapping[str, Pipeline] | None = None,
) -> pd.DataFrame:
    """Registered model versions assessed on the same data: one column per ``{name: version}``.

    The ``challenge.*`` rows are the numbers the gate compared (data/challenge/, never trained on). The
    held-out data is rebuilt exactly as :func:`classifier.modeling.train.train` built it for the same settings,
    corpus and ``labels`` (a fixed family split); a shipped model has been refitted on those families
    too, so its held-out rows are for reference only (the logged held-out metrics are the evaluation fit's).
    Rows are ``metrics`` (missing ones are NaN), plus ``held_out_rows`` and ``held_out_expert_rows``.
    ``pipelines`` (``{version: fitted pipeline}``, e.g. from :class:`TrainResult`) spares loading those
    versions from the registry.
    """
    training = load_training_data(settings, data, lambda _: None, demo_dir, labels)
    challenge = load_challenge(settings)
    holdout = training.holdout
    expert_rows = int(holdout["source"].eq("expert").sum()) if "source" in holdout else 0
    columns = {}
    for name, version in versions.items():
        model = (pipelines or {}).get(str(version))
        if model is None:
            model = load_trusted_model(f"models:/{settings.train.registered_model}/{version}").pipeline
        measured = assess(model, holdout, settings, training.real_test).metrics
        measured |= assess_on_challenge(model, challenge)
        column = {metric: measured.get(metric, float("nan")) for metric in metrics}
        column["held_out_rows"] = len(holdout)
        column["held_out_expert_rows"] = expert_rows
        columns[f"{name} (v{version})"] = column
    return pd.DataFrame(columns)


def gate_outcome(
    result: TrainResult, champion_before: str | None, name: str = tracking.MODEL_NAME
) -> dict[str, Any]:
    """The gate's decision on a training run, next to what the registry (model ``name``) says now."""
    return {
        "challenger_version": result.version,
        "promoted": result.promoted,
        "gate_reason": result.gate_reason,
        "champion_before": champion_before,
        "champion_now": tracking.alias_version(tracking.CHAMPION, name),
        "challenger_alias": tracking.alias_version(tracking.CHALLENGER, name),
    }
