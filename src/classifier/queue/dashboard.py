"""The review app's summary (``/dashboard``): decisions per day, the backlog (what the model flagged and
what it cleared), and each model version's precision as the experts' decisions measured it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, case, cast, func, select

from classifier.queue.reads import DEFAULT_THRESHOLD
from classifier.queue.schema import NEW, PENDING, cases_table, decisions_table, runs_table
from classifier.queue.store import CaseStore
from classifier.queue.values import now, public, utc
from classifier.queue.views import CLEARED, FLAGGED, OPEN, QueueFilter, count_cases


def dashboard(store: CaseStore, days: int = 30) -> dict[str, Any]:
    """Decisions per day, the backlog, and the model's precision as the experts measured it.

    Precision of a model version = confirmed / (confirmed + rejected) among the cases it flagged
    (score at or above its threshold when the expert decided), from each case's latest decision.
    """
    c, d, r = cases_table.c, decisions_table.c, runs_table.c
    since = now() - timedelta(days=days)
    # SQLite keeps times as text: date() reads it; CAST AS DATE would read the year as a number
    day = (
        func.date(d.decided_at)
        if store.dialect == "sqlite"
        else cast(func.timezone("UTC", d.decided_at), Date)
    )
    per_day = (
        # cases, not rows: a case confirmed by two experts is one confirmed case that day
        select(day.label("day"), d.decision, func.count(d.case_id.distinct()).label("n"))
        .where(d.decided_at >= since)
        .group_by(day, d.decision)
        .order_by(day)
    )
    latest = select(d.case_id, func.max(d.id).label("decision_id")).group_by(d.case_id).subquery()
    thresholds = (
        select(r.model_version, func.max(r.threshold).label("threshold")).group_by(r.model_version).subquery()
    )
    # flagged by the score the model gave when the expert decided, at that model's threshold
    flagged = case((d.score >= func.coalesce(thresholds.c.threshold, DEFAULT_THRESHOLD), 1), else_=0)
    # the case's final status: with two confirmations required, one confirmation is not yet a verdict
    by_version = (
        select(
            d.model_version,
            func.sum(case((c.status == "confirmed", flagged), else_=0)).label("true_positives"),
            func.sum(case((c.status == "rejected", flagged), else_=0)).label("false_positives"),
            func.sum(case((c.status == "confirmed", 1 - flagged), else_=0)).label("missed"),
            func.count().label("decided"),
        )
        .select_from(
            decisions_table.join(latest, latest.c.decision_id == d.id)
            .join(cases_table, c.id == d.case_id)
            .outerjoin(thresholds, thresholds.c.model_version == d.model_version)
        )
        .where(c.status.in_(["confirmed", "rejected"]))
        .group_by(d.model_version)
        .order_by(d.model_version)
    )
    backlog = (
        select(c.category, func.count().label("n"))
        .where(c.status.in_([NEW, PENDING]))
        .group_by(c.category)
        # ties by name, uncategorised last: SQLite would sort NULL first, PostgreSQL last
        .order_by(func.count().desc(), c.category.asc().nulls_last())
    )
    with store.engine.connect() as conn:
        days_rows = conn.execute(per_day).all()
        versions = [dict(row._mapping) for row in conn.execute(by_version)]
        backlog_rows = [dict(row._mapping) for row in conn.execute(backlog)]
        last_run = conn.execute(
            select(r.run_id, r.started_at, r.model_version).order_by(r.started_at.desc())
        ).first()
    decisions_per_day: dict[str, dict[str, int]] = {}
    for row in days_rows:
        key = row.day.isoformat() if isinstance(row.day, date | datetime) else str(row.day)
        decisions_per_day.setdefault(key, {})[row.decision] = row.n
    for row in versions:
        tp, fp = row["true_positives"] or 0, row["false_positives"] or 0
        row["precision"] = tp / (tp + fp) if tp + fp else None
    return {
        "decisions_per_day": decisions_per_day,
        "max_per_day": max((sum(v.values()) for v in decisions_per_day.values()), default=0),
        "backlog": backlog_rows,
        "backlog_total": sum(row["n"] for row in backlog_rows),
        # the queue's default (what the model flagged, or could not score) and what it cleared
        "backlog_flagged": count_cases(store, QueueFilter(status=OPEN, flagged=FLAGGED)),
        "backlog_cleared": count_cases(store, QueueFilter(status=OPEN, flagged=CLEARED)),
        "counts": store.counts(),
        "precision_by_version": versions,
        "last_run": public(dict(last_run._mapping)) if last_run else None,
        "since": utc(since).date().isoformat(),
    }
