"""The model card next to an exported model: what it was trained on, how good it is, where it fails."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from classifier.common.config import Settings

HEADLINE = (
    "average_precision",
    "roc_auc",
    "precision",
    "recall",
    "f1",
    "recall_at_k",
    "hard_negative_fpr",
    "brier",
    "ece",
    "robustness_recall",
    "category_accuracy",
    "real_fpr",
    "real_drug_topic_fpr",
    "challenge.average_precision",
    "challenge.recall_at_k",
    "challenge.recall",
    "challenge.precision",
    "challenge.hard_negative_fpr",
    "challenge.disguised_recall",
    "challenge.ece",
    "challenge.minimal_pairs_ordered",
)
INTENDED_USE = (
    "Ranking reported web pages, Telegram channels and ads in Russian and Kazakh by how likely they "
    "sell, advertise or recruit for drugs, so that police experts check the likeliest first. The score "
    "supports an expert's decision; it never replaces it: every page is verified by a person before "
    "it is blocked."
)
KNOWN_LIMITS = (
    "Trained on generated pages (no public corpus of real drug ads exists) and real negatives; real "
    "sellers' wording drifts, so expert decisions should be fed back (retraining loop).",
    "Text only: images, videos and text inside pictures are not read.",
    "Languages: Russian, Kazakh and mixed; other languages score unreliably.",
    "Disguises the generator does not produce (new slang, new emoji codes) may be missed; "
    "robustness_recall measures recall under disguises kept out of training.",
    "Calibrated on held-out template families: probabilities are honest for pages like the corpus, "
    "less so for very different sources.",
)


def _number(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def model_card(
    *,
    metrics: dict[str, float],
    manifest: dict[str, Any],
    settings: Settings,
    version: str | None,
    threshold: float,
    model_sha256: str | None = None,
) -> dict[str, Any]:
    return {
        "name": settings.train.registered_model,
        "version": version,
        "model_sha256": model_sha256,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "intended_use": INTENDED_USE,
        "threshold": threshold,
        "metrics": {k: _number(metrics[k]) for k in HEADLINE if k in metrics},
        "all_metrics": {k: _number(v) for k, v in sorted(metrics.items())},
        "data": manifest,
        "model": asdict(settings.model),
        "training": asdict(settings.train),
        "known_limits": list(KNOWN_LIMITS),
    }


def write_model_card(folder: Path, **fields: Any) -> tuple[Path, Path]:
    """``model_card.json`` and ``model_card.md`` in ``folder``."""
    card = model_card(**fields)
    json_path = folder / "model_card.json"
    json_path.write_text(json.dumps(card, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    md_path = folder / "model_card.md"
    md_path.write_text(_markdown(card), encoding="utf-8")
    return json_path, md_path


def _markdown(card: dict[str, Any]) -> str:
    metrics = "\n".join(f"| {k} | {'-' if v is None else f'{v:.4f}'} |" for k, v in card["metrics"].items())
    counts = card["data"].get("counts", {})
    data = "\n".join(
        f"| {name} | {c['rows']} | {c['positives']} | {c['families']} |" for name, c in counts.items()
    )
    limits = "\n".join(f"- {item}" for item in card["known_limits"])
    return f"""# Model card: {card["name"]} (version {card["version"]})

Created {card["created_at"]}. Operating threshold: **{card["threshold"]:.3f}** (score ≥ threshold means
"likely violation", set to keep the target recall of params on out-of-fold scores: a triage threshold);
scores are calibrated probabilities.

## Intended use
{card["intended_use"]}

## Evaluation
Held-out template families and the real negatives' test split (when present) measure the evaluation fit,
which left those families and the robustness disguises out; this model was then refitted on every row.
`challenge.` metrics measure this model on the hand-written challenge set (data/challenge/, never fitted on).
| metric | value |
|---|---|
{metrics}

## Data
| split | rows | positives | families |
|---|---|---|---|
{data}

Sources: {", ".join(card["data"].get("sources", []))}

## Model
{card["model"]["estimator"]} on sub-word and word TF-IDF plus cue features (cue_lexicon.yaml), calibration
{card["model"]["calibration"]} on out-of-fold scores grouped by family.

## Known limits
{limits}
"""
