"""What leaves the case store: decided cases for the blocking system, decisions as training rows."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from classifier.common.batching import batched
from classifier.common.outputs import TableWriter, spreadsheet_safe
from classifier.extract.image_text import joined_image_text
from classifier.queue.reads import ranked
from classifier.queue.schema import CATEGORIES, bank_keys_table, cases_table, decisions_table
from classifier.queue.store import CaseStore
from classifier.queue.values import IN_LIST_LIMIT, public, utc

EXPORT_FIELDS = (
    "case_id",
    "shop_id",
    "url",
    "urls",
    "identifiers",
    "domain",
    "score",
    "category",
    "priority",
    "decision",
    "expert",
    "decided_at",
    "contacts",
    "model_version",
)
EXPORT_FORMATS = (".csv", ".json")


def export_cases(store: CaseStore, status: str = "confirmed") -> list[dict[str, Any]]:
    """Cases with ``status`` for the blocking system, with their latest decision and their shop.

    ``shop_id`` is the case's shop (``bank.py``: its pages across runs that share an identifier or a
    text). ``urls`` is the case's URL, then those of the other cases of its shop that experts decided
    themselves with ``status`` (one by one, or confirmed as a mirror of the shop), so that blocking one
    page blocks its decided mirrors; ``identifiers`` are the Telegram handles, wallets and the like of
    those same cases, by kind. A page the machine alone linked to the shop (an undecided mirror, a
    pharmacy that quoted the shop's handle) is never listed, nor are its identifiers: whoever writes a
    crawled page must not be able to put a third party on the blocking list.
    """
    c, d = cases_table.c, decisions_table.c
    latest = select(d.case_id, func.max(d.id).label("decision_id")).group_by(d.case_id).subquery()
    stmt = ranked(
        select(
            c.id.label("case_id"),
            # stores older than the bank have no shops: each case is its own
            func.coalesce(c.shop_id, c.id).label("shop_id"),
            c.url,
            c.domain,
            c.score,
            # the category the expert named (else the model's, kept on the decision), else the model's
            func.coalesce(d.category, c.category).label("category"),
            c.priority,
            d.decision,
            d.expert,
            d.decided_at,
            c.contacts,
            c.model_version,
        )
        .select_from(cases_table)
        .outerjoin(latest, latest.c.case_id == c.id)
        .outerjoin(decisions_table, d.id == latest.c.decision_id)
        .where(c.status == status)
    )
    with store.engine.connect() as conn:
        rows = [public(r) for r in conn.execute(stmt).mappings()]
        decided: dict[int, list[dict[str, Any]]] = {}  # shop -> its cases experts decided with status
        for row in rows:
            if row["decision"] is not None:
                decided.setdefault(row["shop_id"], []).append(row)
        identifiers = _identifiers(conn, [row["case_id"] for row in rows])
    out = []
    for row in rows:
        members = [row, *(m for m in decided.get(row["shop_id"], []) if m["case_id"] != row["case_id"])]
        row["urls"] = list(dict.fromkeys(m["url"] for m in members if m["url"]))
        row["identifiers"] = _by_kind(key for m in members for key in identifiers.get(m["case_id"], ()))
        out.append({name: row[name] for name in EXPORT_FIELDS})
    return out


def _identifiers(conn: Connection, case_ids: list[int]) -> dict[int, list[str]]:
    """The identifier keys (``c:<kind>:<value>``) the bank holds for each of the cases."""
    k = bank_keys_table.c
    found: dict[int, list[str]] = {}
    for chunk in batched(sorted(set(case_ids)), IN_LIST_LIMIT):
        query = select(k.case_id, k.match_key).where(k.case_id.in_(chunk), k.match_key.like("c:%"))
        for case_id, key in conn.execute(query):
            found.setdefault(case_id, []).append(key)
    return found


def _by_kind(keys: Iterable[str]) -> dict[str, list[str]]:
    """``c:telegram:@x_example`` keys as ``{"telegram": ["@x_example"]}``, kinds and values sorted."""
    kinds: dict[str, set[str]] = {}
    for key in keys:
        _, kind, value = key.split(":", 2)
        kinds.setdefault(kind, set()).add(value)
    return {kind: sorted(values) for kind, values in sorted(kinds.items())}


# --- export files ----------------------------------------------------------------------------------


def write_export(rows: Iterable[Mapping[str, Any]], path: Path | str) -> Path:
    """Write exported cases to ``.csv`` (nested values as JSON, urls space-separated; a cell a spreadsheet
    would run as a formula gets a ``'`` before it) or ``.json`` (as they are)."""
    path = Path(path)
    kind = path.suffix.lower()
    if kind not in EXPORT_FORMATS:
        raise ValueError(f"{path}: the export must end in one of {', '.join(EXPORT_FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = list(rows)
    if kind == ".json":
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
        return path
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(EXPORT_FIELDS), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({name: _csv_value(name, row.get(name)) for name in EXPORT_FIELDS})
    return path


def _csv_value(name: str, value: Any) -> Any:
    if name == "urls" and isinstance(value, list | tuple):
        return spreadsheet_safe(" ".join(value))  # URLs contain no spaces: the list stays one readable cell
    if isinstance(value, list | tuple | dict):
        return spreadsheet_safe(json.dumps(value, ensure_ascii=False))
    return spreadsheet_safe(value)


# --- decisions as training rows --------------------------------------------------------------------

LABEL_FIELDS = (
    "id",
    "url",
    "title",
    "text",
    "image_text",  # what OCR read in the page's images: the model reads it with the text
    "label",
    "category",
    "language",
    "source",
    "family",
    "hard_negative",
    "expert",
    "decided_at",
    "score",
    "model_version",
)
LABELS = {"confirmed": 1, "rejected": 0}  # "unsure" and "pending" are not answers yet


def export_labels(store: CaseStore, since: datetime | str | None = None) -> list[dict[str, Any]]:
    """Cases an expert confirmed or rejected, as labelled training rows (``source = "expert"``).

    The label is the case's final status (with two required confirmations, one is not enough); the
    category is the one the expert named, else the model's; ``family`` is the case's duplicate group,
    so that mirrors of one ad never straddle the training and held-out sets; a flagged page an expert
    cleared is a ``hard_negative``. ``since`` keeps cases whose latest decision is
    that recent or newer. Cases without text (stored by an older version) fall back to their excerpt.
    """
    c, d = cases_table.c, decisions_table.c
    latest = select(d.case_id, func.max(d.id).label("decision_id")).group_by(d.case_id).subquery()
    stmt = (
        select(
            c.id,
            c.url,
            c.domain,
            c.title,
            c.text,
            c.images,
            c.excerpt,
            c.status,
            c.category.label("model_category"),
            c.language,
            c.cluster_id,
            c.label.label("flagged"),
            d.category,
            d.expert,
            d.decided_at,
            d.score,
            d.model_version,
        )
        .join(latest, latest.c.case_id == c.id)
        .join(decisions_table, d.id == latest.c.decision_id)
        .where(c.status.in_(list(LABELS)))
        .order_by(d.decided_at, c.id)
    )
    since_time = utc(since) if since is not None else None
    if since is not None and since_time is None:
        raise ValueError(f"--since must be an ISO date or time, not {since!r}")
    if since_time is not None:
        stmt = stmt.where(d.decided_at >= since_time)
    rows = []
    with store.engine.connect() as conn:
        for r in conn.execute(stmt).mappings():
            text = r["text"] or r["excerpt"]
            image_text = joined_image_text(r["images"] or [])
            if not text and not image_text:
                continue
            label = LABELS[r["status"]]
            rows.append(
                public(
                    {
                        "id": f"expert:{r['id']}",
                        "url": r["url"],
                        "title": r["title"],
                        "text": text,
                        "image_text": image_text,
                        "label": label,
                        "category": _category(r["category"], r["model_category"]) if label else "none",
                        "language": r["language"],
                        "source": "expert",
                        # a duplicate group (mirrors of one ad) is one family: it never straddles the split
                        "family": f"expert:{r['cluster_id'] or r['domain'] or r['id']}",
                        # a page the model flagged and an expert cleared is exactly a hard negative
                        "hard_negative": bool(not label and r["flagged"]),
                        "expert": r["expert"],
                        "decided_at": r["decided_at"],
                        "score": r["score"],
                        "model_version": r["model_version"],
                    }
                )
            )
    return rows


def _category(expert: str | None, model: str | None) -> str:
    """A violation's category: the expert's, else the model's, else "sale" (the commonest; a missed
    violation has no category from the model)."""
    return next((c for c in (expert, model) if c in CATEGORIES), "sale")


def write_labels(rows: Iterable[Mapping[str, Any]], path: Path | str) -> Path:
    """Labelled rows as ``.jsonl``, ``.csv`` or ``.parquet``: the formats ``classifier train --data`` reads.

    A training table: its texts are written as they are, even in CSV (a quote against spreadsheet
    formulas would become part of the text the model learns from). Open it with a spreadsheet's import,
    never by double-clicking; ``write_export`` is the table for people."""
    path = Path(path)
    with TableWriter(path, LABEL_FIELDS) as writer:
        writer.write(list(rows))
    return path
