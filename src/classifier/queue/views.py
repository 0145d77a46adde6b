"""Views of the case store for the review app: the filtered queue, the next case to decide (which claims
it), the uncertain cases, the dashboard. Every filter value is a bound parameter, never SQL text."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, exists, func, or_, select

from classifier.common.batching import batched
from classifier.queue.reads import DEFAULT_THRESHOLD, ranked
from classifier.queue.schema import (
    NEW,
    PENDING,
    STATUSES,
    cases_table,
    claims_table,
    decisions_table,
    runs_table,
)
from classifier.queue.store import CaseStore
from classifier.queue.values import IN_LIST_LIMIT, clean_text, now, public

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
FLAGGED = "yes"  # the model flagged the case, or could not score it (see ``_flag_filter``)
CLEARED = "no"  # scored below its model's threshold
# the columns the queue can be sorted by (``find_cases``); "" is the review order (``ranked``)
SORTS = ("score", "first_seen", "last_seen", "copies", "status")


@dataclass(frozen=True)
class QueueFilter:
    """What the expert asked the queue for; empty values filter nothing; status ``open`` is new or pending.

    ``flagged``: FLAGGED or CLEARED (see ``_flag_filter``); ``seen_from`` and ``seen_before``: first seen
    at or after, and before, these moments; ``expert``: cases with a decision of that expert's."""

    status: str = ""
    language: str = ""
    category: str = ""
    min_score: float | None = None
    search: str = ""
    flagged: str = ""
    seen_from: datetime | None = None
    seen_before: datetime | None = None
    expert: str = ""


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    total: int
    page: int
    per_page: int
    asked: int = 1  # the page asked for: beyond the last one, ``page`` is the last

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


def _listed() -> Any:
    """The queue's columns and each case's threshold, as the queue page and its export list them."""
    return select(*_list_columns(), _threshold()).select_from(_with_runs())


def _case_threshold() -> Any:
    """``_threshold`` as a subquery of the case row, for statements without ``_with_runs``."""
    run = runs_table.alias("flag_run")
    found = select(run.c.threshold).where(run.c.run_id == cases_table.c.last_run_id).correlate(cases_table)
    return func.coalesce(found.scalar_subquery(), DEFAULT_THRESHOLD)


def _flag_filter(flagged: str) -> Any:
    """FLAGGED: scored at or above the threshold, or never scored. A case the model could not score (an
    error) stays with the flagged ones: nothing has cleared it, and only an expert can look at it."""
    c = cases_table.c
    if flagged == CLEARED:
        return c.score < _case_threshold()
    return or_(c.score.is_(None), c.score >= _case_threshold())


def _where(stmt: Any, f: QueueFilter) -> Any:
    c = cases_table.c
    # without NUL, as everything stored (clean_text): PostgreSQL refuses it in a text parameter
    status, language, category, search = map(clean_text, (f.status, f.language, f.category, f.search))
    expert = clean_text(f.expert)
    if f.flagged in (FLAGGED, CLEARED):
        stmt = stmt.where(_flag_filter(f.flagged))
    if f.seen_from is not None:
        stmt = stmt.where(c.first_seen >= f.seen_from)
    if f.seen_before is not None:
        stmt = stmt.where(c.first_seen < f.seen_before)
    if expert:
        d = decisions_table.c
        stmt = stmt.where(exists().where(d.case_id == c.id, d.expert == expert))
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


def _ordered(stmt: Any, sort: str, descending: bool) -> Any:
    """By a column of ``SORTS`` (missing scores last either way), then in review order; else review order."""
    c = cases_table.c
    status_rank = case({s: i for i, s in enumerate(STATUSES)}, value=c.status, else_=len(STATUSES))
    columns = {
        "score": c.score,
        "first_seen": c.first_seen,
        "last_seen": c.last_seen,
        "copies": c.cluster_size,
        "status": status_rank,  # as a case goes: new, pending, then the decisions
    }
    if sort not in columns:
        return ranked(stmt)
    key = columns[sort].desc() if descending else columns[sort].asc()
    return ranked(stmt.order_by(key.nulls_last()))


def count_cases(store: CaseStore, f: QueueFilter) -> int:
    with store.engine.connect() as conn:
        return conn.execute(_where(select(func.count()).select_from(cases_table), f)).scalar_one()


def status_counts(store: CaseStore, f: QueueFilter) -> dict[str, int]:
    """Cases by status among those the filter's other conditions select; every status is present."""
    c = cases_table.c
    stmt = _where(select(c.status, func.count()).group_by(c.status), replace(f, status=""))
    with store.engine.connect() as conn:
        found = {status: n for status, n in conn.execute(stmt)}
    return {**dict.fromkeys(STATUSES, 0), **found}


def find_cases(
    store: CaseStore,
    f: QueueFilter,
    page: int = 1,
    per_page: int = 50,
    *,
    sort: str = "",
    descending: bool = False,
) -> Page:
    """One page of the queue, most urgent first (or by ``sort``), with the number of matching cases and
    each case's latest decision (``last_decision``, ``last_expert``, ``last_decided_at``). A page beyond
    the last is the last: an empty table would look like an empty queue."""
    asked = max(1, page)
    total = count_cases(store, f)
    page = min(asked, max(1, -(-total // per_page)))
    stmt = _where(_ordered(_listed(), sort, descending), f).limit(per_page).offset((page - 1) * per_page)
    with store.engine.connect() as conn:
        rows = [public(r) for r in conn.execute(stmt).mappings()]
        _add_last_decisions(conn, rows)
    return Page(rows, total, page, per_page, asked)


def queue_rows(store: CaseStore, f: QueueFilter, *, sort: str = "", descending: bool = False) -> list[Any]:
    """Every case the filter selects, in the queue's order, with its threshold and latest decision (the
    queue's CSV export)."""
    with store.engine.connect() as conn:
        rows = [public(r) for r in conn.execute(_where(_ordered(_listed(), sort, descending), f)).mappings()]
        _add_last_decisions(conn, rows)
    return rows


def _add_last_decisions(conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Each row's latest decision: what it was, by whom and when (None when no expert has decided)."""
    d = decisions_table.c
    by_case = {row["id"]: row for row in rows}
    for row in by_case.values():
        row.update(last_decision=None, last_expert=None, last_decided_at=None)
    for chunk in batched(sorted(by_case), IN_LIST_LIMIT):
        latest = select(func.max(d.id)).where(d.case_id.in_(chunk)).group_by(d.case_id)
        stmt = select(d.case_id, d.decision, d.expert, d.decided_at).where(d.id.in_(latest))
        for found in conn.execute(stmt).mappings():
            decision = public(found)
            by_case[found["case_id"]].update(
                last_decision=decision["decision"],
                last_expert=decision["expert"],
                last_decided_at=decision["decided_at"],
            )


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


def decided_experts(store: CaseStore) -> list[str]:
    """The experts who decided anything, for the queue's expert filter."""
    d = decisions_table.c
    with store.engine.connect() as conn:
        return [v for (v,) in conn.execute(select(d.expert).distinct().order_by(d.expert)) if v]


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
