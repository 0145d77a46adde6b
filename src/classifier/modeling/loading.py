"""The one way to load a model by reference, for scoring, evaluation, promotion and the gate.

A reference is an exported folder (``models/drug-ad-classifier``) or an MLflow model URI. Loading a
model runs code from it, so only references from a trusted place load (``model_trust``). An alias is
resolved to a version first and that version is loaded, so whoever uses the model names the version
that really answered, even if the alias moves meanwhile.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sklearn.pipeline import Pipeline

from classifier.common.config import PROJECT_ROOT, ScoreSettings
from classifier.modeling import model_cache
from classifier.modeling.model import load_model_file
from classifier.modeling.model_trust import check_model_reference

# another folder for the model cache than score.model_cache_dir (the test suite's own, say)
MODEL_CACHE_ENV = "CLASSIFIER_MODEL_CACHE"


@dataclass(frozen=True)
class LoadedModel:
    pipeline: Pipeline
    name: str
    version: str
    reference: str

    @property
    def threshold(self) -> float:
        return float(self.pipeline.named_steps["head"].threshold_)


def load_trusted_model(reference: str, settings: ScoreSettings | None = None) -> LoadedModel:
    """The model at ``reference`` with its name and version (from its card, or the registry).

    ``settings`` say which folders are trusted (``score.trusted_model_dirs``); the registry always is.
    """
    check_model_reference(reference, settings or ScoreSettings())
    path = Path(reference)
    if path.exists():
        card_path = (path if path.is_dir() else path.parent) / "model_card.json"
        card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.exists() else {}
        name = card.get("name") or path.name
        version = str(card.get("version") or "exported")
        return LoadedModel(load_model_file(path), name, version, str(path))
    if "://" not in reference and not reference.startswith("models:/"):
        raise FileNotFoundError(f"no model folder at {reference} (and it is not an MLflow model URI)")
    from classifier.modeling import tracking  # imports MLflow (seconds): only for registry references

    tracking.configure()
    name, version = tracking.resolve_model_uri(reference)
    if not name:  # runs:/ and other URIs: loaded as they are, uncached
        return LoadedModel(tracking.load_model(reference), "mlflow-model", version, reference)
    return LoadedModel(_registered(name, version, settings), name, version, reference)


def _registered(name: str, version: str, settings: ScoreSettings | None) -> Pipeline:
    """A registered version, from the local model cache (``model_cache``) when the caller's settings
    name one: scoring runs, whose start-up it shortens."""
    from classifier.modeling import tracking

    uri = f"models:/{name}/{version}"
    folder = os.environ.get(MODEL_CACHE_ENV) or (settings.model_cache_dir if settings else "")
    if settings is None or not folder:
        return tracking.load_model(uri)
    cache_dir = PROJECT_ROOT / folder
    identity = tracking.version_identity(name, version)
    pipeline = model_cache.load_cached(cache_dir, identity)
    if pipeline is None:
        pipeline = tracking.load_model(uri)
        model_cache.store(cache_dir, identity, pipeline)
    return pipeline
