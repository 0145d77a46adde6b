"""Training: fit on the training families, choose the threshold, assess on held-out families and the
challenge set, refit on everything as shipped, and hand the model to tracking (registry, champion
gate) and to ``models/`` (export with model card).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from classifier.common.config import DEFAULT_PARAMS, MODELS_DIR, Settings
from classifier.modeling import tracking
from classifier.modeling.challenge import assess_on_challenge, load_challenge
from classifier.modeling.champion import gate_rule, run_gate
from classifier.modeling.evaluate import choose_threshold
from classifier.modeling.gate import GateDecision, Ground
from classifier.modeling.model import build_pipeline, fit_pipeline
from classifier.modeling.model_card import write_model_card
from classifier.modeling.model_trust import file_sha256
from classifier.modeling.report import assess, write_report
from classifier.modeling.training_data import (
    DEMO_DIR,
    Say,
    TrainingData,
    data_manifest,
    load_training_data,
    row_weights,
)


@dataclass
class TrainResult:
    pipeline: Pipeline
    metrics: dict[str, float]
    version: str | None
    promoted: bool
    gate_reason: str
    report_dir: Path
    seconds: float
    gate: GateDecision | None = None
    ground: Ground | None = None  # the rows the gate compared both models on


def fit_model(train: pd.DataFrame, settings: Settings) -> Pipeline:
    """Fit the pipeline and set its threshold on out-of-fold scores (families never straddle folds)."""
    pipeline = build_pipeline(settings.model)
    weight = row_weights(train, settings)
    fit_pipeline(
        pipeline,
        train,
        train["label"],
        groups=train["family"],
        categories=train["category"],
        sample_weight=weight,
    )
    head = pipeline[-1]
    # Triage: experts open what is flagged, and a missed shop costs more than a harmless page opened.
    # Out-of-fold scores are of families each fold did not see: held-out data for the threshold.
    head.threshold_ = choose_threshold(
        train["label"], head.oof_scores_, target_recall=settings.train.target_recall
    )
    # the training score distribution that scoring runs are compared with (drift): the final model's
    # scores of the corpus pages, not of the thousands of short real texts that only steady the negatives
    corpus = train[~train["layout"].eq("real")]
    head.reference_scores_ = np.round(pipeline.predict_proba(corpus)[:, 1], 4)
    return pipeline


def shipped_model(evaluated: Pipeline, data: TrainingData, settings: Settings, say: Say) -> Pipeline:
    """The model to ship: refitted on every family and every disguise once the evaluation fit is assessed.

    The evaluation fit leaves out the held-out families and the robustness disguises so that they can
    measure it; the shipped model must not be handicapped by that. The held-out metrics are the
    evaluation fit's; the challenge set (never trained on) measures the shipped model itself.
    """
    if not settings.train.ship_full_fit or data.full is None or len(data.full) == len(data.train):
        return evaluated
    started = time.perf_counter()
    pipeline = fit_model(data.full, settings)
    say(
        f"shipped model refitted on all {len(data.full)} rows in {time.perf_counter() - started:.0f}s; "
        f"threshold {pipeline[-1].threshold_:.3f}"
    )
    return pipeline


def train(
    settings: Settings,
    data: list[Path] | None = None,
    *,
    params_path: Path = DEFAULT_PARAMS,
    export_dir: Path | None = None,
    demo_dir: Path = DEMO_DIR,
    say: Say = print,
    labels: list[Path] | None = None,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
) -> TrainResult:
    """The whole training run, logged to MLflow; returns the model, its metrics and the gate's decision.

    ``labels``: tables of expert decisions (``classifier export-labels``) added to the training data;
    ``run_name`` and ``tags`` name and tag the MLflow run. The experiment and the registered model
    are ``train.experiment`` and ``train.registered_model``; a promoted model is exported to
    ``export_dir`` (default ``models/<registered model>``).
    """
    name = settings.train.registered_model
    started = time.perf_counter()
    training = load_training_data(settings, data, say, demo_dir, labels)
    evaluated = fit_model(training.train, settings)
    say(f"fitted in {time.perf_counter() - started:.0f}s; threshold {evaluated[-1].threshold_:.3f}")
    assessment = assess(evaluated, training.holdout, settings, training.real_test)
    pipeline = shipped_model(evaluated, training, settings, say)
    challenge = load_challenge(settings)
    metrics = {**assessment.metrics, **assess_on_challenge(pipeline, challenge)}
    metrics["threshold.shipped"] = float(pipeline[-1].threshold_)
    metrics["train_seconds"] = time.perf_counter() - started
    report_dir = Path(tempfile.mkdtemp(prefix="classifier-train-"))
    write_report(evaluated, assessment, report_dir, settings)
    rule = gate_rule(settings, challenge)
    tracking.configure()
    with tracking.training_run(settings.train.experiment, run_name=run_name, tags=tags):
        tracking.log_params(asdict(settings))
        tracking.log_dict(asdict(settings), "settings.json")  # what `classifier promote` writes the card from
        tracking.log_metrics(metrics)
        tracking.log_artifacts(report_dir, "evaluation")
        if params_path.exists():
            tracking.log_artifact(params_path)
        manifest = data_manifest(training, pipeline is not evaluated)
        tracking.log_dict(manifest, "data_manifest.json")
        example = training.holdout[["title", "description", "text"]].head(5)
        version = tracking.log_model(pipeline, example, registered_name=name)
        tracking.set_alias(tracking.CHALLENGER, version, name)
        decision, champion, ground = run_gate(rule, training, evaluated, pipeline, challenge, say, name)
        tracking.log_metrics(decision.metrics(rule))
        gate_tags = {
            "gate.reason": decision.reason,
            "gate.champion_version": champion.version if champion else "none",
        }
        if ground is not None:
            gate_tags["gate.ground"] = ground.what
        tracking.set_run_tags(gate_tags)
    tracking.record_gate(
        version, promoted=decision.promote, reason=decision.reason, tags=gate_tags, name=name
    )
    if decision.promote:
        tracking.record_promotion(version, by="gate", reason=decision.reason, name=name)
        export_model(pipeline, metrics, manifest, settings, version, export_dir or MODELS_DIR / name)
    say(
        f"model version {version}: {'champion' if decision.promote else 'challenger'} ({decision.reason})"
        + (f"; champion stays version {champion.version}" if champion and not decision.promote else "")
    )
    return TrainResult(
        pipeline,
        metrics,
        version,
        decision.promote,
        decision.reason,
        report_dir,
        time.perf_counter() - started,
        decision,
        ground,
    )


def export_model(
    pipeline: Pipeline,
    metrics: dict[str, float],
    manifest: dict[str, Any],
    settings: Settings,
    version: str | None,
    folder: Path,
) -> Path:
    """``models/drug-ad-classifier/``: the pipeline (joblib) and its model card, for scoring offline."""
    from classifier.modeling.model import save_model

    model_file = save_model(pipeline, folder)
    write_model_card(
        folder,
        model_sha256=file_sha256(model_file),  # checked on load (model_trust): a swapped file is refused
        metrics=metrics,
        manifest=manifest,
        settings=settings,
        version=version,
        threshold=float(pipeline[-1].threshold_),
    )
    (folder / "metrics.json").write_text(
        json.dumps({k: v for k, v in metrics.items() if np.isfinite(v)}, indent=2, sort_keys=True) + "\n"
    )
    return folder
