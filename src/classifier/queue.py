"""The case store: scored rows become cases that experts review, decide on and export.

One *case* per resource (canonical URL, see :func:`case_key`), however often it is crawled and scored.
Every scored row is also kept in ``scores`` (the case's history), every expert decision in
``decisions`` (future training data) and every action in ``audit_log``.

SQLAlchemy Core with portable types only: the default is an SQLite file (``data/queue.db``), and the
same code runs on PostgreSQL by passing a ``postgresql+psycopg://`` URL. The only dialect-specific
part is the ``INSERT ... ON CONFLICT`` construct, chosen by the dialect name.

Import it as ``from classifier import queue``: the module name shadows the standard library's
``queue`` only inside the package.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
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

DECISIONS = ("confirmed", "rejected", "unsure")
NEW = "new"  # the status of a case until an expert decides
STATUSES = (NEW, *DECISIONS)
EXPORT_FIELDS = (
    "case_id",
    "url",
    "urls",
    "domain",
    "score",
    "category",
    "priority",
    "decision",
    "expert",
    "decided_at",
    "contacts",
    "model_version",
)
EXPORT_FORMATS = (".csv", ".json")

# Query parameters that only track the visitor: the same page with another campaign tag is one case.
TRACKING_PARAMS = ("fbclid", "gclid", "yclid", "ysclid")
DEFAULT_PORTS = {"http": 80, "https": 443}
TELEGRAM_HOSTS = ("t.me", "telegram.me", "telegram.dog")
MAX_KEY_BYTES = 1000  # keeps the unique index within PostgreSQL's B-tree entry limit (~2.7 kB)

# Primary keys: 64-bit on PostgreSQL (scores grow by one row per record and run), and SQLite's
# INTEGER PRIMARY KEY (the rowid alias, the only type SQLite auto-increments).
_ID = BigInteger().with_variant(Integer(), "sqlite")
_JSON = JSON(none_as_null=True)  # None is SQL NULL, not the JSON text 'null'
_TIME = DateTime(timezone=True)

metadata = MetaData()

runs_table = Table(
    "runs",
    metadata,
    Column("run_id", String(200), primary_key=True),
    Column("started_at", _TIME, nullable=False),
    Column("finished_at", _TIME),
    Column("model_name", String(255), nullable=False, default=""),
    Column("model_version", String(255), nullable=False, default=""),
    Column("inputs", _JSON),
    Column("summary", _JSON),
)

cases_table = Table(
    "cases",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("case_key", String(MAX_KEY_BYTES + 24), nullable=False, unique=True),
    Column("url", Text, nullable=False, default=""),
    Column("domain", Text, nullable=False, default=""),
    Column("title", Text, nullable=False, default=""),
    Column("excerpt", Text, nullable=False, default=""),
    Column("first_seen", _TIME, nullable=False),
    Column("last_seen", _TIME, nullable=False),
    Column("report_count", Integer, nullable=False, default=0),
    Column("score", Float),
    Column("label", Integer),
    Column("category", String(32)),
    Column("category_probability", Float),
    Column("priority", Float),
    Column("language", String(32), nullable=False, default=""),
    Column("evidence", _JSON),
    Column("contacts", _JSON),
    Column("cluster_id", String(200), nullable=False, default=""),
    Column("cluster_size", Integer, nullable=False, default=1),
    Column("status", String(16), nullable=False, default=NEW),
    Column("model_name", String(255), nullable=False, default=""),
    Column("model_version", String(255), nullable=False, default=""),
    Column("last_run_id", String(200), nullable=False, default=""),
    Column("last_status", String(16), nullable=False, default="ok"),
    Column("last_error", Text, nullable=False, default=""),
    # The review queue: "new cases, most urgent first", and the cluster page.
    Index("ix_cases_status_priority", "status", "priority"),
    Index("ix_cases_priority", "priority"),
    Index("ix_cases_cluster", "cluster_id"),
)

scores_table = Table(
    "scores",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("case_id", _ID, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("run_id", String(200), ForeignKey("runs.run_id"), nullable=False),
    Column("model_name", String(255), nullable=False, default=""),
    Column("model_version", String(255), nullable=False, default=""),
    Column("score", Float),
    Column("label", Integer),
    Column("category", String(32)),
    Column("category_probability", Float),
    Column("priority", Float),
    Column("rank", Integer),
    Column("cluster_id", String(200), nullable=False, default=""),
    Column("cluster_size", Integer, nullable=False, default=1),
    Column("status", String(16), nullable=False, default="ok"),
    Column("error", Text, nullable=False, default=""),
    Column("scored_at", _TIME, nullable=False),
    # A resumed run re-sends rows it may already have stored: this makes add_scored idempotent.
    UniqueConstraint("run_id", "record_id", name="uq_scores_run_record"),
    # A case's history, and COUNT(DISTINCT record_id) for report_count from the index alone.
    Index("ix_scores_case_record", "case_id", "record_id"),
)

decisions_table = Table(
    "decisions",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("case_id", _ID, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("expert", String(255), nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("decided_at", _TIME, nullable=False),
    # What the model said when the expert decided: a decision is a labelled example for retraining.
    Column("score", Float),
    Column("model_version", String(255), nullable=False, default=""),
    Index("ix_decisions_case", "case_id"),
)

audit_table = Table(
    "audit_log",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("at", _TIME, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(64), nullable=False),
    # No foreign key: the audit trail must outlive whatever it mentions.
    Column("case_id", _ID),
    Column("detail", _JSON),
    Index("ix_audit_case", "case_id"),
)

# --- case keys -------------------------------------------------------------------------------------


def case_key(url: str, record_id: str) -> str:
    """The identity of the resource behind a scored row: one case per key.

    The canonical URL: lower-case scheme and host, no leading ``www.``, no default port, user info,
    fragment, ``utm_*`` or click-id parameters, no trailing slash except on the root. Telegram's web
    preview ``t.me/s/NAME`` is the channel ``t.me/NAME``, and channel names are case-insensitive.
    A row without a URL (a text file, a message dump) is its own case: ``record:<record_id>``.
    """
    url = (url or "").strip()
    if not url:
        return f"record:{record_id}"
    parts = urlsplit(url if "//" in url else f"//{url}")  # "t.me/x" has no scheme but a host
    scheme = parts.scheme.lower() or "https"
    host, port = _host_port(parts.netloc)
    if host in TELEGRAM_HOSTS:
        return _bounded(_telegram_key(parts.path))
    if port and not (port.isdigit() and int(port) == DEFAULT_PORTS.get(scheme)):
        host = f"{host}:{port}"  # a non-default (or malformed) port stays part of the key
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    query = _clean_query(parts.query) if parts.query else ""
    return _bounded(f"{scheme}://{host}{path}?{query}" if query else f"{scheme}://{host}{path}")


def _host_port(netloc: str) -> tuple[str, str]:
    """Lower-case host without ``www.`` or user info, and the port as written ("" when absent)."""
    hostport = netloc.rpartition("@")[2]  # user info never identifies a resource (and may be a password)
    if hostport.startswith("["):  # an IPv6 literal keeps its brackets
        host, _, rest = hostport.partition("]")
        host, port = host + "]", rest.removeprefix(":")
    else:
        host, _, port = hostport.partition(":")
    return host.lower().rstrip(".").removeprefix("www."), port


def _clean_query(query: str) -> str:
    """Drop tracking parameters, keeping the others as written (their order and encoding)."""
    kept = []
    for pair in query.split("&"):
        name = pair.split("=", 1)[0].lower()
        if pair and not name.startswith("utm_") and name not in TRACKING_PARAMS:
            kept.append(pair)
    return "&".join(kept)


_TG_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _telegram_key(path: str) -> str:
    """``t.me/s/Name/12?before=3`` → ``https://t.me/name/12``; invite links keep their case."""
    segments = [s for s in path.split("/") if s]
    if segments[:1] == ["s"]:
        segments = segments[1:]
    if segments and _TG_USERNAME.match(segments[0]) and segments[0].lower() != "joinchat":
        segments[0] = segments[0].lower()  # usernames are case-insensitive; invite hashes are not
    return "https://t.me/" + "/".join(segments)


