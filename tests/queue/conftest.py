"""The case store's tests run against real databases: every test of its behaviour on an SQLite file and on
a PostgreSQL server (``tests/databases.py``: skipped locally without one, required in CI).

The few SQLite-only tests say so; concurrent writers are in ``test_concurrent_writers.py``.

No ``__init__.py`` here, unlike the other test folders: a package named ``queue`` would shadow the
standard library's module of that name (multiprocessing imports it). pytest imports these modules by
their file names, so those must not repeat a test module's name elsewhere in ``tests/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from classifier.queue import CaseStore
from databases import backend_params, copy_database, fresh_database


@pytest.fixture(scope="session", params=backend_params())
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def empty_store(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Per backend, the tables as a new store creates them: each test gets a copy (cheaper than creating
    them again on PostgreSQL)."""
    with fresh_database(backend, tmp_path_factory.mktemp("queue-template")) as url:
        CaseStore(url).close()
        yield url


@pytest.fixture()
def db_url(empty_store: str, tmp_path: Path) -> Iterator[str]:
    with copy_database(empty_store, tmp_path) as url:
        yield url


@pytest.fixture()
def store(db_url: str) -> Iterator[CaseStore]:
    with CaseStore(db_url) as store:  # closed before the database is dropped
        yield store
