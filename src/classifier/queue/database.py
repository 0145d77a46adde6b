"""Opening the case store's database: SQLite (the default, ``data/queue.db``) or PostgreSQL.

Everything dialect-specific about connecting lives here: SQLite's pragmas and Unicode ``lower()``,
the dialect's ``INSERT ... ON CONFLICT``, and URLs with their password masked for messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url

from classifier.common.config import QUEUE_DB
from classifier.queue.values import json_dumps

DIALECTS = ("sqlite", "postgresql")


def open_engine(url: str | None = None) -> Engine:
    """An engine on the case store at ``url`` (``data/queue.db`` when None); nothing is read or written yet.

    Raises ValueError for a database other than SQLite or PostgreSQL, or a driver that is not installed.
    """
    url = url or f"sqlite:///{QUEUE_DB}"
    parsed = make_url(url)
    dialect = parsed.get_backend_name()
    if dialect not in DIALECTS:
        raise ValueError(f"the case store supports SQLite and PostgreSQL, not {parsed.drivername!r}")
    if dialect == "sqlite":
        _make_parent_dir(parsed.database)
    try:
        # SQLite: a decision waits up to 30 s for a scoring run's write instead of failing after 5
        options = {"connect_args": {"timeout": 30}} if dialect == "sqlite" else {}
        engine = create_engine(url, json_serializer=json_dumps, **options)
    except ModuleNotFoundError as exc:  # the PostgreSQL driver is an optional extra
        raise ValueError(f"{exc.name} is not installed: pip install -e '.[postgres]'") from exc
    if dialect == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def dialect_insert(dialect: str, table: Table) -> Any:
    """The dialect's INSERT, the one with ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)


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