def _bounded(key: str) -> str:
    """Keep very long keys indexable: a readable prefix plus a hash of the whole key.

    ``#`` cannot occur in a canonical URL (fragments are dropped), so these keys never collide with one.
    """
    raw = key.encode("utf-8")
    if len(raw) <= MAX_KEY_BYTES:
        return key
    prefix = raw[: MAX_KEY_BYTES - 100].decode("utf-8", errors="ignore")
    return f"{prefix}#sha256:{hashlib.sha256(raw).hexdigest()}"


# --- values ----------------------------------------------------------------------------------------


def _utc(value: datetime | str | None) -> datetime | None:
    """An aware UTC datetime from an ISO string or datetime; naive values are taken as UTC.

    SQLite returns naive datetimes and PostgreSQL aware ones: everything is compared in aware UTC.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _text(value: Any) -> str:
    """A string PostgreSQL accepts: crawled pages can carry NUL characters, which ``text`` rejects."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text.replace("\x00", "") if "\x00" in text else text


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    number = float(value)
    return None if number != number else number  # NaN is missing, and sorts badly


def _int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _public(row: Mapping[str, Any]) -> dict[str, Any]:
    """A result row as a plain dict, datetimes as ISO 8601 UTC strings (JSON-ready for the web app)."""
    out = dict(row)
    for name, value in out.items():
        if isinstance(value, datetime):
            out[name] = _utc(value).isoformat()
    return out


