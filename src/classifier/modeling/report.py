"""Assess a fitted model on labelled documents: predictions, metrics, slices, plots, error analysis.

Used by training (on held-out families) and by ``classifier evaluate`` (on any labelled data), so
both report the same numbers the same way.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from classifier.common.config import Settings
from classifier.corpus.obfuscate import obfuscate
from classifier.modeling.evaluate import (
    binary_metrics,
    error_analysis,
    hard_negative_fpr,
    plot_all,
    slice_metrics,
)
from classifier.modeling.explanations import explain
from classifier.modeling.loading import load_trusted_model
from classifier.modeling.model import predict

SLICES = ("lang_slice", "category", "layout", "kind")
PREDICTION_COLUMNS = ("id", "url", "label", "score", "predicted", "category", "category_probability")


@dataclass
class Assessment:
    metrics: dict[str, float]
    predictions: pd.DataFrame


def score_frame(pipeline: Pipeline, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with ``score``, ``predicted``, ``predicted_category`` and its probability."""
    result = predict(pipeline, frame)
    return frame.assign(
        score=result.score,
        predicted=result.label,
        predicted_category=result.category,
        category_probability=result.category_probability,
    )


def assess(
    pipeline: Pipeline,
    holdout: pd.DataFrame,
    settings: Settings,
    real_test: pd.DataFrame | None = None,
    rng_seed: int = 0,
) -> Assessment:
    """Metrics of ``pipeline`` on held-out documents (and on real negatives when given)."""
    threshold = float(pipeline[-1].threshold_)
    scored = score_frame(pipeline, holdout)
    scored["lang_slice"] = scored["lang_written"] if "lang_written" in scored else scored["lang"]
    y, s = scored["label"].to_numpy(), scored["score"].to_numpy()
    metrics = binary_metrics(y, s, threshold, k=settings.evaluate.expert_capacity)
    for column in SLICES:
        if column in scored and scored[column].nunique() > 1:
            metrics.update(slice_metrics(scored, column, threshold, prefix=column.removesuffix("_slice")))
    metrics["hard_negative_fpr"] = hard_negative_fpr(scored, scored["score"], threshold)
    metrics.update(_category_accuracy(scored))
    metrics.update(robustness(pipeline, scored, settings, rng_seed))
    if real_test is not None and len(real_test):
        metrics.update(real_negative_metrics(pipeline, real_test, threshold))
    return Assessment(metrics, scored)


def _category_accuracy(scored: pd.DataFrame) -> dict[str, float]:
    positives = scored[
        (scored["label"] == 1) & scored["category"].isin(["sale", "recruitment", "propaganda"])
    ]
    if positives.empty:
        return {}
    return {"category_accuracy": float((positives["predicted_category"] == positives["category"]).mean())}


def robustness(pipeline: Pipeline, scored: pd.DataFrame, settings: Settings, seed: int) -> dict[str, float]:
    """Recall on held-out positives after disguises the model did not see in training."""
    kinds = list(settings.train.robustness_kinds)
    positives = scored[scored["label"] == 1]
    if not kinds or positives.empty:
        return {}
    rng = random.Random(seed)
    disguised = positives.assign(
        text=[obfuscate(t, rng, kinds) for t in positives["text"]],
        title=[obfuscate(t or "", rng, kinds) for t in positives["title"]],
    )
    score = predict(pipeline, disguised).score
    threshold = float(pipeline[-1].threshold_)
    return {
        "robustness_recall": float((score >= threshold).mean()),
        "robustness_clean_recall": float((positives["score"] >= threshold).mean()),
    }


def real_negative_metrics(pipeline: Pipeline, real: pd.DataFrame, threshold: float) -> dict[str, float]:
    """False alarms on real texts: overall and on the ones about drugs."""
    score = predict(pipeline, real).score
    flagged = score >= threshold
    drug = real["drug_topic"].to_numpy(dtype=bool)
    metrics = {"real_fpr": float(flagged.mean()), "real_rows": float(len(real))}
    if drug.any():
        metrics["real_drug_topic_fpr"] = float(flagged[drug].mean())
        metrics["real_drug_topic_rows"] = float(drug.sum())
    for source, rows in real.groupby("source"):
        name = str(source).split("/")[-1].replace("-", "_")
        metrics[f"real_fpr.{name}"] = float(flagged[rows.index.to_numpy()].mean())
    return metrics


