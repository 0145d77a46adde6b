"""Schema migrations with Alembic (``queue/migrate.py``, ``queue/migrations/``), on SQLite and PostgreSQL.

Stores made by released versions before the migrations (``old_stores.py``: their exact tables, and
rows) are upgraded to the newest revision and keep every row; a new store is created at it; whichever
way a store got there, its tables are the ones ``schema.py`` declares.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from old_stores import OLD_SCHEMAS, create_old_store
from sqlalchemy import Connection, create_engine, inspect, select, text

from classifier.queue import CaseStore, Revisions, upgrade_store
from classifier.queue.accounts import Accounts
from classifier.queue.database import open_engine
from classifier.queue.migrate import (
    FIRST_REVISION,
    MIGRATIONS,
    current_revision,
    downgrade_schema,
    head_revision,
)
from classifier.queue.schema import cases_table, decisions_table, metadata, scores_table
from databases import fresh_database

HEAD = head_revision()


@pytest.fixture()
def empty_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with fresh_database(backend, tmp_path, "migrations") as url:
        yield url


def schema_differences(url: str) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match ``schema.py``: nothing."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_server_default": True})
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def tables_of(conn: Connection) -> dict[str, dict[str, Any]]:
    """Each table's columns, keys and indexes as the database reports them, to compare two stores."""
    found = inspect(conn)
    return {
        table: {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)],
            "primary_key": found.get_pk_constraint(table)["constrained_columns"],
            "foreign_keys": sorted(
                (fk["constrained_columns"], fk["referred_table"], fk["options"].get("ondelete"))
                for fk in found.get_foreign_keys(table)
            ),
            "unique": sorted(u["column_names"] for u in found.get_unique_constraints(table)),
            "indexes": sorted((i["name"], i["column_names"]) for i in found.get_indexes(table)),
        }
        for table in sorted(found.get_table_names())
        if table != "alembic_version"
    }


def stored(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of cases, scores and decisions in the first release's columns: what no upgrade changes."""
    columns = {
        cases_table: [c for c in cases_table.c if c.name not in {"text", "version", "shop_id", "images"}],
        scores_table: list(scores_table.c),
        decisions_table: [c for c in decisions_table.c if c.name not in {"category", "shop_id"}],
    }
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table.name: [tuple(row) for row in conn.execute(select(*cols).order_by(table.c.id))]
                for table, cols in columns.items()
            }
    finally:
        engine.dispose()


def test_a_new_store_is_created_at_the_newest_revision(empty_url: str) -> None:
    assert upgrade_store(empty_url) == Revisions(None, HEAD)
    assert schema_differences(empty_url) == []
    with CaseStore(empty_url) as store, store.engine.connect() as conn:
        assert current_revision(conn) == HEAD
        assert set(inspect(conn).get_table_names()) == {*metadata.tables, "alembic_version"}
    assert upgrade_store(empty_url) == Revisions(HEAD, HEAD)


def test_the_revision_is_read_without_alembic_as_alembic_reads_it(empty_url: str) -> None:
    # the file names give the newest revision (NNNN_what.py): a new revision must keep the convention
    assert ScriptDirectory(str(MIGRATIONS)).get_current_head() == HEAD
    engine = open_engine(empty_url)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) is None
            assert MigrationContext.configure(conn).get_current_revision() is None
        upgrade_store(empty_url)
        with engine.connect() as conn:
            assert current_revision(conn) == MigrationContext.configure(conn).get_current_revision() == HEAD
    finally:
        engine.dispose()


def test_opening_a_store_that_is_up_to_date_does_not_import_alembic(empty_url: str) -> None:
    upgrade_store(empty_url)
    program = (
        "import sys\nfrom classifier.queue import CaseStore\n"
        f"with CaseStore({empty_url!r}) as store: store.counts()\n"
        "print('alembic' in sys.modules)"
    )
    loaded = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"


@pytest.mark.parametrize("old", OLD_SCHEMAS)
def test_a_store_made_before_the_migrations_is_upgraded_and_keeps_its_rows(empty_url: str, old: str) -> None:
    create_old_store(empty_url, old)
    rows = stored(empty_url)
    assert upgrade_store(empty_url) == Revisions(FIRST_REVISION, HEAD)
    assert schema_differences(empty_url) == []
    assert stored(empty_url) == rows
    with CaseStore(empty_url) as store:
        ad, failed = store.cases()
        assert (ad["url"], ad["status"], ad["report_count"], ad["score"]) == (
            "https://shop.kz/ad",
            "confirmed",
            2,
            0.9,
        )
        assert ad["evidence"][0]["term"] == "закладки" and ad["contacts"] == {"telegram": ["@shop"]}
        assert (failed["last_status"], failed["score"]) == ("error", None)
        case = store.case(ad["id"])
        assert case is not None and [s["record_id"] for s in case["scores"]] == ["r1", "r2"]
        assert case["first_seen"] == "2024-05-01T10:00:00+00:00"
        assert [(d["expert"], d["decision"], d["comment"]) for d in case["decisions"]] == [
            ("boris", "confirmed", "магазин")
        ]
        assert [(e["actor"], e["action"]) for e in store.audit_log()] == [("boris", "decision")]
        # every old case is a shop of its own, known by the identifiers among its stored contacts
        shop = store.shop(ad["id"])
        assert shop is not None and shop["status"] == "confirmed"
        assert [c["id"] for c in shop["cases"]] == [ad["id"]] and shop["identifiers"] == {
            "c:telegram:@shop": 1
        }
        (run,) = store.runs()
        assert run["inputs"] == {"paths": ["crawl.warc.gz"]} and run["summary"] == {"rows": 3}
        if old == "first_store":  # what the review app added starts empty
            assert (case["version"], case["text"], run["threshold"]) == (0, None, None)
            assert case["decisions"][0]["category"] is None
        else:
            assert (case["version"], case["text"], run["threshold"]) == (
                1,
                "Закладки по городу, пиши @shop",
                0.6,
            )
            assert [u["username"] for u in Accounts(store).users()] == ["boris"]
        # and the upgraded store works as a new one does
        store.record_decision(failed["id"], "rejected", "vera", expected_version=0)
        store.record_decision(ad["id"], "unsure", "vera", expected_version=case["version"])
        assert Accounts(store).add_user("vera", "correct-horse-2")["username"] == "vera"
        assert store.counts() == {"new": 0, "pending": 0, "confirmed": 0, "rejected": 1, "unsure": 1}


