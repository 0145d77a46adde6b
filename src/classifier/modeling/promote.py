"""Promoting a registered version by hand: the champion alias moves, and the version is exported to
``models/`` with a model card that describes it as its own run logged it (not today's params.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from classifier.common.config import MODELS_DIR, Settings, settings_from_dict
from classifier.modeling import tracking
from classifier.modeling.loading import load_trusted_model
from classifier.modeling.train import export_model


@dataclass(frozen=True)
class Promotion:
    version: str
    name: str
    reason: str
    folder: Path
    warning: str | None  # why the model card shows today's settings, when it must


def promote(version: str, settings: Settings, by: str, reason: str, out: Path | None = None) -> Promotion:
    """Make ``version`` of ``settings.train.registered_model`` the champion and export it."""
    tracking.configure()
    name = settings.train.registered_model
    card_settings, warning = _logged_settings(version, name, settings)
    manifest = tracking.version_manifest(version, name) or {"sources": ["not logged by the version's run"]}
    tracking.record_promotion(version, by=by, reason=reason, name=name)
    pipeline = load_trusted_model(f"models:/{name}/{version}").pipeline
    folder = out or MODELS_DIR / name
    export_model(pipeline, tracking.version_metrics(version, name), manifest, card_settings, version, folder)
    return Promotion(version, name, reason, folder, warning)


def _logged_settings(version: str, name: str, today: Settings) -> tuple[Settings, str | None]:
    """The settings the version's run logged; today's, with the reason, when it logged none usable."""
    logged = tracking.version_artifact_dict(version, "settings.json", name)
    try:
        if not logged:
            raise ValueError("its run logged no settings.json")
        return settings_from_dict(logged), None
    except (ValueError, TypeError) as exc:  # none logged, or by code with other settings
        return today, f"version {version}: {exc}; the model card shows today's params"
