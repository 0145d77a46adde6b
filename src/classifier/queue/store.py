"""The case store: one object over one database, handed to the scoring run, the review app and the CLI.

:class:`CaseStore` owns the engine (opened in ``database``, brought to the current schema in
``migrate``) and composes one part per concern, each a short module of its own:

- ``writes.ScoreWriter``: scoring runs and their scored rows (``start_run``, ``add_scored``, ...);
- ``reads.CaseReader``: the review order, one case with its history, duplicate groups, counts, runs;
- ``decisions.DecisionRecorder``: expert decisions, refused when made on an outdated page;
- ``audit.AuditTrail``: the audit log;
- ``bank.ShopBank``: the bank of shops, looked up by scoring runs (``lookup``);
- ``shops.ShopReader``: shops as experts see them (``shop``: its pages and why each is in it);
- ``claims.ClaimBook``: which expert is working on which case ("next" claims the case it opens).

Callers use the store's methods, which keep the names they have always had; the parts are there for
whoever needs one concern only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from classifier.common.config import ScoreSettings
from classifier.queue.audit import AuditTrail
from classifier.queue.claims import ClaimBook
from classifier.queue.database import masked_url, open_engine
from classifier.queue.decisions import DecisionRecorder, StaleCaseError
from classifier.queue.migrate import upgrade_schema
from classifier.queue.reads import CaseReader
from classifier.queue.shops import SHOP_PAGE, ShopReader
from classifier.queue.writes import ScoreWriter
from classifier.score.known import BankHit

# StaleCaseError and masked_url are imported from here by older callers
__all__ = ["CaseStore", "StaleCaseError", "masked_url"]


class CaseStore:
    """Cases, their score history, expert decisions and the audit log in one SQL database.

    ``url``: ``sqlite:///path`` or ``postgresql+psycopg://...``; None is the project's ``data/queue.db``.
    Opening a store upgrades its database to the current schema (an empty one gets every table).
    ``score_settings``: the rule that makes two texts copies, which the shop page applies to say why a
    page is in its shop (the defaults, as ``params.yaml`` ships them, when None).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        confirmations_required: int = 1,
        score_settings: ScoreSettings | None = None,
    ):
        if confirmations_required < 1:
            raise ValueError(f"confirmations_required must be at least 1, not {confirmations_required}")
        self.engine = open_engine(url)
        try:
            upgrade_schema(self.engine)
        except BaseException:
            self.engine.dispose()
            raise
        self.writer = ScoreWriter(self.engine)
        self.reader = CaseReader(self.engine)
        self.audit = AuditTrail(self.engine)
        self.decisions = DecisionRecorder(self.engine, self.audit, confirmations_required)
        self.bank = self.writer.bank
        self.shops = ShopReader(self.engine, score_settings)
        self.claims = ClaimBook(self.engine)

    # -- lifecycle --

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL with any password masked, safe for logs and error messages."""
        return masked_url(self.engine.url)

    @property
    def confirmations_required(self) -> int:
        """How many different experts must confirm a case before it counts as confirmed."""
        return self.decisions.confirmations_required

    def __repr__(self) -> str:
        return f"CaseStore({self.url!r})"

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- scoring runs and scored rows: see ScoreWriter --

    def start_run(
        self,
        run_id: str,
        *,
        model_name: str,
        model_version: str,
        inputs: Any = None,
        started_at: datetime | str | None = None,
        threshold: float | None = None,
    ) -> None:
        """Register a scoring run. Idempotent: a resumed run calls it again and keeps its start time."""
        self.writer.start_run(
            run_id,
            model_name=model_name,
            model_version=model_version,
            inputs=inputs,
            started_at=started_at,
            threshold=threshold,
        )

    def finish_run(
        self, run_id: str, summary: dict[str, Any], finished_at: datetime | str | None = None
    ) -> None:
        """Record the run's end and summary; the run must have been started."""
        self.writer.finish_run(run_id, summary, finished_at)

    def add_scored(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Store a batch of scored rows in one transaction; return how many score rows are new."""
        return self.writer.add_scored(rows)

    # -- the bank of shops: see ShopBank --

    def lookup(self, keys: Sequence[str], max_cases_per_key: int) -> list[BankHit]:
        """Earlier cases holding each key (``score.known.Bank``): how a run recognises known shops."""
        return self.bank.lookup(keys, max_cases_per_key)

    def shop(self, shop_id: int, limit: int = SHOP_PAGE, offset: int = 0) -> dict[str, Any] | None:
        """A shop: status, size, first and last seen, identifiers, latest decisions, and one page of its
        cases (undecided first), each with why it is in the shop; None if unknown (``shops.ShopReader``)."""
        return self.shops.shop(shop_id, limit, offset)

    def shop_summaries(self, shop_ids: Iterable[int | None]) -> dict[int, dict[str, Any]]:
        """Size and status of each shop, by id, for lists that name a case's shop."""
        return self.shops.summaries(shop_ids)

    # -- reading: see CaseReader --

    def cases(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Cases for the review queue, most urgent first; never-scored (error) cases last (without text)."""
        return self.reader.cases(status, limit, offset)

    def case(self, case_id: int) -> dict[str, Any] | None:
        """One case with its ``scores`` history (oldest first) and ``decisions``; None if unknown."""
        return self.reader.case(case_id)

    def cluster(self, cluster_id: str) -> list[dict[str, Any]]:
        """The cases of one duplicate group (mirrors of one ad), most urgent first (without text)."""
        return self.reader.cluster(cluster_id)

    def counts(self) -> dict[str, int]:
        """Number of cases by status; every known status is present, zero or not."""
        return self.reader.counts()

    def runs(self) -> list[dict[str, Any]]:
        """All runs, the latest first."""
        return self.reader.runs()

    # -- decisions: see DecisionRecorder --

    def record_decision(
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
        """An expert's decision on a case; :class:`StaleCaseError` when another decision came first.
        With ``shop_id``, made as a page of that shop ("confirmed as a mirror of shop N"): ValueError
        unless the case is in the shop and, for a confirmation, the shop is confirmed. With
        ``require_category``, a confirmation without a category is refused (ValueError), not given the
        model's."""
        return self.decisions.record(
            case_id,
            decision,
            expert,
            comment,
            category=category,
            expected_version=expected_version,
            shown=shown,
            shop_id=shop_id,
            require_category=require_category,
        )

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
        """Decide the shop's undecided pages (new or pending) at once, each its own audited decision
        naming the shop; ``versions`` (case id: version shown) limits it to the pages the expert saw, and
        one decided since is skipped. Returns ``decided`` and ``skipped`` (with the reason)."""
        return self.decisions.decide_shop(
            shop_id, decision, expert, comment, category=category, versions=versions
        )

    # -- claims: see ClaimBook --

    def claim(self, case_id: int, expert: str, minutes: float) -> bool:
        """Claim a case for ``expert`` for ``minutes`` (giving up their other claims); False when another
        expert's claim on it is still running. Atomic: of two experts claiming one case, one gets it."""
        return self.claims.take(case_id, expert, minutes)

    def release_claim(self, case_id: int, expert: str | None = None) -> bool:
        """End the claim on a case (only ``expert``'s, when given); True if there was one."""
        return self.claims.release(case_id, expert)

    def claim_of(self, case_id: int) -> dict[str, Any] | None:
        """The running claim on a case (``expert``, ``claimed_at``, ``expires_at``), or None."""
        return self.claims.holder(case_id)

    def running_claims(self) -> list[dict[str, Any]]:
        """Every running claim with its case's title, URL and status (for admins)."""
        return self.claims.running()

    # -- the audit log: see AuditTrail --

    def log_audit(
        self, actor: str, action: str, case_id: int | None = None, detail: dict[str, Any] | None = None
    ) -> None:
        """Record an action (a login, an export, a view) that is not a decision."""
        self.audit.log(actor, action, case_id, detail)

    def audit_log(
        self, limit: int = 100, offset: int = 0, *, actor: str | None = None, action: str | None = None
    ) -> list[dict[str, Any]]:
        """Audit entries, newest first, optionally of one actor or one action."""
        return self.audit.entries(limit, offset, actor=actor, action=action)

    def count_audit(
        self, *, actor: str | None = None, action: str | None = None, since: datetime | None = None
    ) -> int:
        """How many audit entries match: the login rate limit counts failed logins this way."""
        return self.audit.count(actor=actor, action=action, since=since)
