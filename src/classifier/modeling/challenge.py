"""The challenge set (``data/challenge/``): how a model does on hand-written texts it has no template for.

Written apart from the corpus generator (see its README), it only measures: nothing is fitted,
calibrated or chosen on it. Training, ``classifier evaluate`` and the benchmarks report these metrics
under ``challenge.``; the metrics take scores, so a model of any kind (the textbook baseline too) is
measured the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from classifier.common.config import DATA_DIR, Settings
from classifier.extract.documents import extract_document
from classifier.ingest.tables import record_from_row
from classifier.modeling.evaluate import binary_metrics, hard_negative_fpr, slice_metrics
from classifier.modeling.model import predict

CHALLENGE_SET = DATA_DIR / "challenge" / "challenge.jsonl"
COLUMNS = ("label", "category", "register", "disguised", "hard_negative", "pair_id", "pair_kind", "author")


def load_challenge(settings: Settings, path: Path = CHALLENGE_SET) -> pd.DataFrame | None:
    """The challenge texts as extracted documents with their labels, or None when the file is missing."""
    if not path.exists():
        return None
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    documents = []
    for number, row in enumerate(rows, start=1):
        record = record_from_row(
            {"id": row["id"], "url": "", "text": row["text"]}, f"{path}:{number}", settings.ingest
        )
        document = extract_document(record, settings.extract)
        if document["status"] != "ok":
            raise ValueError(
                f"{path}:{number}: challenge text {row['id']} cannot be read: {document['error']}"
            )
        document.update({column: row.get(column) for column in COLUMNS})
        document.update(id=row["id"], lang_written=row["lang"], family=row.get("pair_id") or row["id"])
        documents.append(document)
    return pd.DataFrame(documents)


def assess_on_challenge(pipeline: Pipeline, frame: pd.DataFrame | None) -> dict[str, float]:
    """A fitted pipeline's challenge metrics at its own threshold; none without the challenge set."""
    if frame is None:
        return {}
    return challenge_metrics(frame, predict(pipeline, frame).score, float(pipeline[-1].threshold_))


def challenge_metrics(frame: pd.DataFrame, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Ranking, triage, calibration, language and minimal-pair metrics on the challenge set."""
    scored = frame.assign(score=np.asarray(scores, dtype=float))
    y, s = scored["label"].to_numpy(dtype=int), scored["score"].to_numpy()
    metrics = binary_metrics(y, s, threshold, k=int(y.sum()))
    metrics["hard_negative_fpr"] = hard_negative_fpr(scored, s, threshold)
    disguised = scored[(scored["label"] == 1) & scored["disguised"].astype(bool)]
    metrics["disguised_recall"] = (
        float((disguised["score"] >= threshold).mean()) if len(disguised) else np.nan
    )
    metrics["rows"] = float(len(scored))
    for column, prefix in (("lang_written", "lang"), ("category", "category"), ("pair_kind", "pairs")):
        metrics.update(slice_metrics(scored.fillna({column: "none"}), column, threshold, prefix=prefix))
    metrics.update(minimal_pairs(scored))
    return {f"challenge.{name}": value for name, value in metrics.items()}


def minimal_pairs(scored: pd.DataFrame) -> dict[str, float]:
    """Share of minimal pairs whose violation scores above its twin, over all pairs and per kind."""
    pairs = scored[scored["pair_id"].notna()]
    if pairs.empty:
        return {}
    ordered = pairs.pivot_table(index=["pair_kind", "pair_id"], columns="label", values="score")
    right = ordered[1] > ordered[0]
    metrics = {"minimal_pairs_ordered": float(right.mean()), "minimal_pairs": float(len(right))}
    for kind, group in right.groupby(level="pair_kind"):
        metrics[f"minimal_pairs_ordered.{kind}"] = float(group.mean())
    return metrics
