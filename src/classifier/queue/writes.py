"""What a scoring run writes: its ``runs`` row, and each batch of scored rows as cases and their history.

How one resource's reports change its case is decided in ``reports``; this module only batches the
reads and writes, under a lock that keeps concurrent batches from overwriting each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, distinct, func, select, update

from classifier.common.batching import batched
from classifier.common.faults import crash_point
from classifier.queue.bank import ShopBank
from classifier.queue.database import dialect_insert
from classifier.queue.reports import Report, case_update, newest, newest_ok
from classifier.queue.schema import NEW, cases_table, runs_table, scores_table
from classifier.queue.values import IN_LIST_LIMIT, clean_text, now, to_float, utc

# A PostgreSQL advisory lock key: one add_scored batch writes at a time (a decision on a shop takes it too)
BATCH_LOCK = 727_364_202


class ScoreWriter:
    """Registers scoring runs and stores their scored rows as cases and score history."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect.name
        self.bank = ShopBank(engine)

    def _insert(self, table: Table) -> Any:
        return dialect_insert(self.dialect, table)

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
        """Record the run's end and summary; the run must have been started."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(runs_table)
                .where(runs_table.c.run_id == run_id)
                .values(finished_at=utc(finished_at) or now(), summary=summary)
            )
            if result.rowcount == 0:
                raise ValueError(f"unknown run {run_id!r}: call start_run first")

    # -- scored rows --

    def add_scored(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Store a batch of scored rows in one transaction; return how many score rows are new.

        Each row updates the case of its resource (see :func:`case_key`) or creates it, and adds one
        row to the case's score history. Rows already stored for their run (a resumed run sends them
        again) are skipped entirely. The case takes the latest report's values, by ``scored_at``;
        an error report does not erase the score of a case that has an ok one (a failed re-crawl must
        not sink a known ad to the bottom of the queue), it only records the failure in ``last_*``.
        ``first_seen``, the status and the decisions are never touched here. The cases join the bank
        of shops (``bank.ShopBank.remember``) in the same transaction.
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
            self.bank.remember(conn, [r.row for r in reports], [case_ids[r.key] for r in reports])
        return len(reports)

    def _one_batch_at_a_time(self, conn: Connection) -> None:
        """Batches read the cases they update under a write lock: two batches that both read a case (or
        its absence) before either wrote would each overwrite the other's newer values."""
        if self.dialect == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the file's write lock now, not at the first write
        else:
            conn.execute(select(func.pg_advisory_xact_lock(BATCH_LOCK)))

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
        for chunk in batched([case["id"] for case in existing.values()], IN_LIST_LIMIT):
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
        for chunk in batched(keys, IN_LIST_LIMIT):
            columns = (c.id, c.case_key, c.first_seen, c.last_seen, c.score, c.last_run_id)
            stmt = select(*columns).where(c.case_key.in_(chunk))
            found.update({row.case_key: dict(row._mapping) for row in conn.execute(stmt)})
        return found

    def _case_ids(self, conn: Connection, keys: list[str]) -> dict[str, int]:
        c = cases_table.c
        found = {}
        for chunk in batched(keys, IN_LIST_LIMIT):
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
                    "images": None,
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
        for chunk in batched(case_ids, IN_LIST_LIMIT):
            conn.execute(update(cases_table).where(cases_table.c.id.in_(chunk)).values(report_count=count))
