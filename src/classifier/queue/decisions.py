"""Expert decisions on cases: the case's new status, the decision row (future training data), the audit entry.

Two experts may decide one case at the same moment from pages showing the same version: the case's
``version`` column makes the second decision fail loudly (:class:`StaleCaseError`) instead of silently
overwriting the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, Row, select, update

from classifier.common.faults import crash_point
from classifier.queue.audit import AuditTrail
from classifier.queue.schema import CATEGORIES, DECISIONS, PENDING, cases_table, decisions_table
from classifier.queue.values import clean_text, now, public


class StaleCaseError(ValueError):
    """Another decision changed the case after the page was shown: reload it and decide again."""

    def __init__(self, case_id: int, expert: str = "", decision: str = ""):
        what = f"was decided by {expert} ({decision})" if expert else "changed"
        super().__init__(f"case {case_id} {what} while you were deciding: reload it and decide again")
        self.case_id, self.expert, self.decision = case_id, expert, decision


class DecisionRecorder:
    """Records decisions; with ``confirmations_required`` above 1, confirmations by different experts."""

    def __init__(self, engine: Engine, audit: AuditTrail, confirmations_required: int = 1):
        if confirmations_required < 1:
            raise ValueError(f"confirmations_required must be at least 1, not {confirmations_required}")
        self.engine = engine
        self.audit = audit
        self.confirmations_required = confirmations_required

    def record(
        self,
        case_id: int,
        decision: str,
        expert: str,
        comment: str = "",
        *,
        category: str | None = None,
        expected_version: int | None = None,
        shown: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An expert's decision on a case: sets its status, keeps the decision row and an audit entry.

        ``expected_version`` is the case's ``version`` on the page the expert decided on: when another
        decision came first, :class:`StaleCaseError` is raised and nothing is written. With
        ``confirmations_required`` above 1, a confirmation counts once per expert, and the case stays
        ``pending`` until enough different experts confirmed since its last other decision.
        ``shown`` (score, model version) is what the page showed, kept in the audit entry.
        """
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
        if not expert or not expert.strip():
            raise ValueError("a decision needs the expert who made it")
        if category is not None and category not in CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(CATEGORIES)}, not {category!r}")
        c = cases_table.c
        with self.engine.begin() as conn:
            case = self._claim(conn, case_id, expected_version)
            status = self._status_after(conn, case_id, decision, expert)
            values = {
                "case_id": case_id,
                "decision": decision,
                "expert": expert,
                "comment": clean_text(comment),
                "decided_at": now(),
                "score": case.score,
                "model_version": case.model_version,
                # the expert's category, else the model's when it named one ("none" below its threshold)
                "category": (category or (case.category if case.category in CATEGORIES else None))
                if decision == "confirmed"
                else None,
            }
            decision_id = conn.execute(decisions_table.insert().values(values)).inserted_primary_key[0]
            conn.execute(update(cases_table).where(c.id == case_id).values(status=status))
            crash_point("store.record_decision")  # case and decision written, the audit entry not
            detail = {
                "decision": decision,
                "status": status,
                "previous_status": case.status,
                "category": values["category"],
                "comment": values["comment"],
                "score": case.score,
                "model_version": case.model_version,
                **{f"shown_{k}": v for k, v in (shown or {}).items()},
            }
            self.audit.write(conn, expert, "decision", case_id, detail)
        return public({"id": decision_id, **values, "status": status, "version": case.version})

    def _claim(self, conn: Connection, case_id: int, expected_version: int | None) -> Row[Any]:
        """Bump the case's version and return the case as it was; refuse a decision on an outdated page.

        The bump comes first: it takes the row's write lock, so concurrent decisions on a case are
        serialised, and a decision made on an outdated page matches no row.
        """
        c = cases_table.c
        bump = update(cases_table).where(c.id == case_id).values(version=c.version + 1)
        if expected_version is not None:
            # no version is outside the column's 32 bits, and PostgreSQL refuses to compare one with it
            bump = bump.where(c.version == (expected_version if 0 <= expected_version < 2**31 else -1))
        if conn.execute(bump).rowcount == 0:
            if conn.execute(select(c.id).where(c.id == case_id)).first() is None:
                raise ValueError(f"unknown case {case_id!r}")
            d = decisions_table.c
            latest = select(d.expert, d.decision).where(d.case_id == case_id).order_by(d.id.desc())
            raise StaleCaseError(case_id, *(conn.execute(latest.limit(1)).first() or ()))
        return conn.execute(
            select(c.score, c.model_version, c.status, c.category, c.version).where(c.id == case_id)
        ).one()

    def _status_after(self, conn: Connection, case_id: int, decision: str, expert: str) -> str:
        """The case's status once this decision is recorded: ``pending`` until enough experts confirmed."""
        if decision != "confirmed" or self.confirmations_required == 1:
            return decision
        confirmed_by = self._confirmers(conn, case_id)
        if expert in confirmed_by:
            raise ValueError(f"{expert} has already confirmed case {case_id}: another expert must confirm it")
        return "confirmed" if len(confirmed_by) + 1 >= self.confirmations_required else PENDING

    def _confirmers(self, conn: Connection, case_id: int) -> set[str]:
        """Experts who confirmed the case since its last decision of another kind."""
        d = decisions_table.c
        rows = conn.execute(
            select(d.decision, d.expert).where(d.case_id == case_id).order_by(d.id.desc())
        ).all()
        experts = set()
        for row in rows:
            if row.decision != "confirmed":
                break
            experts.add(row.expert)
        return experts
