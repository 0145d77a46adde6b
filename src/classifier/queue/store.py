"""The case store: scored rows become cases that experts review, decide on and export.

SQLAlchemy Core: an SQLite file by default (``data/queue.db``), PostgreSQL by passing a
``postgresql+psycopg://`` URL. The only dialect-specific part is ``INSERT ... ON CONFLICT``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    create_engine,
    distinct,
    event,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from classifier.config import QUEUE_DB
from classifier.faults import crash_point
from classifier.queue.reports import Report, case_update, newest, newest_ok
from classifier.queue.schema import (
    CATEGORIES,
    DECISIONS,
    NEW,
    PENDING,
    STATUSES,
    audit_table,
    cases_table,
    decisions_table,
    ensure_schema,
    runs_table,
    scores_table,
)
from classifier.queue.values import chunks, clean_text, json_dumps, now, public, to_float, utc

_BATCH_LOCK = 727_364_202  # a PostgreSQL advisory lock key: one add_scored batch writes at a time


class StaleCaseError(ValueError):
    """Another decision changed the case after the page was shown: reload it and decide again."""

    def __init__(self, case_id: int, expert: str = "", decision: str = ""):
        what = f"was decided by {expert} ({decision})" if expert else "changed"
        super().__init__(f"case {case_id} {what} while you were deciding: reload it and decide again")
        self.case_id, self.expert, self.decision = case_id, expert, decision


class CaseStore:
    """Cases, their score history, expert decisions and the audit log in one SQL database."""

    def __init__(self, url: str | None = None, *, confirmations_required: int = 1):
        if confirmations_required < 1:
            raise ValueError(f"confirmations_required must be at least 1, not {confirmations_required}")
        self.confirmations_required = confirmations_required
        url = url or f"sqlite:///{QUEUE_DB}"
        parsed = make_url(url)
        self._dialect = parsed.get_backend_name()
        if self._dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"the case store supports SQLite and PostgreSQL, not {parsed.drivername!r}")
        if self._dialect == "sqlite":
            _make_parent_dir(parsed.database)
        try:
            # SQLite: a decision waits up to 30 s for a scoring run's write instead of failing after 5
            options = {"connect_args": {"timeout": 30}} if self._dialect == "sqlite" else {}
            self.engine: Engine = create_engine(url, json_serializer=json_dumps, **options)
        except ModuleNotFoundError as exc:  # the PostgreSQL driver is an optional extra
            raise ValueError(f"{exc.name} is not installed: pip install -e '.[postgres]'") from exc
        if self._dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            ensure_schema(self.engine)
        except OperationalError as exc:  # unreachable server, bad credentials, unwritable file
            raise ValueError(f"cannot open the case store {masked_url(url)}: {exc.orig}") from exc

    # -- lifecycle --

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._dialect

    @property
    def url(self) -> str:
        """The database URL with any password masked, safe for logs and error messages."""
        return masked_url(self.engine.url)

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

    def _insert(self, table: Table) -> Any:
        """The dialect's INSERT, the one with ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
        return (postgresql_insert if self._dialect == "postgresql" else sqlite_insert)(table)

    # -- runs --

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
        values = {
            "run_id": run_id,
            "started_at": utc(started_at) or now(),
            "model_name": model_name,
            "model_version": model_version,
            "inputs": inputs,
            "threshold": to_float(threshold),
        }
        stmt = self._insert(runs_table).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["run_id"],
            set_={name: values[name] for name in ("model_name", "model_version", "inputs", "threshold")},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def finish_run(
        self, run_id: str, summary: dict[str, Any], finished_at: datetime | str | None = None
    ) -> None:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(runs_table)
                .where(runs_table.c.run_id == run_id)
                .values(finished_at=utc(finished_at) or now(), summary=summary)
            )
            if result.rowcount == 0:
                raise ValueError(f"unknown run {run_id!r}: call start_run first")

    def runs(self) -> list[dict[str, Any]]:
        """All runs, the latest first."""
        stmt = select(runs_table).order_by(runs_table.c.started_at.desc(), runs_table.c.run_id)
        with self.engine.connect() as conn:
            return [public(r) for r in conn.execute(stmt).mappings()]

    # -- writing scored rows --

    def add_scored(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Store a batch of scored rows in one transaction; return how many score rows are new.

        Each row updates the case of its resource (see :func:`case_key`) or creates it, and adds one
        row to the case's score history. Rows already stored for their run (a resumed run sends them
        again) are skipped entirely. The case takes the latest report's values, by ``scored_at``;
        an error report does not erase the score of a case that has an ok one (a failed re-crawl must
        not sink a known ad to the bottom of the queue), it only records the failure in ``last_*``.
        ``first_seen``, the status and the decisions are never touched here.
        """
        reports = [Report(row) for row in rows]
        if not reports:
            return 0
        with self.engine.begin() as conn:
            self._one_batch_at_a_time(conn)
            existing = self._existing_cases(conn, list({r.key for r in reports}))
            reports = self._unstored(conn, reports, existing)
            if not reports:
                return 0  # all stored already: a resumed run, nothing is written
            self._ensure_runs(conn, reports)
            by_key: dict[str, list[Report]] = {}
            for report in reports:
                by_key.setdefault(report.key, []).append(report)
            existing = {k: case for k, case in existing.items() if k in by_key}
            self._update_cases(conn, {k: g for k, g in by_key.items() if k in existing}, existing)
            new = [k for k in by_key if k not in existing]
            self._insert_cases(conn, {k: by_key[k] for k in new})
            case_ids = {k: case["id"] for k, case in existing.items()} | self._case_ids(conn, new)
            crash_point("store.add_scored")  # cases written, their scores not: the batch must stay atomic
            self._insert_scores(conn, [r.score_row(case_ids[r.key]) for r in reports])
            self._refresh_report_counts(conn, sorted(set(case_ids.values())))
        return len(reports)

    def _one_batch_at_a_time(self, conn: Connection) -> None:
        """Batches read the cases they update under a write lock: two batches that both read a case (or
        its absence) before either wrote would each overwrite the other's newer values."""
        if self._dialect == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the file's write lock now, not at the first write
        else:
            conn.execute(select(func.pg_advisory_xact_lock(_BATCH_LOCK)))

    def _ensure_runs(self, conn: Connection, reports: Sequence[Report]) -> None:
        """Rows of a run nobody registered still need their ``runs`` row (the foreign key)."""
        first: dict[str, Report] = {}
        for r in reports:
            if r.run_id not in first or r.scored_at < first[r.run_id].scored_at:
                first[r.run_id] = r
        values = [
            {
                "run_id": run_id,
                "started_at": r.scored_at,
                "model_name": clean_text(r.row.get("model_name")),
                "model_version": clean_text(r.row.get("model_version")),
            }
            for run_id, r in first.items()
        ]
        conn.execute(self._insert(runs_table).on_conflict_do_nothing(index_elements=["run_id"]), values)

    def _unstored(
        self, conn: Connection, reports: list[Report], existing: Mapping[str, dict[str, Any]]
    ) -> list[Report]:
        """The reports whose (run_id, record_id) is neither stored nor earlier in the batch.

        Only existing cases can have stored scores, so the lookup goes through the case ids (an
        index probe per case) rather than matching record ids against the run's whole history.
        """
        s = scores_table.c
        run_ids = {r.run_id for r in reports}
        seen: set[tuple[str, str]] = set()
        for chunk in chunks([case["id"] for case in existing.values()]):
            stmt = select(s.run_id, s.record_id).where(s.case_id.in_(chunk), s.run_id.in_(run_ids))
            seen.update((run_id, record_id) for run_id, record_id in conn.execute(stmt))
        fresh = []
        for r in reports:
            if (r.run_id, r.record_id) not in seen:
                seen.add((r.run_id, r.record_id))
                fresh.append(r)
        return fresh

    def _existing_cases(self, conn: Connection, keys: list[str]) -> dict[str, dict[str, Any]]:
        """What the update needs to know of the batch's existing cases, in one SELECT."""
        c = cases_table.c
        found = {}
        for chunk in chunks(keys):
            columns = (c.id, c.case_key, c.first_seen, c.last_seen, c.score, c.last_run_id)
            stmt = select(*columns).where(c.case_key.in_(chunk))
            found.update({row.case_key: dict(row._mapping) for row in conn.execute(stmt)})
        return found

    def _case_ids(self, conn: Connection, keys: list[str]) -> dict[str, int]:
        c = cases_table.c
        found = {}
        for chunk in chunks(keys):
            found.update(
                {key: id_ for id_, key in conn.execute(select(c.id, c.case_key).where(c.case_key.in_(chunk)))}
            )
        return found

    def _insert_cases(self, conn: Connection, groups: Mapping[str, list[Report]]) -> None:
        values = []
        for key, group in groups.items():
            latest = newest(group)
            content = newest_ok(group) or latest
            values.append(
                {
                    "case_key": key,
                    "first_seen": min(r.scored_at for r in group),
                    "last_seen": latest.scored_at,
                    "report_count": 0,  # set by _refresh_report_counts
                    "status": NEW,
                    "text": None,  # one INSERT for the batch: every row needs every column
                    **content.content(),
                    **latest.last(),
                }
            )
        if values:
            # no other batch created these cases since they were read (_one_batch_at_a_time): DO NOTHING
            # is only a safety net
            stmt = self._insert(cases_table).on_conflict_do_nothing(index_elements=["case_key"])
            conn.execute(stmt, values)

    def _update_cases(
        self, conn: Connection, groups: Mapping[str, list[Report]], existing: Mapping[str, dict[str, Any]]
    ) -> None:
        """Bring existing cases up to date with executemany; one statement per set of columns."""
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for key, group in groups.items():
            values = case_update(existing[key], group)
            by_columns.setdefault(tuple(values), []).append(values)
        where = cases_table.c.id == bindparam("_id")
        for params in by_columns.values():
            conn.execute(update(cases_table).where(where), params)

    def _insert_scores(self, conn: Connection, values: list[dict[str, Any]]) -> None:
        stmt = self._insert(scores_table).on_conflict_do_nothing(index_elements=["run_id", "record_id"])
        conn.execute(stmt, values)

    def _refresh_report_counts(self, conn: Connection, case_ids: list[int]) -> None:
        """report_count = distinct record ids ever scored for the case (one correlated UPDATE)."""
        count = (
            select(func.count(distinct(scores_table.c.record_id)))
            .where(scores_table.c.case_id == cases_table.c.id)
            .scalar_subquery()
        )
        for chunk in chunks(case_ids):
            conn.execute(update(cases_table).where(cases_table.c.id.in_(chunk)).values(report_count=count))

    # -- reading --

    def cases(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Cases for the review queue, most urgent first; never-scored (error) cases last (without text)."""
        stmt = ranked(select(*_listed()))
        if status is not None:
            stmt = stmt.where(cases_table.c.status == status)
        stmt = stmt.limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [public(r) for r in conn.execute(stmt).mappings()]

    def case(self, case_id: int) -> dict[str, Any] | None:
        """One case with its ``scores`` history (oldest first) and ``decisions``; None if unknown."""
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
        return case

    def cluster(self, cluster_id: str) -> list[dict[str, Any]]:
        """The cases of one duplicate group (mirrors of one ad), most urgent first (without text)."""
        if not cluster_id:
            return []
        stmt = ranked(select(*_listed()).where(cases_table.c.cluster_id == cluster_id))
        with self.engine.connect() as conn:
            return [public(r) for r in conn.execute(stmt).mappings()]

    def counts(self) -> dict[str, int]:
        """Number of cases by status; every known status is present, zero or not."""
        stmt = select(cases_table.c.status, func.count()).group_by(cases_table.c.status)
        with self.engine.connect() as conn:
            found = {status: n for status, n in conn.execute(stmt)}
        return {**dict.fromkeys(STATUSES, 0), **found}

    # -- decisions and audit --

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
            # The version bump comes first: it takes the row's write lock, so concurrent decisions on a
            # case are serialised, and a decision made on an outdated page matches no row.
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
            case = conn.execute(
                select(c.score, c.model_version, c.status, c.category, c.version).where(c.id == case_id)
            ).first()
            status = decision
            if decision == "confirmed" and self.confirmations_required > 1:
                confirmed_by = self._confirmers(conn, case_id)
                if expert in confirmed_by:
                    raise ValueError(
                        f"{expert} has already confirmed case {case_id}: another expert must confirm it"
                    )
                status = "confirmed" if len(confirmed_by) + 1 >= self.confirmations_required else PENDING
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
            self._audit(conn, expert, "decision", case_id, detail)
        return public({"id": decision_id, **values, "status": status, "version": case.version})

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

    def log_audit(
        self, actor: str, action: str, case_id: int | None = None, detail: dict[str, Any] | None = None
    ) -> None:
        """Record an action (a login, an export, a view) that is not a decision."""
        with self.engine.begin() as conn:
            self._audit(conn, actor, action, case_id, detail)

    def _audit(
        self, conn: Connection, actor: str, action: str, case_id: int | None, detail: dict[str, Any] | None
    ) -> None:
        values = {
            "at": now(),
            "actor": clean_text(actor),  # a failed login's name is whatever was typed, NUL included
            "action": clean_text(action),
            "case_id": case_id,
            "detail": detail,
        }
        conn.execute(audit_table.insert().values(values))

    def audit_log(
        self, limit: int = 100, offset: int = 0, *, actor: str | None = None, action: str | None = None
    ) -> list[dict[str, Any]]:
        """Audit entries, newest first, optionally of one actor or one action."""
        a = audit_table.c
        stmt = select(audit_table).order_by(a.id.desc()).limit(limit).offset(offset)
        if actor:
            stmt = stmt.where(a.actor == clean_text(actor))
        if action:
            stmt = stmt.where(a.action == clean_text(action))
        with self.engine.connect() as conn:
            return [public(r) for r in conn.execute(stmt).mappings()]

    def count_audit(
        self, *, actor: str | None = None, action: str | None = None, since: datetime | None = None
    ) -> int:
        a = audit_table.c
        stmt = select(func.count()).select_from(audit_table)
        if actor:
            stmt = stmt.where(a.actor == clean_text(actor))
        if action:
            stmt = stmt.where(a.action == clean_text(action))
        if since is not None:
            stmt = stmt.where(a.at >= since)
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar_one()

    # -- export (see exports.py) --

    def export_cases(self, status: str = "confirmed") -> list[dict[str, Any]]:
        from classifier.queue.exports import export_cases

        return export_cases(self, status)


def _listed() -> list[Any]:
    """Every case column but the page text (up to 200,000 characters): lists never show it."""
    return [column for column in cases_table.c if column.name != "text"]


def ranked(stmt: Any) -> Any:
    """Review order: cases with a score first, by priority (then score) descending, then oldest id."""
    c = cases_table.c
    return stmt.order_by(
        (c.score.is_(None)).asc(),
        c.priority.desc().nulls_last(),
        c.score.desc().nulls_last(),
        c.id.asc(),
    )


def masked_url(url: str | URL) -> str:
    """A database URL with its password replaced by ``***``, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def _make_parent_dir(database: str | None) -> None:
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the review app read while a scoring run writes; SQLite enforces foreign keys only on request."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL, much faster
    cursor.close()
    # SQLite's own lower() folds A-Z only: the queue's search must ignore case in Cyrillic and Kazakh too
    dbapi_connection.create_function(
        "lower", 1, lambda s: s.lower() if isinstance(s, str) else s, deterministic=True
    )
