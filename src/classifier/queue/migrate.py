"""Bringing a case store's database to the schema this code expects, with Alembic.

The revisions live in ``migrations/versions`` and ship inside the package; Alembic is configured here
in code, so no ``alembic.ini`` is needed wherever the classifier runs. Opening a :class:`CaseStore`
upgrades its database (for a store already at the newest revision that is one read of
``alembic_version``, no lock, and Alembic is not imported); ``classifier db upgrade`` does it on its
own with :func:`upgrade_store`.

A store made before the migrations existed has tables but no ``alembic_version``: it is marked as
the first revision, and the later ones bring it up to date.

To change the schema: edit ``schema.py``, then add a revision that does the same to existing stores,
for instance generated from the difference and reviewed by hand::

    with open_engine(url).begin() as conn:
        command.revision(alembic_config(conn), "what changed", rev_id="0003", autogenerate=True)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import Connection, Engine, func, inspect, select, text
from sqlalchemy.exc import OperationalError

from classifier.queue.database import masked_url, open_engine

if TYPE_CHECKING:  # Alembic is imported only where a store needs a change (head_revision says why)
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).with_name("migrations")
FIRST_REVISION = "0001"  # what a store made before the migrations counts as
# A PostgreSQL advisory lock key: one process changes the schema at a time. The key the code before
# the migrations used too, so an older process opening the store waits for an upgrade as well.
_UPGRADE_LOCK = 727_364_201
_SQLITE_LOCKED_WAIT_SECONDS = 30.0  # as long as the store's busy timeout (database.open_engine)


class Revisions(NamedTuple):
    """A store's schema revision before and after an upgrade; ``None`` is an empty database."""

    before: str | None
    after: str | None


def upgrade_store(url: str | None = None) -> Revisions:
    """Upgrade the case store at ``url`` (``data/queue.db`` when None) to the newest revision.

    Returns the revisions before and after: ``before`` is None for an empty database (it gets every
    table) and ``"0001"`` for a store made before the migrations; a store already up to date is left as
    it is (``before == after``). Raises ValueError when the database cannot be opened or was upgraded
    by a newer version of the classifier.
    """
    engine = open_engine(url)
    try:
        return upgrade_schema(engine)
    finally:
        engine.dispose()


def upgrade_schema(engine: Engine) -> Revisions:
    """Upgrade the database behind ``engine`` to the newest revision (see :func:`upgrade_store`)."""
    deadline = time.monotonic() + _SQLITE_LOCKED_WAIT_SECONDS
    while True:
        try:
            return _upgrade(engine)
        except OperationalError as exc:  # unreachable server, bad credentials, unwritable file
            # SQLite refuses some lock upgrades at once instead of waiting (its deadlock avoidance: two
            # processes opening a new file together); the upgrade rolled back, so it is tried again
            locked = engine.dialect.name == "sqlite" and "database is locked" in str(exc.orig)
            if not locked or time.monotonic() > deadline:
                raise ValueError(f"cannot open the case store {masked_url(engine.url)}: {exc.orig}") from exc
            time.sleep(0.05)


def _upgrade(engine: Engine) -> Revisions:
    head = head_revision()
    with engine.connect() as conn:
        before = current_revision(conn)
    if before == head:  # the usual case: no lock, nothing written, and Alembic not even imported
        return Revisions(before, head)
    from alembic import command

    _check_known(before, engine)
    with _exclusive(engine) as conn:
        before = current_revision(conn)  # another process may have upgraded it while we waited
        if before is None and inspect(conn).has_table("cases"):
            command.stamp(alembic_config(conn), FIRST_REVISION)  # made before the migrations
            before = FIRST_REVISION
        if before != head:
            command.upgrade(alembic_config(conn), "head")
    return Revisions(before, head)


def downgrade_schema(engine: Engine, revision: str) -> Revisions:
    """Take the database back to ``revision`` (``"base"``: no tables at all), for an older classifier.

    What the later revisions added is lost: their tables and columns are dropped with their contents.
    """
    from alembic import command

    with _exclusive(engine) as conn:
        before = current_revision(conn)
        command.downgrade(alembic_config(conn), revision)
        return Revisions(before, current_revision(conn))


def head_revision() -> str:
    """The newest revision, the schema ``schema.py`` describes, from the revisions' file names
    (``NNNN_what.py`` holds revision NNNN; a test holds this to Alembic's own answer): importing
    Alembic costs a quarter of a second, and most stores are up to date."""
    names = [path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py")]
    assert names, f"no revisions in {MIGRATIONS}"
    return max(names)


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at; None without ``alembic_version`` (empty, or made before Alembic).
    Read without Alembic, as Alembic reads it (a test checks)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def alembic_config(connection: Connection) -> Config:
    """Alembic's configuration for the case store, running on ``connection`` (see ``migrations/env.py``)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS))


def _check_known(revision: str | None, engine: Engine) -> None:
    known = {script.revision for script in _scripts().walk_revisions()}
    if revision is not None and revision not in known:
        raise ValueError(
            f"the case store {masked_url(engine.url)} is at schema revision {revision!r}, which this "
            "version of the classifier does not know: a newer version upgraded it; upgrade the classifier"
        )


@contextmanager
def _exclusive(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the store's upgrade lock, committed on success.

    Processes opening a new store at the same moment thus create its tables one after the other, and
    the second finds nothing left to do. PostgreSQL: an advisory lock, and DDL is transactional.
    SQLite: the file's write lock, with foreign keys off, as SQLite prescribes for schema changes:
    batch mode alters a table by copying it and dropping the original, and dropping ``cases`` with
    foreign keys on would delete every score and decision that refers to it (``ON DELETE CASCADE``).
    """
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            with conn.begin():
                conn.execute(select(func.pg_advisory_xact_lock(_UPGRADE_LOCK)))
                yield conn
            return
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: before BEGIN
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"the schema change left rows that refer to nothing: {broken[:5]}")
            conn.commit()
        finally:
            conn.rollback()  # after a failure; nothing left to roll back after the commit
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")  # the connection returns to the pool
