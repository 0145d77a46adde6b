"""Reading cases back: the review order, one case with its history, duplicate groups, counts, runs.

The review app's filtered queries (search, facets, dashboard) are in ``views``; both order cases with
:func:`ranked`, so that every list shows the same case first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from classifier.queue.schema import STATUSES, cases_table, decisions_table, runs_table, scores_table
from classifier.queue.values import public

DEFAULT_THRESHOLD = 0.5  # a case's model threshold when its run recorded none


def ranked(stmt: Any) -> Any:
    """Review order: cases with a score first, by priority (then score) descending, then oldest id."""
    c = cases_table.c
    return stmt.order_by(
        (c.score.is_(None)).asc(),
        c.priority.desc().nulls_last(),
        c.score.desc().nulls_last(),
        c.id.asc(),
    )


def listed_columns() -> list[Any]:
    """Every case column but the page's text and its images' (up to 200,000 characters each): lists
    never show them."""
    return [column for column in cases_table.c if column.name not in ("text", "images")]


class CaseReader:
    """Read-only queries on cases and runs; each runs on a connection of its own."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def cases(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Cases for the review queue, most urgent first; never-scored (error) cases last (without text)."""
        stmt = ranked(select(*listed_columns()))
        if status is not None:
            stmt = stmt.where(cases_table.c.status == status)
        stmt = stmt.limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [public(r) for r in conn.execute(stmt).mappings()]

    def case(self, case_id: int) -> dict[str, Any] | None:
        """One case with its ``scores`` history (oldest first), ``decisions``, and the ``threshold`` of the
        run that last scored it (at or above it the model flagged the case); None if unknown."""
        with self.engine.connect() as conn:
            row = conn.execute(select(cases_table).where(cases_table.c.id == case_id)).mappings().first()
            if row is None:
                return None
            case = public(row)
            s, d = scores_table.c, decisions_table.c
            history = select(scores_table).where(s.case_id == case_id).order_by(s.scored_at, s.id)
            decisions = select(decisions_table).where(d.case_id == case_id).order_by(d.decided_at, d.id)
            case["scores"] = [public(r) for r in conn.execute(history).mappings()]
            case["decisions"] = [public(r) for r in conn.execute(decisions).mappings()]
            run = select(runs_table.c.threshold).where(runs_table.c.run_id == case["last_run_id"])
            threshold = conn.execute(run).scalar() if case["last_run_id"] else None
            case["threshold"] = DEFAULT_THRESHOLD if threshold is None else threshold
        return case

    def cluster(self, cluster_id: str) -> list[dict[str, Any]]:
        """The cases of one duplicate group (mirrors of one ad), most urgent first (without text)."""
        if not cluster_id:
            return []
        stmt = ranked(select(*listed_columns()).where(cases_table.c.cluster_id == cluster_id))
        with self.engine.connect() as conn:
            return [public(r) for r in conn.execute(stmt).mappings()]

    def counts(self) -> dict[str, int]:
        """Number of cases by status; every known status is present, zero or not."""
        stmt = select(cases_table.c.status, func.count()).group_by(cases_table.c.status)
        with self.engine.connect() as conn:
            found = {status: n for status, n in conn.execute(stmt)}
        return {**dict.fromkeys(STATUSES, 0), **found}

    def runs(self) -> list[dict[str, Any]]:
        """All runs, the latest first."""
        stmt = select(runs_table).order_by(runs_table.c.started_at.desc(), runs_table.c.run_id)
        with self.engine.connect() as conn:
            return [public(r) for r in conn.execute(stmt).mappings()]