@pytest.mark.parametrize("old", OLD_SCHEMAS)
def test_opening_a_store_upgrades_it_and_a_second_upgrade_changes_nothing(empty_url: str, old: str) -> None:
    create_old_store(empty_url, old)
    with CaseStore(empty_url) as store, store.engine.connect() as conn:
        assert current_revision(conn) == HEAD
        tables, rows = tables_of(conn), stored(empty_url)
    assert upgrade_store(empty_url) == Revisions(HEAD, HEAD)
    engine = create_engine(empty_url)
    with engine.connect() as conn:
        assert tables_of(conn) == tables
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD]
    engine.dispose()
    assert stored(empty_url) == rows


def test_every_way_to_the_newest_revision_gives_the_same_tables(backend: str, tmp_path: Path) -> None:
    """New, from the first release, from the review app's schema: column order and index names too."""
    found = []
    for start in (None, *OLD_SCHEMAS):
        with fresh_database(backend, tmp_path, f"path_{start}") as url:
            if start:
                create_old_store(url, start)
            upgrade_store(url)
            engine = create_engine(url)
            with engine.connect() as conn:
                found.append(tables_of(conn))
            engine.dispose()
    assert found[0] == found[1] == found[2]
    assert set(found[0]) == set(metadata.tables)


def test_a_store_the_old_code_upgraded_only_in_part_is_completed(empty_url: str) -> None:
    """The code before the migrations added what was missing one statement at a time (SQLite commits
    each ALTER): a store may have any part of the review app's schema."""
    create_old_store(empty_url, "first_store")
    engine = create_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE cases ADD COLUMN text TEXT"))
        conn.execute(text("CREATE INDEX ix_decisions_time ON decisions (decided_at)"))
    engine.dispose()
    assert upgrade_store(empty_url) == Revisions(FIRST_REVISION, HEAD)
    assert schema_differences(empty_url) == []


def test_a_store_a_newer_version_upgraded_is_refused_with_a_clear_error(empty_url: str) -> None:
    upgrade_store(empty_url)
    engine = create_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(ValueError, match=r"revision '9999'.*newer version.*upgrade the classifier"):
        CaseStore(empty_url)


def test_a_downgrade_gives_the_older_tables_back_and_keeps_their_rows(
    empty_url: str, backend: str, tmp_path: Path
) -> None:
    """Back to the first release's schema and up again. On SQLite dropping a column copies the table
    (batch mode): the copy of ``cases`` must not take the scores and decisions with it (their foreign
    keys cascade on delete), which is why schema changes run with foreign keys off there."""
    create_old_store(empty_url, "before_alembic")
    rows = stored(empty_url)
    upgrade_store(empty_url)
    engine = open_engine(empty_url)
    try:
        assert downgrade_schema(engine, FIRST_REVISION) == Revisions(HEAD, FIRST_REVISION)
        with engine.connect() as conn:
            downgraded = tables_of(conn)
    finally:
        engine.dispose()
    assert stored(empty_url) == rows
    with fresh_database(backend, tmp_path, "first_store") as first_url:
        create_old_store(first_url, "first_store")
        first = create_engine(first_url)
        with first.connect() as conn:
            assert downgraded == tables_of(conn)
        first.dispose()
    assert upgrade_store(empty_url) == Revisions(FIRST_REVISION, HEAD)
    assert schema_differences(empty_url) == []
    assert stored(empty_url) == rows


def test_the_db_upgrade_command_brings_a_store_of_the_last_release_up_to_date(
    empty_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``classifier db upgrade --db URL`` on a store made by the code before the migrations."""
    from classifier.cli import main

    create_old_store(empty_url, "before_alembic")
    rows = stored(empty_url)
    assert main(["db", "upgrade", "--db", empty_url]) == 0
    assert f"upgraded from revision {FIRST_REVISION} to {HEAD}" in capsys.readouterr().out
    assert schema_differences(empty_url) == [] and stored(empty_url) == rows
    assert main(["db", "upgrade", "--db", empty_url]) == 0
    assert f"is up to date (revision {HEAD})" in capsys.readouterr().out