class _Report:
    """One scored row, validated and typed once, with the case key it belongs to."""

    __slots__ = ("key", "ok", "record_id", "row", "run_id", "scored_at")

    def __init__(self, row: Mapping[str, Any]):
        self.record_id = _text(row.get("id"))
        self.run_id = _text(row.get("run_id"))
        if not self.record_id or not self.run_id:
            raise ValueError(f"a scored row needs an id and a run_id: {dict(row)!r:.200}")
        self.key = case_key(_text(row.get("url")), self.record_id)
        self.scored_at = _utc(row.get("scored_at")) or _now()
        self.ok = row.get("status", "ok") != "error"
        self.row = row

    def _model_output(self) -> dict[str, Any]:
        """What the model and the ranking said: kept on the case (latest) and in its score history."""
        r = self.row
        return {
            "score": _float(r.get("score")) if self.ok else None,
            "label": _int(r.get("label")),
            "category": r.get("category") or None,
            "category_probability": _float(r.get("category_probability")),
            "priority": _float(r.get("priority")),
            "cluster_id": _text(r.get("cluster_id")),
            "cluster_size": _int(r.get("cluster_size")) or 1,
            "model_name": _text(r.get("model_name")),
            "model_version": _text(r.get("model_version")),
        }

    def content(self) -> dict[str, Any]:
        """The case columns that follow the latest ok report of the resource."""
        r = self.row
        return {
            "url": _text(r.get("url")),
            "domain": _text(r.get("domain")),
            "title": _text(r.get("title")),
            "excerpt": _text(r.get("excerpt")),
            "language": _text(r.get("language")),
            "evidence": r.get("evidence") or [],
            "contacts": r.get("contacts") or {},
            **self._model_output(),
        }

    def last(self) -> dict[str, Any]:
        """The case columns that follow the latest report, ok or not."""
        return {
            "last_run_id": self.run_id,
            "last_status": "ok" if self.ok else "error",
            "last_error": _text(self.row.get("error")),
        }

    def score_row(self, case_id: int) -> dict[str, Any]:
        return {
            "case_id": case_id,
            "record_id": self.record_id,
            "run_id": self.run_id,
            **self._model_output(),
            "rank": _int(self.row.get("rank")),
            "status": "ok" if self.ok else "error",
            "error": _text(self.row.get("error")),
            "scored_at": self.scored_at,
        }


def _json_dumps(value: Any) -> str:
    """JSON columns as readable UTF-8 (Cyrillic stays Cyrillic); numpy numbers and the like as text.

    NUL characters come out escaped (``\\u0000``), which PostgreSQL's ``json`` type accepts.
    """
    return json.dumps(value, ensure_ascii=False, default=str)


# --- the store -------------------------------------------------------------------------------------


