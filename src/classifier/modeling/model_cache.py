"""Registered model versions kept on local disk, so a run loads its model in ~0.1 s instead of ~2 s.

MLflow loads a registered version by copying its artifacts and rebuilding the pipeline with skops
(importing skops alone costs ~0.8 s a process). A version's artifacts do not change, so its first load
writes the pipeline here with joblib, and later loads read that file. joblib runs code on load, as
pickle does, so a cached file is read only when neither it nor its folder is writable by other users
and its SHA-256 is the one recorded when it was written; otherwise the version loads from MLflow again.

Entries are keyed by the tracking URI, the model's name and version, and the version's run and creation
time: a registered model deleted and created again reuses version numbers. The newest ``KEEP`` entries
stay.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import joblib

from classifier.modeling.model_trust import file_sha256, writable_by_all

log = logging.getLogger(__name__)

KEEP = 5
_MODEL = "model.joblib"
_ENTRY = "entry.json"


def entry_folder(cache_dir: Path, identity: dict[str, str]) -> Path:
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]
    return cache_dir / key


def load_cached(cache_dir: Path, identity: dict[str, str]) -> Any | None:
    """The cached pipeline of this version, or None when there is none that can be trusted."""
    folder = entry_folder(cache_dir, identity)
    model, entry = folder / _MODEL, folder / _ENTRY
    if not model.exists() or not entry.exists():
        return None
    problem = _untrusted(folder, model, entry, identity)
    if problem:
        log.warning("not using the cached model in %s: %s; loading it from MLflow", folder, problem)
        return None
    os.utime(folder)  # recently used: kept when older entries are pruned
    return joblib.load(model)


def store(cache_dir: Path, identity: dict[str, str], pipeline: Any) -> None:
    """Cache ``pipeline`` for this version (written whole or not at all); a failure is only a warning."""
    folder = entry_folder(cache_dir, identity)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".entry-", dir=cache_dir))
    except OSError as exc:
        log.warning("could not cache the model in %s: %s", cache_dir, exc)
        return
    try:
        joblib.dump(pipeline, staging / _MODEL)
        entry = {"identity": identity, "model_sha256": file_sha256(staging / _MODEL)}
        (staging / _ENTRY).write_text(json.dumps(entry, indent=1), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)  # an entry that could not be trusted
        staging.rename(folder)
    except OSError as exc:  # another process may have cached the same version meanwhile
        log.warning("could not cache the model in %s: %s", folder, exc)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _prune(cache_dir)


def _untrusted(folder: Path, model: Path, entry_path: Path, identity: dict[str, str]) -> str | None:
    writable = writable_by_all(folder, model, entry_path)
    if writable is not None:
        return f"{writable} is writable by every user"
    try:
        entry = json.loads(entry_path.read_text(encoding="utf-8"))
    except ValueError:
        return "its record is unreadable"
    if entry.get("identity") != identity:
        return "it records another model version"
    if file_sha256(model) != entry.get("model_sha256"):
        return "its SHA-256 differs from the one recorded when it was cached"
    return None


def _prune(cache_dir: Path) -> None:
    entries = sorted(
        (p for p in cache_dir.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for stale in entries[KEEP:]:
        shutil.rmtree(stale, ignore_errors=True)
