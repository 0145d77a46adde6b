"""Scoring one chunk of documents: scored rows with evidence, duplicate-grouping keys and MinHash
signatures. One hostile page costs only its own row; a model that fails on everything stops the run.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from classifier.common.config import ScoreSettings
from classifier.modeling.explanations import ExplainedPrediction, predict_and_explain
from classifier.modeling.features import TEXT_FIELDS
from classifier.modeling.loading import LoadedModel
from classifier.score.duplicates import MinHasher, band_keys, contact_keys
from classifier.score.priority import source_kind
from classifier.score.rows import TEXT_CHARS

log = logging.getLogger(__name__)
EVIDENCE_MIN_SCORE = 0.05  # below this nobody reads why a page is not an ad; explaining it costs time


class ModelUnusableError(ValueError):
    """The model cannot score documents at all (a clear error for the command line, exit code 2)."""


# -- scoring one chunk ---------------------------------------------------------------------------
class ChunkScorer:
    """Documents -> scored rows (unranked), duplicate-grouping keys and MinHash signatures."""

    def __init__(self, model: LoadedModel, settings: ScoreSettings, run_id: str, scored_at: str):
        self.model = model
        self.settings = settings
        self.run_id = run_id
        self.scored_at = scored_at
        self.hasher = MinHasher(settings.minhash_permutations, settings.shingle_words)

    def _predict(self, docs: list[dict[str, Any]]) -> list[tuple[ExplainedPrediction | Exception, int]]:
        """(result, position in it) per document: the chunk in one pass, or, if the model fails on it,
        document by document, so that one hostile page costs only its own row."""
        frame = pd.DataFrame([{f: d.get(f) or "" for f in TEXT_FIELDS} for d in docs])
        top_k = self.settings.explain_top_k
        try:
            result = predict_and_explain(self.model.pipeline, frame, top_k, EVIDENCE_MIN_SCORE)
            return [(result, j) for j in range(len(docs))]
        except Exception as exc:
            log.warning("model failed on a chunk (%s); scoring its documents one by one", exc)
        results: list[tuple[ExplainedPrediction | Exception, int]] = []
        for i in range(len(frame)):
            try:
                results.append(
                    (predict_and_explain(self.model.pipeline, frame.iloc[[i]], top_k, EVIDENCE_MIN_SCORE), 0)
                )
            except Exception as exc:
                results.append((exc, 0))
        if len(results) > 1 and all(isinstance(r, Exception) for r, _ in results):
            # not a hostile page but a model that cannot score at all: stop before the queue fills
            # with errors; nothing of this chunk is committed, so the run resumes once fixed
            raise ModelUnusableError(
                f"the model fails on every document ({results[0][0]!r}); is it from an older version of "
                "the code? Retrain (classifier train) or pass another --model"
            )
        return results

    def score(
        self, docs: list[dict[str, Any]], first_seq: int
    ) -> tuple[list[dict[str, Any]], list[tuple[str, int]], list[tuple[int, np.ndarray, int]]]:
        rows = [self._base_row(doc, first_seq + i) for i, doc in enumerate(docs)]
        ok = [i for i, doc in enumerate(docs) if doc["status"] == "ok"]
        keys: list[tuple[str, int]] = []
        signatures: list[tuple[int, np.ndarray, int]] = []
        if not ok:
            return rows, keys, signatures
        for i, (result, j) in zip(ok, self._predict([docs[i] for i in ok]), strict=True):
            row = rows[i]
            if isinstance(result, Exception):
                row.update(status="error", error=f"model failed: {type(result).__name__}: {result}")
                continue
            self._fill(row, result, j)
            sketch = self.hasher.sketch(result.normalised[j])
            if sketch is not None:
                signatures.append((row["seq"], *sketch))
                keys += [(key, row["seq"]) for key in band_keys(sketch[0], self.settings.lsh_bands)]
            keys += [(key, row["seq"]) for key in contact_keys(row["contacts"], self.settings)]
        return rows, keys, signatures

    def _base_row(self, doc: dict[str, Any], seq: int) -> dict[str, Any]:
        text = doc.get("text") or ""
        return {
            "seq": seq,
            "id": doc["id"],
            "url": doc.get("url") or "",
            "domain": doc.get("domain") or "",
            "title": doc.get("title") or "",
            "excerpt": " ".join(text[: self.settings.excerpt_chars * 2].split())[
                : self.settings.excerpt_chars
            ],
            "score": None,
            "label": None,
            "category": None,
            "category_probability": None,
            "language": doc.get("lang") or "",
            "evidence": [],
            "contacts": {k: v for k, v in (doc.get("contacts") or {}).items() if v},
            "source_kind": source_kind(doc.get("url") or ""),
            "source": doc.get("source") or "",
            "fetched_at": doc.get("fetched_at") or "",
            "model_name": self.model.name,
            "model_version": self.model.version,
            "run_id": self.run_id,
            "scored_at": self.scored_at,
            "status": doc["status"],
            "error": doc.get("error") or "",
            "text": text[:TEXT_CHARS],
            "images": doc.get("images") or [],  # what OCR read, image by image (extract/image_text.py)
        }

    @staticmethod
    def _fill(row: dict[str, Any], result: ExplainedPrediction, j: int) -> None:
        prediction = result.prediction
        label = int(prediction.label[j])
        probability = float(prediction.category_probability[j])
        row.update(
            score=round(float(prediction.score[j]), 6),
            label=label,
            category=str(
                prediction.category[j]
            ),  # "none" below the threshold (model.prediction_from_features)
            # the queue shows a category's probability only for a category it names
            category_probability=round(probability, 4) if label and not math.isnan(probability) else None,
            evidence=[e.as_dict() for e in result.evidence[j]],
        )
