"""What makes two scoring commands the same run: its inputs as they are now, the queue file, the model
version, the case store and the settings that change what rows say. A killed run resumes only when
all of these are unchanged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from classifier.common.config import Settings
from classifier.modeling.loading import LoadedModel


# -- run identity and resumption ---------------------------------------------------------------
def _input_fingerprint(inputs: list[str]) -> list[Any]:
    """What the inputs are now: a changed file makes a new run instead of resuming a stale one."""
    found: list[Any] = []
    for item in inputs:
        path = Path(item).resolve()
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            stat = file.stat() if file.exists() else None
            found.append([str(file), stat.st_size if stat else None, stat.st_mtime_ns if stat else None])
    return found


# settings that change how fast or where a run works, not what its rows say: a run resumed with another
# --jobs or chunk size is the same run
_NOT_IN_ROWS = {"extract": ("n_jobs", "batch_size", "cache"), "score": ("chunk_size", "log_to_mlflow", "db")}


def _row_settings(settings: Settings) -> dict[str, Any]:
    sections = {name: asdict(getattr(settings, name)) for name in ("ingest", "extract", "normalize", "score")}
    for name, keys in _NOT_IN_ROWS.items():
        for key in keys:
            sections[name].pop(key)
    return sections


def run_key(
    inputs: list[str], out: Path, model: LoadedModel, db_url: str, settings: Settings, engine: str = "local"
) -> str:
    """The same command on the same inputs and model gives the same key, and so the same checkpoint.

    The engine is part of it (with the Dask engine, the partition size): a local run commits records, a
    Dask run partitions, so no run resumes a checkpoint counted another way.
    """
    identity = {
        "engine": engine,
        "inputs": _input_fingerprint(inputs),
        "out": str(out.resolve()),
        "model": [model.name, model.version, model.reference],
        "db": db_url,
        "settings": {
            name: asdict(getattr(settings, name)) for name in ("ingest", "extract", "normalize", "score")
        },
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:24]
