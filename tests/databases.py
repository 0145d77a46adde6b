"""The databases the case store supports, for tests: SQLite files and a real PostgreSQL server.

``CLASSIFIER_TEST_POSTGRES_URL=postgresql+psycopg://user:pw@host:port/db`` names the server; the role
must be allowed to create databases. ``eval "$(bash scripts/postgres-test-server.sh start)"`` starts one
on loopback and sets it; CI always does. Without it the PostgreSQL variants are skipped, except under
CI, where they fail: a green CI run has always exercised PostgreSQL.

Each PostgreSQL test gets a database of its own (``fresh_database``), dropped afterwards; a filled
database can serve as the template of many such copies (``copy_database``), which is how SQLite tests
copy a filled file.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import ProgrammingError

POSTGRES_URL = os.environ.get("CLASSIFIER_TEST_POSTGRES_URL", "")
BACKENDS = ("sqlite", "postgresql")


def backend_params() -> list:
    """``params=`` for a fixture that runs its tests once per database."""
    missing = not POSTGRES_URL and not os.environ.get("CI")
    return [
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(
                missing, reason="set CLASSIFIER_TEST_POSTGRES_URL (scripts/postgres-test-server.sh) to run it"
            ),
        ),
    ]


def _require_postgres() -> None:
    if not POSTGRES_URL:
        pytest.fail("CI runs the PostgreSQL variants: set CLASSIFIER_TEST_POSTGRES_URL (see .ci/run)")
    pytest.importorskip("psycopg", reason="the PostgreSQL variants need the 'postgres' extra (psycopg)")


def _server_url(database: str) -> str:
    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


def _admin_execute(statement: str) -> None:
    # CREATE/DROP DATABASE cannot run inside a transaction
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def _drop(name: str) -> None:
    # WITH (FORCE) ends the tests' leftover connections, but PostgreSQL 15 refuses to end an autovacuum
    # worker for a role that is no superuser (42501): such a worker is done within moments
    for attempt in range(50):
        try:
            _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except ProgrammingError as exc:
            if getattr(exc.orig, "sqlstate", None) != "42501" or attempt == 49:
                raise
            time.sleep(0.1)


@contextmanager
def fresh_database(backend: str, folder: Path, name: str = "queue") -> Iterator[str]:
    """The URL of an empty database on ``backend``, removed on exit."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    _require_postgres()
    database = f"test_{name}_{uuid.uuid4().hex[:12]}"
    _admin_execute(f'CREATE DATABASE "{database}"')
    try:
        yield _server_url(database)
    finally:
        _drop(database)


@contextmanager
def copy_database(template_url: str, folder: Path) -> Iterator[str]:
    """A copy of the database at ``template_url`` (no connection may be open to it), removed on exit."""
    url = make_url(template_url)
    if url.get_backend_name() == "sqlite":
        source = Path(url.database or "")
        for path in source.parent.glob(source.name + "*"):  # the file, and a WAL file if any
            shutil.copy(path, folder / path.name)
        yield f"sqlite:///{folder / source.name}"
        return
    database = f"{url.database}_copy_{uuid.uuid4().hex[:8]}"
    _admin_execute(f'CREATE DATABASE "{database}" TEMPLATE "{url.database}"')
    try:
        yield _server_url(database)
    finally:
        _drop(database)