class CaseStore:
    """Cases, their score history, expert decisions and the audit log in one SQL database."""

    def __init__(self, url: str | None = None):
        url = url or f"sqlite:///{QUEUE_DB}"
        parsed = make_url(url)
        self._dialect = parsed.get_backend_name()
        if self._dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"the case store supports SQLite and PostgreSQL, not {parsed.drivername!r}")
        if self._dialect == "sqlite":
            _make_parent_dir(parsed.database)
        try:
            self.engine: Engine = create_engine(url, json_serializer=_json_dumps)
        except ModuleNotFoundError as exc:  # the PostgreSQL driver is an optional extra
            raise ValueError(f"{exc.name} is not installed: pip install -e '.[postgres]'") from exc
        if self._dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            metadata.create_all(self.engine)
        except OperationalError as exc:  # unreachable server, bad credentials, unwritable file
            raise ValueError(f"cannot open the case store {masked_url(url)}: {exc.orig}") from exc

    # -- lifecycle --

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
    ) -> None:
        """Register a scoring run. Idempotent: a resumed run calls it again and keeps its start time."""
        values = {
            "run_id": run_id,
            "started_at": _utc(started_at) or _now(),
            "model_name": model_name,
            "model_version": model_version,
            "inputs": inputs,
        }
        stmt = self._insert(runs_table).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["run_id"],
            set_={"model_name": model_name, "model_version": model_version, "inputs": values["inputs"]},
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
                .values(finished_at=_utc(finished_at) or _now(), summary=summary)
            )
            if result.rowcount == 0:
                raise ValueError(f"unknown run {run_id!r}: call start_run first")

    def runs(self) -> list[dict[str, Any]]:
        """All runs, the latest first."""
        stmt = select(runs_table).order_by(runs_table.c.started_at.desc(), runs_table.c.run_id)
        with self.engine.connect() as conn:
            return [_public(r) for r in conn.execute(stmt).mappings()]

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
        reports = [_Report(row) for row in rows]
        if not reports:
            return 0
        with self.engine.begin() as conn:
            existing = self._existing_cases(conn, list({r.key for r in reports}))
            reports = self._unstored(conn, reports, existing)
            if not reports:
                return 0  # all stored already: a resumed run, nothing is written
            self._ensure_runs(conn, reports)
            by_key: dict[str, list[_Report]] = {}
            for report in reports:
                by_key.setdefault(report.key, []).append(report)
            existing = {k: case for k, case in existing.items() if k in by_key}
            self._update_cases(conn, {k: g for k, g in by_key.items() if k in existing}, existing)
            new = [k for k in by_key if k not in existing]
            self._insert_cases(conn, {k: by_key[k] for k in new})
            case_ids = {k: case["id"] for k, case in existing.items()} | self._case_ids(conn, new)
            self._insert_scores(conn, [r.score_row(case_ids[r.key]) for r in reports])
            self._refresh_report_counts(conn, sorted(set(case_ids.values())))
        return len(reports)

    def _ensure_runs(self, conn: Connection, reports: Sequence[_Report]) -> None:
        """Rows of a run nobody registered still need their ``runs`` row (the foreign key)."""
        first: dict[str, _Report] = {}
        for r in reports:
            if r.run_id not in first or r.scored_at < first[r.run_id].scored_at:
                first[r.run_id] = r
        values = [
            {
                "run_id": run_id,
                "started_at": r.scored_at,
                "model_name": _text(r.row.get("model_name")),
                "model_version": _text(r.row.get("model_version")),
            }
            for run_id, r in first.items()
        ]
        conn.execute(self._insert(runs_table).on_conflict_do_nothing(index_elements=["run_id"]), values)

    def _unstored(
        self, conn: Connection, reports: list[_Report], existing: Mapping[str, dict[str, Any]]
    ) -> list[_Report]:
        """The reports whose (run_id, record_id) is neither stored nor earlier in the batch.

        Only existing cases can have stored scores, so the lookup goes through the case ids (an
        index probe per case) rather than matching record ids against the run's whole history.
        """
        s = scores_table.c
        run_ids = {r.run_id for r in reports}
        seen: set[tuple[str, str]] = set()
        for chunk in _chunks([case["id"] for case in existing.values()]):
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
        for chunk in _chunks(keys):
            columns = (c.id, c.case_key, c.first_seen, c.last_seen, c.score, c.last_run_id)
            stmt = select(*columns).where(c.case_key.in_(chunk))
            found.update({row.case_key: dict(row._mapping) for row in conn.execute(stmt)})
        return found

    def _case_ids(self, conn: Connection, keys: list[str]) -> dict[str, int]:
        c = cases_table.c
        found = {}
        for chunk in _chunks(keys):
            found.update(
                {key: id_ for id_, key in conn.execute(select(c.id, c.case_key).where(c.case_key.in_(chunk)))}
            )
        return found

    def _insert_cases(self, conn: Connection, groups: Mapping[str, list[_Report]]) -> None:
        values = []
        for key, group in groups.items():
            latest = _latest(group)
            content = _latest_ok(group) or latest
            values.append(
                {
                    "case_key": key,
                    "first_seen": min(r.scored_at for r in group),
                    "last_seen": latest.scored_at,
                    "report_count": 0,  # set by _refresh_report_counts
                    "status": NEW,
                    **content.content(),
                    **latest.last(),
                }
            )
        if values:
            # DO NOTHING: a concurrent writer that created the case first wins, rather than failing the batch.
            stmt = self._insert(cases_table).on_conflict_do_nothing(index_elements=["case_key"])
            conn.execute(stmt, values)

    def _update_cases(
        self, conn: Connection, groups: Mapping[str, list[_Report]], existing: Mapping[str, dict[str, Any]]
    ) -> None:
        """Bring existing cases up to date with executemany; one statement per set of columns."""
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for key, group in groups.items():
            values = _case_update(existing[key], group)
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
        for chunk in _chunks(case_ids):
            conn.execute(update(cases_table).where(cases_table.c.id.in_(chunk)).values(report_count=count))

    # -- reading --

    def cases(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Cases for the review queue, most urgent first; never-scored (error) cases last."""
        stmt = _ranked(select(cases_table))
        if status is not None:
            stmt = stmt.where(cases_table.c.status == status)
        stmt = stmt.limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [_public(r) for r in conn.execute(stmt).mappings()]

    def case(self, case_id: int) -> dict[str, Any] | None:
        """One case with its ``scores`` history (oldest first) and ``decisions``; None if unknown."""
        with self.engine.connect() as conn:
            row = conn.execute(select(cases_table).where(cases_table.c.id == case_id)).mappings().first()
            if row is None:
                return None
            case = _public(row)
            s, d = scores_table.c, decisions_table.c
            history = select(scores_table).where(s.case_id == case_id).order_by(s.scored_at, s.id)
            decisions = select(decisions_table).where(d.case_id == case_id).order_by(d.decided_at, d.id)
            case["scores"] = [_public(r) for r in conn.execute(history).mappings()]
            case["decisions"] = [_public(r) for r in conn.execute(decisions).mappings()]
        return case

    def cluster(self, cluster_id: str) -> list[dict[str, Any]]:
        """The cases of one duplicate group (mirrors of one ad), most urgent first."""
        if not cluster_id:
            return []
        stmt = _ranked(select(cases_table).where(cases_table.c.cluster_id == cluster_id))
        with self.engine.connect() as conn:
            return [_public(r) for r in conn.execute(stmt).mappings()]

    def counts(self) -> dict[str, int]:
        """Number of cases by status; every known status is present, zero or not."""
        stmt = select(cases_table.c.status, func.count()).group_by(cases_table.c.status)
        with self.engine.connect() as conn:
            found = {status: n for status, n in conn.execute(stmt)}
        return {**dict.fromkeys(STATUSES, 0), **found}

    # -- decisions and audit --

    def record_decision(self, case_id: int, decision: str, expert: str, comment: str = "") -> dict[str, Any]:
        """An expert's decision on a case: sets its status, keeps the decision row and an audit entry."""
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
        if not expert or not expert.strip():
            raise ValueError("a decision needs the expert who made it")
        with self.engine.begin() as conn:
            c = cases_table.c
            case = conn.execute(select(c.score, c.model_version, c.status).where(c.id == case_id)).first()
            if case is None:
                raise ValueError(f"unknown case {case_id!r}")
            values = {
                "case_id": case_id,
                "decision": decision,
                "expert": expert,
                "comment": _text(comment),
                "decided_at": _now(),
                "score": case.score,
                "model_version": case.model_version,
            }
            decision_id = conn.execute(decisions_table.insert().values(values)).inserted_primary_key[0]
            conn.execute(update(cases_table).where(c.id == case_id).values(status=decision))
            detail = {"decision": decision, "previous_status": case.status, "comment": _text(comment)}
            self._audit(conn, expert, "decision", case_id, detail)
        return _public({"id": decision_id, **values})

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
            "at": _now(),
            "actor": actor,
            "action": action,
            "case_id": case_id,
            "detail": detail,
        }
        conn.execute(audit_table.insert().values(values))

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest audit entries, newest first."""
        stmt = select(audit_table).order_by(audit_table.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_public(r) for r in conn.execute(stmt).mappings()]

    # -- export --

    def export_cases(self, status: str = "confirmed") -> list[dict[str, Any]]:
        """Cases with ``status`` for the blocking system, with their latest decision and mirror URLs.

        ``urls`` is the case's URL, then the URLs of the other cases in its cluster (the same ad on
        other sites) except those an expert rejected, so that blocking one mirror blocks them all.
        """
        c, d = cases_table.c, decisions_table.c
        latest = select(d.case_id, func.max(d.id).label("decision_id")).group_by(d.case_id).subquery()
        stmt = _ranked(
            select(
                c.id.label("case_id"),
                c.url,
                c.domain,
                c.score,
                c.category,
                c.priority,
                d.decision,
                d.expert,
                d.decided_at,
                c.contacts,
                c.model_version,
                c.cluster_id,
            )
            .select_from(cases_table)
            .outerjoin(latest, latest.c.case_id == c.id)
            .outerjoin(decisions_table, d.id == latest.c.decision_id)
            .where(c.status == status)
        )
        with self.engine.connect() as conn:
            rows = [_public(r) for r in conn.execute(stmt).mappings()]
            mirrors = self._cluster_urls(conn, status)
        out = []
        for row in rows:
            own = [row["url"]] if row["url"] else []
            others = [u for case_id, u in mirrors.get(row.pop("cluster_id"), []) if case_id != row["case_id"]]
            urls = list(dict.fromkeys([*own, *others]))
            out.append({name: urls if name == "urls" else row[name] for name in EXPORT_FIELDS})
        return out

    def _cluster_urls(self, conn: Connection, status: str) -> dict[str, list[tuple[int, str]]]:
        """URLs of the clusters that contain a case with ``status``, in one self-join."""
        member, exported = cases_table.alias("member"), cases_table.alias("exported")
        stmt = (
            select(member.c.cluster_id, member.c.id, member.c.url)
            .distinct()
            .join(exported, exported.c.cluster_id == member.c.cluster_id)
            .where(exported.c.status == status, member.c.cluster_id != "", member.c.url != "")
            .where(member.c.status != "rejected")
            .order_by(member.c.cluster_id, member.c.id)
        )
        urls: dict[str, list[tuple[int, str]]] = {}
        for cluster_id, case_id, url in conn.execute(stmt):
            urls.setdefault(cluster_id, []).append((case_id, url))
        return urls


def _latest(reports: Sequence[_Report]) -> _Report:
    """The most recent report by ``scored_at``; of equal times (one run) the first: a run's rows arrive in
    queue order, so that is the run's strongest report of the resource."""
    return max(reports, key=lambda r: r.scored_at)


