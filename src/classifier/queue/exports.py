"""What leaves the case store: decided cases for the blocking system, decisions as training rows."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from classifier.common.outputs import TableWriter
from classifier.queue.reads import ranked
from classifier.queue.schema import CATEGORIES, cases_table, decisions_table
from classifier.queue.store import CaseStore
from classifier.queue.values import public, utc

EXPORT_FIELDS = (
    "case_id",
    "url",
    "urls",
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
    """Cases with ``status`` for the blocking system, with their latest decision and mirror URLs.

    ``urls`` is the case's URL, then the URLs of the other cases in its cluster (the same ad on
    other sites) except those an expert rejected, so that blocking one mirror blocks them all.
    """
    c, d = cases_table.c, decisions_table.c
    latest = select(d.case_id, func.max(d.id).label("decision_id")).group_by(d.case_id).subquery()
    stmt = ranked(
        select(
            c.id.label("case_id"),
            c.url,
            c.domain,
            c.score,
            c.category,
            c.priority,
            d.decision,
            d.expert,
            d.decided_at,
            c.contacts,
            c.model_version,
            c.cluster_id,
        )
        .select_from(cases_table)
        .outerjoin(latest, latest.c.case_id == c.id)
        .outerjoin(decisions_table, d.id == latest.c.decision_id)
        .where(c.status == status)
    )
    with store.engine.connect() as conn:
        rows = [public(r) for r in conn.execute(stmt).mappings()]
        mirrors = _cluster_urls(conn, status)
    out = []
    for row in rows:
        own = [row["url"]] if row["url"] else []
        others = [u for case_id, u in mirrors.get(row.pop("cluster_id"), []) if case_id != row["case_id"]]
        urls = list(dict.fromkeys([*own, *others]))
        out.append({name: urls if name == "urls" else row[name] for name in EXPORT_FIELDS})
    return out


def _cluster_urls(conn: Connection, status: str) -> dict[str, list[tuple[int, str]]]:
    """URLs of the clusters that contain a case with ``status``, in one self-join."""
    member, exported = cases_table.alias("member"), cases_table.alias("exported")
    stmt = (
        select(member.c.cluster_id, member.c.id, member.c.url)
        .distinct()
        .join(exported, exported.c.cluster_id == member.c.cluster_id)
        .where(exported.c.status == status, member.c.cluster_id != "", member.c.url != "")
        .where(member.c.status != "rejected")
        .order_by(member.c.cluster_id, member.c.id)
    )
    urls: dict[str, list[tuple[int, str]]] = {}
    for cluster_id, case_id, url in conn.execute(stmt):
        urls.setdefault(cluster_id, []).append((case_id, url))
    return urls


# --- export files ----------------------------------------------------------------------------------


def write_export(rows: Iterable[Mapping[str, Any]], path: Path | str) -> Path:
    """Write exported cases to ``.csv`` (nested values as JSON, urls space-separated) or ``.json``."""
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
        return " ".join(value)  # URLs contain no spaces: the list stays one readable cell
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


# --- decisions as training rows --------------------------------------------------------------------

LABEL_FIELDS = (
    "id",
    "url",
    "title",
    "text",
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
            if not text:
                continue
            label = LABELS[r["status"]]
            rows.append(
                public(
                    {
                        "id": f"expert:{r['id']}",
                        "url": r["url"],
                        "title": r["title"],
                        "text": text,
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
    """Labelled rows as ``.jsonl``, ``.csv`` or ``.parquet``: the formats ``classifier train --data`` reads."""
    path = Path(path)
    with TableWriter(path, LABEL_FIELDS) as writer:
        writer.write(list(rows))
    return path
