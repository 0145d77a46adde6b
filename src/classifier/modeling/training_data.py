"""The rows a model learns from and is judged on: the demo corpus, expert tables and real negatives,
with whole families held out by a stable hash of their name, the row weights, and the manifest that
says what a run trained on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from classifier.common.config import DEMO_DIR, SHARED_REAL_DATA, Settings
from classifier.corpus.written import is_written
from classifier.modeling.challenge import CHALLENGE_SET
from classifier.modeling.datasets import demo_dataset, labelled_table, real_negatives
from classifier.modeling.model_trust import file_sha256

Say = Callable[[str], None]  # where progress messages go (print, a notebook, a list in tests)


@dataclass
class TrainingData:
    train: pd.DataFrame  # the evaluation fit's rows: no held-out family, no robustness disguise
    holdout: pd.DataFrame
    real_test: pd.DataFrame | None
    sources: list[str] = field(default_factory=list)
    full: pd.DataFrame | None = None  # every row: what the shipped model learns from once assessed
    input_files: list[Path] = field(default_factory=list)  # every file read: hashed in the manifest


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
    """Per-row training weights: real negatives light, expert decisions heavy, the demo corpus's template
    pages ``template_weight``, other pages 1."""
    weight = np.where(frame["layout"].eq("real"), settings.train.real_negative_weight, 1.0)
    if "source" in frame and "family" in frame:
        template = frame["source"].eq("demo") & ~is_written(frame["family"])
        weight = np.where(template, settings.train.template_weight, weight)
    if "source" in frame:
        weight = np.where(frame["source"].eq("expert"), settings.train.expert_weight, weight)
    return weight


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
