"""Training: load labelled data, hold out whole families, fit, choose the threshold, assess, and
hand the model to tracking (registry, champion gate) and to ``models/`` (export with model card).
"""

from __future__ import annotations

import hashlib
import json
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
from classifier.challenge import CHALLENGE_SET, assess_on_challenge, load_challenge
from classifier.config import DATA_DIR, DEFAULT_PARAMS, MODELS_DIR, SHARED_REAL_DATA, Settings
from classifier.datasets import demo_dataset, labelled_table, real_negatives
from classifier.evaluate import choose_threshold
from classifier.gate import CHALLENGE, GateDecision, GateRule, Ground, decide
from classifier.model import build_pipeline, fit_pipeline, predict
from classifier.model_card import write_model_card
from classifier.model_trust import file_sha256
from classifier.report import assess, write_report

DEMO_DIR = DATA_DIR / "demo"
Say = Callable[[str], None]


@dataclass
class TrainingData:
    train: pd.DataFrame  # the evaluation fit's rows: no held-out family, no robustness disguise
    holdout: pd.DataFrame
    real_test: pd.DataFrame | None
    sources: list[str] = field(default_factory=list)
    full: pd.DataFrame | None = None  # every row: what the shipped model learns from once assessed
    input_files: list[Path] = field(default_factory=list)  # every file read: hashed in the manifest


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


def held_out(family: str, share: float, seed: int) -> bool:
    """Whether a family is held out: a stable hash of its name, the same in every run.

    Re-drawing the hold-out from each run's data would move families the champion trained on into
    the new hold-out as soon as data is added (the champion gate would then favour it).
    """
    digest = hashlib.sha256(f"{seed}:{family}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def split_families(frame: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out about ``share`` of the families, each by its name alone (``held_out``)."""
    names = frame["family"].astype(str)
    held = {name for name in names.unique() if held_out(name, share, seed)}
    mask = names.isin(held)
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
        files = [Path(p) for p in data]
    else:
        frames = [demo_dataset(demo_dir, settings)]
        sources = [str(demo_dir / "pages.warc.gz")]
        files = [demo_dir / "pages.warc.gz", demo_dir / "labels.csv"]
    files += [Path(p) for p in labels or []]
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
            files += sorted(SHARED_REAL_DATA.glob("*.jsonl.gz"))
            say(
                f"real negatives: {len(real_dev)} dev rows in training, {len(real_test)} test rows for reporting"
            )
    return TrainingData(train, holdout, real_test, sources, full, [f for f in files if f.is_file()])


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


def data_manifest(data: TrainingData, full_fit: bool) -> dict[str, Any]:
    """What the model was trained and assessed on: files with content hashes, row counts, and the
    families the shipped model learned from (the next champion gate compares only on others)."""
    inputs = [*data.input_files, *([CHALLENGE_SET] if CHALLENGE_SET.is_file() else [])]
    files = {str(path): file_sha256(path) for path in inputs}  # labels, real texts, expert tables too
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
        "trained_families": sorted(
            (data.full if full_fit and data.full is not None else data.train)
            .loc[lambda f: ~f["layout"].eq("real"), "family"]
            .astype(str)
            .unique()
            .tolist()
        ),
    }


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
        pipeline = tracking.load_model(tracking.model_uri(tracking.CHAMPION, name))
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
    from classifier.model import save_model

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