def _latest_ok(reports: Sequence[_Report]) -> _Report | None:
    ok = [r for r in reports if r.ok]
    return _latest(ok) if ok else None


def _chunks(items: Sequence[Any], size: int = 5000) -> Iterable[Sequence[Any]]:
    """Slices that keep IN lists under the drivers' bound-parameter limits (SQLite: 32,766)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _case_update(case: Mapping[str, Any], group: list[_Report]) -> dict[str, Any]:
    """The new column values of an existing case given its reports in this batch (and ``_id``)."""
    last_seen = _utc(case["last_seen"])
    latest = _latest(group)
    values: dict[str, Any] = {
        "_id": case["id"],
        "first_seen": min(_utc(case["first_seen"]), *(r.scored_at for r in group)),
        "last_seen": max(last_seen, latest.scored_at),
    }
    if latest.scored_at < last_seen:  # an older run resumed after a newer one: it only adds history
        return values
    if latest.scored_at == last_seen and case["last_run_id"] == latest.run_id:
        return values  # an earlier batch of this run already gave the case its strongest report
    values.update(latest.last())
    content = _latest_ok(group)
    if content is None and case["score"] is None:  # never scored: the error report is all there is
        content = latest
    if content is not None:
        values.update(content.content())
    return values


def _ranked(stmt: Any) -> Any:
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


# --- export files ----------------------------------------------------------------------------------


def write_export(rows: Iterable[Mapping[str, Any]], path: Path | str) -> Path:
    """Write exported cases to ``.csv`` (nested values as JSON, urls space-separated) or ``.json``."""
    path = Path(path)
    kind = path.suffix.lower()
    if kind not in EXPORT_FORMATS:
        raise ValueError(f"{path}: the export must end in one of {', '.join(EXPORT_FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = list(rows)
    if kind == ".json":
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
        return path
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(EXPORT_FIELDS), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({name: _csv_value(name, row.get(name)) for name in EXPORT_FIELDS})
    return path


def _csv_value(name: str, value: Any) -> Any:
    if name == "urls" and isinstance(value, list | tuple):
        return " ".join(value)  # URLs contain no spaces: the list stays one readable cell
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False)
    return value
