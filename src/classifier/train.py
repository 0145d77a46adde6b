"""Training: load labelled data, hold out whole families, fit, choose the threshold, assess, and
hand the model to tracking (registry, champion gate) and to ``models/`` (export with model card).
"""

from __future__ import annotations

import hashlib
import json
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from classifier import tracking
from classifier.challenge import assess_on_challenge, load_challenge
from classifier.config import DATA_DIR, DEFAULT_PARAMS, MODELS_DIR, SHARED_REAL_DATA, Settings
from classifier.datasets import demo_dataset, labelled_table, real_negatives
from classifier.evaluate import GateRule, choose_threshold, passes_gate
from classifier.model import build_pipeline, fit_pipeline
from classifier.model_card import write_model_card
from classifier.report import assess, write_report

DEMO_DIR = DATA_DIR / "demo"
EXPORT_DIR = MODELS_DIR / tracking.MODEL_NAME
Say = Callable[[str], None]


@dataclass
class TrainingData:
    train: pd.DataFrame  # the evaluation fit's rows: no held-out family, no robustness disguise
    holdout: pd.DataFrame
    real_test: pd.DataFrame | None
    sources: list[str] = field(default_factory=list)
    full: pd.DataFrame | None = None  # every row: what the shipped model learns from once assessed


@dataclass
class TrainResult:
    pipeline: Pipeline
    metrics: dict[str, float]
    version: str | None
    promoted: bool
    gate_reason: str
    report_dir: Path
    seconds: float


def _cell(frame: pd.DataFrame) -> pd.Series:
    group = np.where(
        frame["label"] == 1, frame["category"], np.where(frame["hard_negative"], "hard", "ordinary")
    )
    lang = frame["lang_written"] if "lang_written" in frame else frame["lang"]
    return pd.Series(group, index=frame.index).astype(str) + "/" + lang.astype(str)


