"""Scored rows as reports of a resource, and how a batch of them updates that resource's case."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from classifier.queue.keys import case_key
from classifier.queue.values import clean_images, clean_text, now, to_float, to_int, utc
from classifier.score.rows import TEXT_CHARS


class Report:
    """One scored row, validated and typed once, with the case key it belongs to."""

    __slots__ = ("key", "ok", "record_id", "row", "run_id", "scored_at")

    def __init__(self, row: Mapping[str, Any]):
        self.record_id = clean_text(row.get("id"))
        self.run_id = clean_text(row.get("run_id"))
        if not self.record_id or not self.run_id:
            raise ValueError(f"a scored row needs an id and a run_id: {dict(row)!r:.200}")
        self.key = case_key(clean_text(row.get("url")), self.record_id)
        self.scored_at = utc(row.get("scored_at")) or now()
        self.ok = row.get("status", "ok") != "error"
        self.row = row

    def _model_output(self) -> dict[str, Any]:
        """What the model and the ranking said: kept on the case (latest) and in its score history."""
        r = self.row
        return {
            "score": to_float(r.get("score")) if self.ok else None,
            "label": to_int(r.get("label")),
            "category": clean_text(r.get("category")) or None,
            "category_probability": to_float(r.get("category_probability")),
            "priority": to_float(r.get("priority")),
            "cluster_id": clean_text(r.get("cluster_id")),
            "cluster_size": to_int(r.get("cluster_size")) or 1,
            "model_name": clean_text(r.get("model_name")),
            "model_version": clean_text(r.get("model_version")),
        }

    def content(self) -> dict[str, Any]:
        """The case columns that follow the latest ok report of the resource."""
        r = self.row
        return {
            "url": clean_text(r.get("url")),
            "domain": clean_text(r.get("domain")),
            "title": clean_text(r.get("title")),
            "excerpt": clean_text(r.get("excerpt")),
            "language": clean_text(r.get("language")),
            "evidence": r.get("evidence") or [],
            "contacts": r.get("contacts") or {},
            **self._model_output(),
            # rows from the file carry an excerpt only: they must not erase a text stored before
            **({"text": clean_text(r["text"])[:TEXT_CHARS]} if r.get("text") else {}),
            **({"images": clean_images(r["images"])} if r.get("images") is not None else {}),
        }

    def last(self) -> dict[str, Any]:
        """The case columns that follow the latest report, ok or not."""
        return {
            "last_run_id": self.run_id,
            "last_status": "ok" if self.ok else "error",
            "last_error": clean_text(self.row.get("error")),
        }

    def score_row(self, case_id: int) -> dict[str, Any]:
        return {
            "case_id": case_id,
            "record_id": self.record_id,
            "run_id": self.run_id,
            **self._model_output(),
            "rank": to_int(self.row.get("rank")),
            "status": "ok" if self.ok else "error",
            "error": clean_text(self.row.get("error")),
            "scored_at": self.scored_at,
        }


def newest(reports: Sequence[Report]) -> Report:
    """The most recent report by ``scored_at``; of equal times (one run) the first: a run's rows arrive in
    queue order, so that is the run's strongest report of the resource."""
    return max(reports, key=lambda r: r.scored_at)


def newest_ok(reports: Sequence[Report]) -> Report | None:
    ok = [r for r in reports if r.ok]
    return newest(ok) if ok else None


def case_update(case: Mapping[str, Any], group: list[Report]) -> dict[str, Any]:
    """The new column values of an existing case given its reports in this batch (and ``_id``)."""
    last_seen = utc(case["last_seen"])
    latest = newest(group)
    values: dict[str, Any] = {
        "_id": case["id"],
        "first_seen": min(utc(case["first_seen"]), *(r.scored_at for r in group)),
        "last_seen": max(last_seen, latest.scored_at),
    }
    if latest.scored_at < last_seen:  # an older run resumed after a newer one: it only adds history
        return values
    if latest.scored_at == last_seen and case["last_run_id"] == latest.run_id:
        return values  # an earlier batch of this run already gave the case its strongest report
    values.update(latest.last())
    content = newest_ok(group)
    if content is None and case["score"] is None:  # never scored: the error report is all there is
        content = latest
    if content is not None:
        values.update(content.content())
    return values
