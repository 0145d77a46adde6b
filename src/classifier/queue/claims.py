"""Claims: a case an expert opened through "next" is theirs for a while (``minutes``), and the others'
"next" passes it by, so that two experts pressing "next" at the same moment get different cases.

A claim is one row per case (``claims``), taken in one statement that only succeeds when the case is
unclaimed, its claim has expired, or it is the expert's own: ``INSERT ... ON CONFLICT DO NOTHING``, then
a conditional ``UPDATE``. On PostgreSQL the second of two concurrent inserts waits for the first to
commit and then inserts nothing; on SQLite writes are serialised by the file's lock. An expert holds one
claim at a time: taking one gives up their others. A decision on the case ends its claim
(``decisions``); an admin can end any claim.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from classifier.queue.schema import cases_table, claims_table
from classifier.queue.values import now, public


def _insert_if_free(conn: Connection) -> Any:
    """``INSERT`` that does nothing when the case already has a claim row (both dialects say it alike)."""
    dialect = {"sqlite": sqlite, "postgresql": postgresql}.get(conn.dialect.name)
    if dialect is None:
        return insert(claims_table)
    return dialect.insert(claims_table).on_conflict_do_nothing(index_elements=["case_id"])


class ClaimBook:
    """Who is working on which case, until when."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def take(self, case_id: int, expert: str, minutes: float) -> bool:
        """Claim the case for ``expert`` for ``minutes`` (renewing their own claim); False when another
        expert's claim on it is still running. Gives up the expert's claims on other cases."""
        if not expert or not 0 < case_id < 2**63:
            return False
        start = now()
        values = {"expert": expert, "claimed_at": start, "expires_at": start + timedelta(minutes=minutes)}
        k = claims_table.c
        with self.engine.begin() as conn:
            taken = conn.execute(_insert_if_free(conn).values(case_id=case_id, **values)).rowcount == 1
            if not taken:
                renew = update(claims_table).where(
                    k.case_id == case_id, or_(k.expert == expert, k.expires_at <= start)
                )
                taken = conn.execute(renew.values(**values)).rowcount == 1
            if taken:
                conn.execute(delete(claims_table).where(k.expert == expert, k.case_id != case_id))
        return taken

    def release(self, case_id: int, expert: str | None = None) -> bool:
        """End the claim on a case (only ``expert``'s, when given); True if there was one."""
        if not 0 < case_id < 2**63:
            return False
        stmt = delete(claims_table).where(claims_table.c.case_id == case_id)
        if expert is not None:
            stmt = stmt.where(claims_table.c.expert == expert)
        with self.engine.begin() as conn:
            return conn.execute(stmt).rowcount > 0

    def holder(self, case_id: int) -> dict[str, Any] | None:
        """The running claim on a case (expert, claimed_at, expires_at), or None."""
        if not 0 < case_id < 2**63:
            return None
        k = claims_table.c
        stmt = select(k.case_id, k.expert, k.claimed_at, k.expires_at).where(
            k.case_id == case_id, k.expires_at > now()
        )
        with self.engine.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        return public(row) if row else None

    def running(self) -> list[dict[str, Any]]:
        """Every running claim with its case's title, URL and status, the latest first."""
        k, c = claims_table.c, cases_table.c
        stmt = (
            select(k.case_id, k.expert, k.claimed_at, k.expires_at, c.title, c.domain, c.url, c.status)
            .join(cases_table, c.id == k.case_id)
            .where(k.expires_at > now())
            .order_by(k.claimed_at.desc(), k.case_id)
        )
        with self.engine.connect() as conn:
            return [public(row) for row in conn.execute(stmt).mappings()]


def end_claim(conn: Connection, case_id: int) -> None:
    """A decision on the case ends its claim, in the decision's transaction."""
    conn.execute(delete(claims_table).where(claims_table.c.case_id == case_id))
