"""Views of the case store for the review app: the filtered queue, the next case to decide (which claims
it), the uncertain cases, the dashboard. Every filter value is a bound parameter, never SQL text."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, and_, case, cast, exists, func, or_, select

from classifier.queue.reads import DEFAULT_THRESHOLD, ranked
from classifier.queue.schema import NEW, PENDING, cases_table, claims_table, decisions_table, runs_table
from classifier.queue.store import CaseStore
from classifier.queue.values import clean_text, now, public, utc

# The queue lists these columns; the text stays on the case page.
LIST_COLUMNS = (
    "id",
    "url",
    "domain",
    "title",
    "score",
    "label",
    "category",
    "priority",
    "language",
    "cluster_id",
    "cluster_size",
    "shop_id",
    "report_count",
    "first_seen",
    "last_seen",
    "status",
    "model_version",
    "last_status",
    "last_error",
)
SEARCH_CHARS = 200
NEXT_CANDIDATES = 20  # cases "next" tries to claim per look at the queue
NEXT_LOOKS = 3  # looks at the queue before "next" gives up (only concurrent experts can exhaust one)
OPEN = "open"  # the queue's default: new cases and those waiting for a second confirmation


@dataclass(frozen=True)
class QueueFilter:
    """What the expert asked the queue for; empty values filter nothing; status ``open`` is new or pending."""

    status: str = ""
    language: str = ""
    category: str = ""
    min_score: float | None = None
    search: str = ""


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _list_columns() -> list[Any]:
    return [cases_table.c[name] for name in LIST_COLUMNS]


def _threshold() -> Any:
    """The threshold of the run that last scored the case (``DEFAULT_THRESHOLD`` when unknown): the
    model flagged the case when its score is at or above it. Selected from ``_with_runs``."""
    return func.coalesce(runs_table.c.threshold, DEFAULT_THRESHOLD).label("threshold")


def _with_runs() -> Any:
    return cases_table.outerjoin(runs_table, runs_table.c.run_id == cases_table.c.last_run_id)


def _where(stmt: Any, f: QueueFilter) -> Any:
    c = cases_table.c
    # without NUL, as everything stored (clean_text): PostgreSQL refuses it in a text parameter
    status, language, category, search = map(clean_text, (f.status, f.language, f.category, f.search))
    if status == OPEN:
        stmt = stmt.where(c.status.in_([NEW, PENDING]))
    elif status:
        stmt = stmt.where(c.status == status)
    if language:
        stmt = stmt.where(c.language == language)
    if category:
        stmt = stmt.where(c.category == category)
    if f.min_score is not None:
        stmt = stmt.where(c.score >= f.min_score)
    if search:
        # a plain substring, case-insensitive; LIKE's wildcards in the query are taken literally
        needle = search.strip()[:SEARCH_CHARS].lower()
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        stmt = stmt.where(
            or_(
                func.lower(c.url).like(pattern, escape="\\"),
                func.lower(c.title).like(pattern, escape="\\"),
                func.lower(c.excerpt).like(pattern, escape="\\"),
            )
        )
    return stmt


def find_cases(store: CaseStore, f: QueueFilter, page: int = 1, per_page: int = 50) -> Page:
    """One page of the queue, most urgent first, with the number of matching cases."""
    page = max(1, page)
    listed = select(*_list_columns(), _threshold()).select_from(_with_runs())
    stmt = _where(ranked(listed), f).limit(per_page).offset((page - 1) * per_page)
    count = _where(select(func.count()).select_from(cases_table), f)
    with store.engine.connect() as conn:
        rows = [public(r) for r in conn.execute(stmt).mappings()]
        total = conn.execute(count).scalar_one()
    return Page(rows, total, page, per_page)


def next_case(
    store: CaseStore, f: QueueFilter, expert: str, minutes: float, skip: Collection[int] = ()
) -> int | None:
    """The most urgent case of the filtered queue that no other expert has claimed and that is not in
    ``skip`` (the cases the expert left), claimed for ``expert`` for ``minutes``; None when none is left.

    Two experts asking at the same moment get different cases: the claim is taken atomically
    (``claims``), and a case claimed between the look at the queue and the claim is passed by.
    """
    c, k = cases_table.c, claims_table.c
    claimed = exists().where(k.case_id == c.id, k.expert != expert, k.expires_at > now())
    stmt = _where(ranked(select(c.id)), f).where(~claimed, ~_confirmed_by(expert))
    skipped = sorted({i for i in skip if 0 < i < 2**63})
    if skipped:
        stmt = stmt.where(c.id.not_in(skipped))
    tried: set[int] = set()
    for _ in range(NEXT_LOOKS):
        query = stmt.where(c.id.not_in(sorted(tried))) if tried else stmt
        with store.engine.connect() as conn:
            candidates = conn.execute(query.limit(NEXT_CANDIDATES)).scalars().all()
        for case_id in candidates:
            if store.claim(case_id, expert, minutes):
                return case_id
            tried.add(case_id)
        if len(candidates) < NEXT_CANDIDATES:
            return None
    return None


def _confirmed_by(expert: str) -> Any:
    """A pending case the expert gave a confirmation to: another expert must give the next one."""
    c, d = cases_table.c, decisions_table.c
    other = decisions_table.alias("other")
    last_other = (
        select(func.coalesce(func.max(other.c.id), 0))
        .where(other.c.case_id == c.id, other.c.decision != "confirmed")
        .scalar_subquery()
    )
    mine = exists().where(d.case_id == c.id, d.expert == expert, d.decision == "confirmed", d.id > last_other)
    return and_(c.status == PENDING, mine)


def facets(store: CaseStore) -> dict[str, list[str]]:
    """The languages and categories present, for the filter menus."""
    c = cases_table.c
    with store.engine.connect() as conn:
        languages = [v for (v,) in conn.execute(select(c.language).distinct().order_by(c.language)) if v]
        categories = [v for (v,) in conn.execute(select(c.category).distinct().order_by(c.category)) if v]
    return {"languages": languages, "categories": categories}


def uncertain_cases(store: CaseStore, limit: int = 50) -> list[dict[str, Any]]:
    """Undecided cases whose score is nearest their model's threshold: the most useful to label.

    The threshold is the one of the run that last scored the case (0.5 when unknown).
    """
    c = cases_table.c
    threshold = _threshold()
    distance = func.abs(c.score - threshold.element)
    stmt = (
        select(*_list_columns(), threshold, distance.label("distance"))
        .select_from(_with_runs())
        .where(c.status.in_([NEW, PENDING]), c.score.is_not(None))
        .order_by(distance, c.priority.desc().nulls_last(), c.id)
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [public(row) for row in conn.execute(stmt).mappings()]


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
        "counts": store.counts(),
        "precision_by_version": versions,
        "last_run": public(dict(last_run._mapping)) if last_run else None,
        "since": utc(since).date().isoformat(),
    }
