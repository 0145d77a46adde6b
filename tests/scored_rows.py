"""Scored rows as the scoring run hands them to the case store, for the tests of the store and its users."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def scored(
    record_id: str,
    url: str = "",
    *,
    run_id: str = "run-1",
    score: float | None = 0.9,
    priority: float = 0.9,
    status: str = "ok",
    scored_at: str = "2024-05-01T10:00:00+00:00",
    cluster_id: str = "",
    **overrides: Any,
) -> dict[str, Any]:
    """A scored row with every field of the scoring contract (score/rows.py SCORED_FIELDS)."""
    error = status == "error"
    row = {
        "rank": 1,
        "id": record_id,
        "url": url,
        "domain": url.split("/")[2] if url.count("/") >= 2 else "",
        "title": f"title {record_id}",
        "excerpt": f"excerpt {record_id}",
        "score": None if error else score,
        "label": None if error else int((score or 0) >= 0.5),
        "category": None if error else "sale",
        "category_probability": None if error else 0.8,
        "priority": 0.0 if error else priority,
        "language": "ru",
        "evidence": [] if error else [{"term": "закладки", "weight": 1.5, "sentence": "Закладки по городу"}],
        "contacts": {
            "telegram": ["@shop"],
            "phone": [],
            "whatsapp": [],
            "email": [],
            "onion": [],
            "wallet": [],
            "card": [],
        },
        "cluster_id": cluster_id or f"c-{record_id}",
        "cluster_size": 1,
        "shop_id": None,
        "known_status": "",
        "match": "",
        "source_kind": "warc",
        "source": "crawl.warc.gz:0",
        "fetched_at": "2024-04-30T08:00:00+00:00",
        "model_name": "drug-ad-classifier",
        "model_version": "3",
        "run_id": run_id,
        "scored_at": scored_at,
        "status": status,
        "error": "extraction failed: empty page" if error else "",
    }
    row.update(overrides)
    return row


def utc_now() -> datetime:
    return datetime.now(UTC)
