"""Which models this project agrees to load, and why it refuses the others.

A model here is a scikit-learn pipeline saved with joblib (an exported folder) or logged to MLflow.
joblib, like pickle underneath it, rebuilds objects by calling whatever functions the file names: a
crafted ``model.joblib`` runs any code it likes, with the scorer's rights, the moment it is loaded.
So a model is loaded only from a place an operator controls:

* a folder under one of ``score.trusted_model_dirs`` (default ``models/``, where ``classifier train``
  and ``classifier promote`` export), or one listed in ``CLASSIFIER_TRUSTED_MODEL_DIRS``; symbolic
  links are followed first, so a link in ``models/`` to elsewhere does not count as ``models/``;
* the configured MLflow registry: ``models:/name@alias``, ``models:/name/3`` and ``runs:/`` URIs.

Anything else (a path elsewhere, ``file://``, ``http(s)://``, ``s3://``, …) is refused unless the
operator passes ``--allow-untrusted-model``. A trusted file that other users may write is refused
too, and an exported folder whose model card records a SHA-256 must match it (a swapped file).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from classifier.common.config import PROJECT_ROOT, ScoreSettings

log = logging.getLogger(__name__)

TRUSTED_DIRS_ENV = "CLASSIFIER_TRUSTED_MODEL_DIRS"
REGISTRY_PREFIXES = ("models:/", "runs:/")
MODEL_FILE = "model.joblib"
CHECKSUM_FIELD = "model_sha256"
_HINT = "pass --allow-untrusted-model only if you know where the file comes from"


class UntrustedModelError(PermissionError):
    """A model from a place this project does not load from without being told to."""


def trusted_dirs(settings: ScoreSettings) -> list[Path]:
    """The folders models may load from: the settings' (relative to the project) and the variable's."""
    extra = [d for d in os.environ.get(TRUSTED_DIRS_ENV, "").split(os.pathsep) if d.strip()]
    return [(PROJECT_ROOT / d).resolve() for d in (*settings.trusted_model_dirs, *extra)]


def check_model_reference(reference: str, settings: ScoreSettings) -> None:
    """Raise UntrustedModelError unless ``reference`` may be loaded (see the module docstring)."""
    if settings.allow_untrusted_model:
        log.warning("loading %s without checking where it comes from (--allow-untrusted-model)", reference)
        return
    if reference.startswith(REGISTRY_PREFIXES):
        return  # resolved against the configured tracking server: the project's own registry
    if "://" in reference or reference.startswith(("file:", "mlflow-artifacts:")):
        raise UntrustedModelError(
            f"refusing to load the model at {reference}: only exported folders under "
            f"{_listed(trusted_dirs(settings))} and the MLflow registry (models:/, runs:/) are trusted, "
            f"because loading a model runs code from it; {_HINT}"
        )
    path = Path(reference).resolve()
    if not path.exists():
        return  # nothing to load: the loader says so
    folders = trusted_dirs(settings)
    if not any(path.is_relative_to(folder) for folder in folders):
        raise UntrustedModelError(
            f"refusing to load the model at {path}: it is outside the trusted model folders "
            f"{_listed(folders)} (score.trusted_model_dirs, {TRUSTED_DIRS_ENV}), and loading a model "
            f"runs code from it; {_HINT}"
        )
    model_file = path / MODEL_FILE if path.is_dir() else path
    item = writable_by_all(model_file, model_file.parent)
    if item is not None:
        raise UntrustedModelError(
            f"refusing to load the model at {path}: {item} is writable by every user, so anyone "
            f"could have replaced it; fix its permissions (chmod o-w) or {_HINT}"
        )
    _check_checksum(model_file)


def writable_by_all(*paths: Path) -> Path | None:
    """The first of ``paths`` that every user may write (so anyone could have replaced a model), if any."""
    return next((p for p in paths if p.exists() and p.stat().st_mode & stat.S_IWOTH), None)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_checksum(model_file: Path) -> None:
    """An exported model whose card records a checksum must still be the file that was exported."""
    card_path = model_file.parent / "model_card.json"
    if not model_file.exists() or not card_path.exists():
        return  # a missing model is reported by the loader
    try:
        expected = json.loads(card_path.read_text(encoding="utf-8")).get(CHECKSUM_FIELD)
    except (ValueError, AttributeError):
        expected = None
    if not expected:
        log.warning("%s records no %s: the model file's integrity is not checked", card_path, CHECKSUM_FIELD)
        return
    if file_sha256(model_file) != expected:
        raise UntrustedModelError(
            f"refusing to load {model_file}: its SHA-256 differs from the one its model card recorded "
            f"at export, so the file was replaced or damaged; export it again (classifier promote)"
        )


def _listed(folders: Iterable[Path]) -> str:
    return ", ".join(str(f) for f in folders) or "(none)"