def write_report(pipeline: Pipeline, assessment: Assessment, out_dir: Path, settings: Settings) -> list[Path]:
    """metrics.json, predictions.csv, the plots and error_analysis.csv (with evidence) in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scored = assessment.predictions
    threshold = float(pipeline[-1].threshold_)
    metrics_path = out_dir / "metrics.json"
    metrics_path.write_text(json.dumps(_jsonable(assessment.metrics), indent=2, sort_keys=True) + "\n")
    predictions = scored.assign(category=scored["predicted_category"])[list(PREDICTION_COLUMNS)]
    predictions_path = out_dir / "predictions.csv"
    predictions.to_csv(predictions_path, index=False)
    plots = plot_all(scored["label"].to_numpy(), scored["score"].to_numpy(), threshold, out_dir)
    errors = error_analysis(
        scored[["id", "url", "label", "score", "family", "title", "text"]],
        threshold,
        n=settings.train.error_analysis_n,
    )
    evidence = explain(pipeline, errors, top_k=settings.train.explain_top_k) if len(errors) else []
    errors = errors.assign(
        evidence=[json.dumps([e.as_dict() for e in ev], ensure_ascii=False) for ev in evidence],
        text=errors["text"].str.slice(0, 500),
    )
    errors_path = out_dir / "error_analysis.csv"
    errors.to_csv(errors_path, index=False)
    return [metrics_path, predictions_path, errors_path, *plots]


def _jsonable(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in metrics.items()}


def labelled_documents(paths: list[Path], settings: Settings) -> pd.DataFrame:
    """Labelled tables, or demo corpus folders (with ``pages.warc.gz`` and ``labels.csv``)."""
    from classifier.modeling.datasets import demo_dataset, labelled_table

    frames = [demo_dataset(p, settings) if p.is_dir() else labelled_table(p, settings) for p in paths]
    return pd.concat(frames, ignore_index=True)


def training_families(reference: str) -> set[str] | None:
    """The families a model learned from (its data manifest), or None when it does not list them."""
    from classifier.modeling import tracking

    path = Path(reference)
    if path.exists():
        card = (path if path.is_dir() else path.parent) / "model_card.json"
        try:
            families = json.loads(card.read_text(encoding="utf-8"))["data"].get("trained_families")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
    else:
        name, version = tracking.resolve_model_uri(reference)
        families = tracking.version_manifest(version, name).get("trained_families") if name else None
    return set(families) if families is not None else None


def _overlap(documents: pd.DataFrame, trained: set[str] | None, say) -> dict[str, float]:
    """Rows whose family (duplicate group, for expert rows) the model trained on: optimistic metrics."""
    if trained is None:
        say("note: the model lists no training families; how much of this data it saw is unknown")
        return {}
    seen = documents["family"].astype(str).isin(trained)
    if seen.any():
        families = documents.loc[seen, "family"].nunique()
        say(
            f"warning: {int(seen.sum())} of {len(documents)} rows ({families} families) come from families "
            "the model trained on: metrics on them are optimistic"
        )
    return {"rows_from_training_families": float(seen.sum())}


def evaluate_model(
    reference: str, paths: list[Path], out_dir: Path, settings: Settings, say=print
) -> dict[str, float]:
    """`classifier evaluate`: metrics, predictions and plots of a model on labelled data, and its metrics
    on the challenge set (``challenge.``), logged as a run of the MLflow experiment ``evaluation``."""
    from classifier.modeling import tracking
    from classifier.modeling.challenge import assess_on_challenge, load_challenge
    from classifier.modeling.datasets import real_negatives

    pipeline = load_trusted_model(reference, settings.score).pipeline
    documents = labelled_documents(paths, settings)
    real_test = real_negatives("test") if settings.train.real_negatives != "never" else None
    assessment = assess(pipeline, documents, settings, real_test)
    assessment.metrics.update(assess_on_challenge(pipeline, load_challenge(settings)))
    assessment.metrics.update(_overlap(documents, training_families(reference), say))
    write_report(pipeline, assessment, out_dir, settings)
    tracking.configure()
    with tracking.training_run("evaluation", tags={"model": reference}):
        tracking.log_params({"model": reference, "data": [str(p) for p in paths]})
        tracking.log_metrics(assessment.metrics)
        tracking.log_artifacts(out_dir, "evaluation")
        tracking.log_dict({"files": _data_hashes(paths), "rows": len(documents)}, "data_manifest.json")
    return assessment.metrics


def _data_hashes(paths: list[Path]) -> dict[str, str]:
    """SHA-256 of every input file (of a corpus folder: its WARC and labels)."""
    from classifier.modeling.model_trust import file_sha256

    files = [f for p in paths for f in (sorted(p.glob("*.*")) if p.is_dir() else [p]) if f.is_file()]
    return {
        str(f): file_sha256(f) for f in files if f.suffix in (".gz", ".csv", ".jsonl", ".parquet", ".json")
    }