def split_families(frame: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out about ``share`` of the families of every (label, category, language) cell."""
    rng = random.Random(seed)
    families = frame.assign(cell=_cell(frame)).groupby("family")["cell"].agg(lambda c: c.mode().iloc[0])
    held: set[str] = set()
    for _, names in sorted(families.groupby(families).groups.items()):
        names = sorted(names)
        if len(names) >= 2:
            held.update(rng.sample(names, max(1, round(len(names) * share))))
    mask = frame["family"].isin(held)
    return frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)


def load_training_data(
    settings: Settings,
    data: list[Path] | None,
    say: Say,
    demo_dir: Path = DEMO_DIR,
    labels: list[Path] | None = None,
) -> TrainingData:
    """The demo corpus (default) or labelled tables, plus expert decisions (``labels``), family-split,
    plus real negatives when present."""
    if data:
        frames = [labelled_table(p, settings) for p in data]
        sources = [str(p) for p in data]
    else:
        frames = [demo_dataset(demo_dir, settings)]
        sources = [str(demo_dir / "pages.warc.gz")]
    for path in labels or []:
        expert = labelled_table(path, settings)
        expert["layout"] = expert["layout"].replace("", "expert")
        frames.append(expert)
        sources.append(str(path))
        say(f"expert decisions: {len(expert)} rows ({int(expert['label'].sum())} violations) from {path}")
    labelled = pd.concat(frames, ignore_index=True)
    if "lang_written" in labelled:  # the language a row was written in; tables only know the detected one
        labelled["lang_written"] = labelled["lang_written"].fillna(labelled["lang"])
    train, holdout = split_families(labelled, settings.train.holdout_share, settings.train.seed)
    full = pd.concat([train, holdout], ignore_index=True)
    train = _without_unseen_disguises(train, settings.train.robustness_kinds)
    say(
        f"labelled documents: {len(labelled)} ({labelled['family'].nunique()} families); "
        f"train {len(train)}, held-out families {len(holdout)}"
    )
    real_test = None
    if _use_real(settings):
        real_dev = real_negatives("dev", settings.train.real_negatives_max, settings.train.seed)
        real_test = real_negatives("test")
        if real_dev is not None:
            train = pd.concat([train, real_dev], ignore_index=True)
            full = pd.concat([full, real_dev], ignore_index=True)
            sources.append("../shared/data/real (split == dev)")
            say(
                f"real negatives: {len(real_dev)} dev rows in training, {len(real_test)} test rows for reporting"
            )
    return TrainingData(train, holdout, real_test, sources, full)


def _use_real(settings: Settings) -> bool:
    mode = settings.train.real_negatives
    if mode not in ("auto", "always", "never"):
        raise ValueError(f"train.real_negatives must be auto, always or never, not {mode!r}")
    present = SHARED_REAL_DATA.is_dir()
    if mode == "always" and not present:
        raise FileNotFoundError("train.real_negatives is 'always' but ../shared/data/real is missing")
    return mode == "always" or (mode == "auto" and present)


def _without_unseen_disguises(train: pd.DataFrame, kinds: tuple[str, ...]) -> pd.DataFrame:
    """Drop training pages disguised with the kinds kept for the robustness test."""
    if not kinds or "obfuscations" not in train:
        return train
    used = train["obfuscations"].fillna("").astype(str).str.split("+")
    return train[~used.map(lambda k: bool(set(k) & set(kinds)))].reset_index(drop=True)


def row_weights(frame: pd.DataFrame, settings: Settings) -> np.ndarray:
    """Per-row training weights: real negatives light, expert decisions heavy, corpus pages 1."""
    weight = np.where(frame["layout"].eq("real"), settings.train.real_negative_weight, 1.0)
    if "source" in frame:
        weight = np.where(frame["source"].eq("expert"), settings.train.expert_weight, weight)
    return weight


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


def data_manifest(data: TrainingData) -> dict[str, Any]:
    """What the model was trained and assessed on: files with content hashes, and row counts."""
    files = {}
    for source in data.sources:
        path = Path(source)
        if path.is_file():
            files[source] = hashlib.sha256(path.read_bytes()).hexdigest()
    counts = {
        name: {
            "rows": len(frame),
            "positives": int(frame["label"].sum()),
            "families": int(frame["family"].nunique()),
        }
        for name, frame in (("train", data.train), ("holdout", data.holdout), ("real_test", data.real_test))
        if frame is not None
    }
    return {
        "files": files,
        "sources": data.sources,
        "counts": counts,
        "holdout_families": sorted(data.holdout["family"].unique().tolist()),
    }


def gate(settings: Settings, metrics: dict[str, float] | None = None) -> GateRule:
    """The champion gate of params. Without a challenge set, its challenge.* metrics fall back to the
    held-out ones (the same name without the prefix)."""
    ev = settings.evaluate

    def measured(name: str) -> str:
        if metrics is None or name in metrics or not name.startswith("challenge."):
            return name
        return name.removeprefix("challenge.")

    guards = {measured(name): rise for name, rise in ev.gate_guards.items()}
    return GateRule(metric=measured(ev.gate_metric), max_drop=ev.gate_max_drop, guards=guards)


def champion_metrics(
    data: TrainingData, settings: Settings, say: Say
) -> tuple[str | None, dict[str, float] | None, str]:
    """The current champion re-assessed on this run's evaluation data, so the comparison is fair.

    Returns (version, metrics, problem). A champion that cannot be loaded (the store may be briefly
    unreachable) is compared through its logged metrics; one that loads but cannot score this data with
    this code is unusable (every scoring run would fail), so it has no metrics to defend.
    """
    version = tracking.alias_version(tracking.CHAMPION)
    if version is None:
        return None, None, ""
    try:
        champion = tracking.load_model(tracking.model_uri(tracking.CHAMPION))
    except Exception as exc:
        say(
            f"warning: champion version {version} could not be loaded ({exc}); comparing with its logged metrics"
        )
        return version, tracking.version_metrics(version), ""
    try:
        metrics = assess(champion, data.holdout, settings, data.real_test).metrics
        return version, {**metrics, **assess_on_challenge(champion, load_challenge(settings))}, ""
    except Exception as exc:  # any failure to score means the champion cannot serve
        return version, None, f"{type(exc).__name__}: {str(exc)[:200]}"


def train(
    settings: Settings,
    data: list[Path] | None = None,
    *,
    params_path: Path = DEFAULT_PARAMS,
    export_dir: Path = EXPORT_DIR,
    demo_dir: Path = DEMO_DIR,
    say: Say = print,
    labels: list[Path] | None = None,
) -> TrainResult:
    """The whole training run, logged to MLflow; returns the model, its metrics and the gate's decision.

    ``labels``: tables of expert decisions (``classifier export-labels``) added to the training data.
    """
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
    tracking.configure()
    with tracking.training_run("training"):
        tracking.log_params(asdict(settings))
        tracking.log_metrics(metrics)
        tracking.log_artifacts(report_dir, "evaluation")
        if params_path.exists():
            tracking.log_artifact(params_path)
        manifest = data_manifest(training)
        tracking.log_dict(manifest, "data_manifest.json")
        version = tracking.log_model(pipeline, training.holdout[["title", "description", "text"]].head(5))
    tracking.set_alias(tracking.CHALLENGER, version)
    champion_version, champion, problem = champion_metrics(training, settings, say)
    promoted, reason = passes_gate(metrics, champion, gate(settings, metrics))
    if problem:
        say(f"warning: champion version {champion_version} cannot score with this code ({problem})")
        reason = f"champion version {champion_version} is unusable ({problem}); {reason}"
    if promoted:
        tracking.record_promotion(version, by="gate", reason=reason)
        export_model(pipeline, metrics, manifest, settings, version, export_dir)
    say(
        f"model version {version}: {'champion' if promoted else 'challenger'} ({reason})"
        + (f"; champion stays version {champion_version}" if not promoted else "")
    )
    return TrainResult(
        pipeline, metrics, version, promoted, reason, report_dir, time.perf_counter() - started
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
    from classifier.model import save_model
    from classifier.model_trust import file_sha256

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
