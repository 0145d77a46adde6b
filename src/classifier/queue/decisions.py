"""Expert decisions on cases: the case's new status, the decision row (future training data), the audit entry.

Two experts may decide one case at the same moment from pages showing the same version: the case's
``version`` column makes the second decision fail loudly (:class:`StaleCaseError`) instead of silently
overwriting the first.

A decision can name a shop (``decisions.shop_id``, and its audit entry): a case confirmed *as a mirror* of
a shop experts confirmed (:meth:`DecisionRecorder.record` with ``shop_id``), or the undecided pages of a
shop decided at once from its page (:meth:`DecisionRecorder.decide_shop`), each page its own decision row
and audit entry, in one transaction, a page that changed meanwhile skipped rather than overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, func, select, update

from classifier.common.batching import batched
from classifier.common.faults import crash_point
from classifier.queue.audit import AuditTrail
from classifier.queue.claims import end_claim
from classifier.queue.schema import CATEGORIES, DECISIONS, PENDING, cases_table, decisions_table
from classifier.queue.shops import UNDECIDED_STATUSES, confirmed_case, shop_category
from classifier.queue.values import IN_LIST_LIMIT, clean_text, now, public
from classifier.queue.writes import BATCH_LOCK

# Why a decision on a shop left a page alone (``decide_shop``'s ``skipped``)
UNKNOWN, OTHER_SHOP, CHANGED, DECIDED, ALREADY_CONFIRMED = (
    "unknown",  # no such case
    "other_shop",  # the case is no longer (or never was) a page of this shop
    "changed",  # decided (or changed) since the page showed it: the version check
    "decided",  # not undecided: an expert confirmed, rejected or marked it unsure
    "already_confirmed",  # waits for a second confirmation, and this expert gave the first
)


class _Case(NamedTuple):
    """What a decision reads of its case."""

    id: int
    score: float | None
    model_version: str
    status: str
    category: str | None
    version: int
    shop_id: int | None


_CASE_COLUMNS = tuple(cases_table.c[name] for name in _Case._fields)


class StaleCaseError(ValueError):
    """Another decision changed the case after the page was shown: reload it and decide again."""

    def __init__(self, case_id: int, expert: str = "", decision: str = "", version: int | None = None):
        what = f"was decided by {expert} ({decision})" if expert else "changed"
        super().__init__(f"case {case_id} {what} while you were deciding: reload it and decide again")
        self.case_id, self.expert, self.decision = case_id, expert, decision
        self.version = version  # the case's version now: one more than the page's after one decision

    def repeats(self, expert: str, decision: str, expected_version: int | None) -> bool:
        """Whether the refused decision is the latest one sent again (a second press, a resent form):
        the same expert and decision, on the page the latest decision was made on."""
        return (
            expected_version is not None
            and (self.expert, self.decision) == (expert, decision)
            and self.version == expected_version + 1
        )


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
        shop_id: int | None = None,
        require_category: bool = False,
    ) -> dict[str, Any]:
        """An expert's decision on a case: sets its status, keeps the decision row and an audit entry.

        ``expected_version`` is the case's ``version`` on the page the expert decided on: when another
        decision came first, :class:`StaleCaseError` is raised and nothing is written. With
        ``confirmations_required`` above 1, a confirmation counts once per expert, and the case stays
        ``pending`` until enough different experts confirmed since its last other decision.
        ``shown`` (score, model version) is what the page showed, kept in the audit entry.

        ``shop_id``: the decision is made as a page of that shop (a confirmation "as a mirror of shop
        N"): ValueError unless the case belongs to the shop and, for a confirmation, experts confirmed
        the shop (one of its pages is confirmed). Without a ``category``, a confirmation takes the one
        experts named for the shop; with ``require_category`` (the review app's form), a confirmation
        without one is refused (ValueError) once the version check passed, instead of taking the model's.
        """
        _check(decision, expert, category)
        with self.engine.begin() as conn:
            case = self._claim(conn, case_id, expected_version)
            if require_category and decision == "confirmed" and not category and shop_id is None:
                raise ValueError(f"a confirmation of case {case_id} needs a category")
            if shop_id is not None:
                category = category or self._as_page_of(conn, case, shop_id, decision)
            status = self._status_after(conn, case_id, decision, expert)
            how = "mirror" if shop_id is not None else ""
            return self._write(conn, case, decision, expert, comment, category, status, shop_id, how, shown)

    def decide_shop(
        self,
        shop_id: int,
        decision: str,
        expert: str,
        comment: str = "",
        *,
        category: str | None = None,
        versions: Mapping[int, int] | None = None,
    ) -> dict[str, Any]:
        """Decide the undecided pages of a shop at once, in one transaction: each its own decision row
        (naming the shop) and audit entry (naming the expert and the shop).

        Undecided means what the queue waits for: ``new``, and ``pending`` (waiting for a second
        confirmation, which this expert may give unless they gave the first). A page an expert marked
        unsure, or confirmed or rejected, keeps that decision: it was looked at on its own.
        ``versions``: the pages the expert was shown, by case id, with the versions shown; only these are
        decided, and one that changed since (another expert decided it), left the shop, or is no longer
        undecided is skipped, not overwritten. Without it, every undecided page of the shop now.

        A confirmation needs a confirmed shop (ValueError otherwise, as for an unknown shop): confirm
        one of its pages on its own first. Returns ``decided`` (the decisions) and ``skipped`` (case id,
        ``reason`` and, when another decision came first, who made it and what it was).
        """
        _check(decision, expert, category)
        decided: list[dict[str, Any]] = []
        skipped: list[dict[str, Any]] = []
        with self.engine.begin() as conn:
            self._one_writer(conn)
            if not self._known_shop(conn, shop_id):
                raise ValueError(f"unknown shop {shop_id}")
            if decision == "confirmed":
                self._confirmed_shop(conn, shop_id)
                category = category or shop_category(conn, shop_id)
            cases = self._cases(conn, shop_id, versions)
            for case_id in sorted(versions) if versions is not None else sorted(cases):
                case = cases.get(case_id)
                expected = versions[case_id] if versions is not None else None
                reason = self._claim_page(conn, case, shop_id, expected, decision, expert)
                if case is None or reason:
                    skipped.append({"case_id": case_id, **(reason or {})})
                    continue
                status = self._status_after(conn, case_id, decision, expert)
                case = case._replace(version=case.version + 1)
                args = (decision, expert, comment, category, status, shop_id, "shop", None)
                decided.append(self._write(conn, case, *args))
        return {"shop_id": shop_id, "decision": decision, "decided": decided, "skipped": skipped}

    # -- writing one decision --

    def _write(
        self,
        conn: Connection,
        case: _Case,
        decision: str,
        expert: str,
        comment: str,
        category: str | None,
        status: str,
        shop_id: int | None,
        how: str,
        shown: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """The decision row, the case's new status and the audit entry (``how``: "mirror" or "shop" when
        the decision names a shop)."""
        values = {
            "case_id": case.id,
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
            "shop_id": shop_id,
        }
        decision_id = conn.execute(decisions_table.insert().values(values)).inserted_primary_key[0]
        conn.execute(update(cases_table).where(cases_table.c.id == case.id).values(status=status))
        end_claim(conn, case.id)  # decided: "next" may give it to another expert (a second confirmation)
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
        if shop_id is not None:
            detail.update(
                shop_id=shop_id, how=how
            )  # "mirror": confirmed as a mirror; "shop": on the shop page
        self.audit.write(conn, expert, "decision", case.id, detail)
        return public({"id": decision_id, **values, "status": status, "version": case.version})

    def _claim(self, conn: Connection, case_id: int, expected_version: int | None) -> _Case:
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
            version = conn.execute(select(c.version).where(c.id == case_id)).scalar()
            if version is None:
                raise ValueError(f"unknown case {case_id!r}")
            raise StaleCaseError(case_id, *self._latest(conn, case_id), version=version)
        return _Case(*conn.execute(select(*_CASE_COLUMNS).where(c.id == case_id)).one())

    def _latest(self, conn: Connection, case_id: int) -> tuple[str, ...]:
        """(expert, decision) of the case's latest decision, or nothing."""
        d = decisions_table.c
        latest = select(d.expert, d.decision).where(d.case_id == case_id).order_by(d.id.desc()).limit(1)
        return tuple(conn.execute(latest).first() or ())

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

    # -- shops --

    def _as_page_of(self, conn: Connection, case: _Case, shop_id: int, decision: str) -> str | None:
        """Refuse a decision as a page of a shop the case is not in, or a confirmation as a mirror of a
        shop experts have not confirmed; return the category experts named for the shop."""
        if case.shop_id != shop_id:
            raise ValueError(f"case {case.id} is not a page of shop {shop_id}")
        if decision != "confirmed":
            return None
        self._confirmed_shop(conn, shop_id)
        return shop_category(conn, shop_id)

    def _confirmed_shop(self, conn: Connection, shop_id: int) -> None:
        if confirmed_case(conn, shop_id) is None:
            raise ValueError(f"shop {shop_id} is not confirmed: confirm one of its pages on its own first")

    def _known_shop(self, conn: Connection, shop_id: int) -> bool:
        if not 0 < shop_id < 2**63:  # no id is beyond 64 bits, and the databases refuse to compare one
            return False
        c = cases_table.c
        return conn.execute(select(c.id).where(c.shop_id == shop_id).limit(1)).first() is not None

    def _one_writer(self, conn: Connection) -> None:
        """A decision on a shop writes many cases: it waits for a scoring batch, which moves cases between
        shops, instead of interleaving with it (SQLite: the file's write lock now; PostgreSQL: the
        batches' lock, so that the two never lock cases in opposite orders)."""
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.execute(select(func.pg_advisory_xact_lock(BATCH_LOCK)))

    def _cases(self, conn: Connection, shop_id: int, versions: Mapping[int, int] | None) -> dict[int, _Case]:
        """The cases to decide: those named (wherever they are now), or the shop's undecided ones."""
        c = cases_table.c
        if versions is None:
            query = select(*_CASE_COLUMNS).where(c.shop_id == shop_id, c.status.in_(UNDECIDED_STATUSES))
            return {row.id: _Case(*row) for row in conn.execute(query)}
        found = {}
        for chunk in batched(sorted(i for i in versions if 0 < i < 2**63), IN_LIST_LIMIT):
            found.update(
                {row.id: _Case(*row) for row in conn.execute(select(*_CASE_COLUMNS).where(c.id.in_(chunk)))}
            )
        return found

    def _claim_page(
        self,
        conn: Connection,
        case: _Case | None,
        shop_id: int,
        expected: int | None,
        decision: str,
        expert: str,
    ) -> dict[str, Any] | None:
        """Claim a page for a decision on the shop: bump its version (which locks its row) and return
        None; or return why the decision leaves it alone (``skipped``) and change nothing."""
        if case is None:
            return {"reason": UNKNOWN}
        if case.shop_id != shop_id:
            return {"reason": OTHER_SHOP}
        c = cases_table.c
        if expected is not None and case.version != expected:
            return self._changed(conn, case.id)
        if case.status not in UNDECIDED_STATUSES:
            return {"reason": DECIDED, "status": case.status}
        if decision == "confirmed" and case.status == PENDING and expert in self._confirmers(conn, case.id):
            return {"reason": ALREADY_CONFIRMED, "status": case.status}
        bump = update(cases_table).where(c.id == case.id, c.version == case.version)
        if conn.execute(bump.values(version=c.version + 1)).rowcount == 0:
            return self._changed(conn, case.id)  # PostgreSQL: a decision on the case alone came first
        return None

    def _changed(self, conn: Connection, case_id: int) -> dict[str, Any]:
        c = cases_table.c
        status = conn.execute(select(c.status).where(c.id == case_id)).scalar()
        return {
            "reason": CHANGED,
            "status": status,
            **dict(zip(("expert", "decision"), self._latest(conn, case_id), strict=False)),
        }


def _check(decision: str, expert: str, category: str | None) -> None:
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if not expert or not expert.strip():
        raise ValueError("a decision needs the expert who made it")
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"category must be one of {', '.join(CATEGORIES)}, not {category!r}")
