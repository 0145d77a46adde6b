"""The review tests' databases, apps and clients: one set for every test module here.

Every test runs on SQLite and on PostgreSQL (``tests/databases.py``). Per backend, one database is filled
once (``review.cases.populate``, two more users, and open sessions, so that most tests need no slow argon2
login): the ``template``. A test that writes gets a copy of its own (``db_url``, and ``app`` over it); the
tests whose requests change nothing share one app over one more copy (``shared_app``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from classifier.common.config import ReviewSettings
from classifier.queue import CaseStore
from classifier.queue import accounts as accounts_module
from classifier.queue.accounts import Accounts
from classifier.review.app import create_app
from classifier.review.security import SESSION_COOKIE
from databases import backend_params, copy_database, fresh_database
from review.cases import CHEAP_HASHER, PEOPLE, TEST_HOSTS, Template, populate


def _add_people_and_sessions(url: str) -> dict[str, tuple[str, str]]:
    with pytest.MonkeyPatch.context() as patch, CaseStore(url) as store:
        patch.setattr(accounts_module, "_HASHER", CHEAP_HASHER)
        accounts = Accounts(store)
        for name, (password, role) in PEOPLE.items():
            accounts.add_user(name, password, role=role, created_by="tests")
        users = {u["username"]: u["id"] for u in accounts.users()}
        day = timedelta(days=1)
        sessions = {
            name: accounts.start_session(users[name], day) for name in ("anna", "boris", "vera", "dora")
        }
        sessions["boris-2"] = accounts.start_session(users["boris"], day)
        sessions["expired"] = accounts.start_session(users["anna"], -day)  # last: new sessions purge it
        with store.engine.begin() as conn:  # disabled behind the app's back: only its check refuses
            conn.execute(text("UPDATE users SET active = :no WHERE username = 'dora'"), {"no": False})
    return sessions


@pytest.fixture(scope="session", params=backend_params())
def template(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    with fresh_database(request.param, tmp_path_factory.mktemp("review-template"), "review") as url:
        ids = populate(url)
        yield Template(url, ids, _add_people_and_sessions(url))


@pytest.fixture()
def ids(template: Template) -> dict[str, int]:
    return template.ids


def close_apps(apps: list[FastAPI]) -> None:
    """Disposes the apps' connections: a database is dropped after its test, and SQLite files deleted."""
    for app in apps:
        app.state.store.close()
        app.state.logins.close()


class Copies:
    """Copies of the template, each made while the test before it runs and dropped while the next one
    runs: on PostgreSQL a copy and a drop keep the server busy ~0.5 s, which no test need wait for."""

    def __init__(self, template_url: str, folders: Callable[[], Path]):
        self._make = lambda: self._copy(template_url, folders())
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="review-copies")
        self._next = self._thread.submit(self._make)
        self._drops: list[Future[None]] = []

    @staticmethod
    def _copy(template_url: str, folder: Path) -> tuple[str, ExitStack]:
        stack = ExitStack()
        return stack.enter_context(copy_database(template_url, folder)), stack

    def take(self) -> tuple[str, ExitStack]:
        """A copy's URL, and what drops it (pass it to ``drop``)."""
        for done in [d for d in self._drops if d.done()]:
            self._drops.remove(done)
            done.result()  # a failed drop fails the next test rather than passing unseen
        url, stack = self._next.result()
        self._next = self._thread.submit(self._make)
        return url, stack

    def drop(self, stack: ExitStack) -> None:
        """Once nothing is connected to the copy any more."""
        self._drops.append(self._thread.submit(stack.close))

    def close(self) -> None:
        self.drop(self._next.result()[1])
        self._thread.shutdown(wait=True)
        for done in self._drops:
            done.result()


@pytest.fixture(scope="session")
def copies(template: Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Copies]:
    pool = Copies(template.url, lambda: tmp_path_factory.mktemp("review-copy"))
    yield pool
    pool.close()


@pytest.fixture()
def db_url(copies: Copies) -> Iterator[str]:
    """A copy of the template for a test that writes."""
    url, stack = copies.take()
    yield url
    copies.drop(stack)  # after the apps closed: make_app's teardown comes first


@pytest.fixture()
def make_app(db_url: str) -> Iterator[Callable[..., FastAPI]]:
    """Apps over the test's copy, with ``ReviewSettings`` fields as keywords; each app opens its store
    (~0.2 s on PostgreSQL), several apps on one copy are several processes on one database."""
    apps: list[FastAPI] = []

    def make(**settings: Any) -> FastAPI:
        apps.append(create_app(db_url, ReviewSettings(**{"allowed_hosts": TEST_HOSTS, **settings})))
        return apps[-1]

    yield make
    close_apps(apps)


@pytest.fixture()
def app(make_app: Callable[..., FastAPI]) -> FastAPI:
    return make_app()


@pytest.fixture()
def store(app: FastAPI) -> CaseStore:
    """The store of ``app``, to set up cases and check what requests wrote (one store fewer to open)."""
    return app.state.store


@pytest.fixture(scope="session")
def shared_app(template: Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """One app over one copy of the template, for the many tests whose requests change nothing (saves a
    copy per test). Nothing may log in on it either: a new session purges the expired one."""
    with copy_database(template.url, tmp_path_factory.mktemp("review-shared")) as url:
        app = create_app(url, ReviewSettings(allowed_hosts=TEST_HOSTS))
        yield app
        close_apps([app])


@pytest.fixture()
def open_as(request: pytest.FixtureRequest, template: Template) -> Iterator[Callable[..., TestClient]]:
    """Clients with the named user's (or session variant's) cookie, anonymous without a name, on ``app``
    by default (made only when asked for), from client ``address``. A server error is a 500 response,
    as a browser would see it; the clients stay open until the test ends (one event loop thread each,
    not one per request: twice as fast)."""
    clients = ExitStack()

    def open_(name: str | None = None, on: FastAPI | None = None, address: str = "testclient") -> TestClient:
        client = TestClient(
            on or request.getfixturevalue("app"),
            follow_redirects=False,
            raise_server_exceptions=False,
            client=(address, 50000),
        )
        clients.enter_context(client)
        if name:
            client.cookies.set(SESSION_COOKIE, template.sessions[name][0])
        return client

    yield open_
    clients.close()


@pytest.fixture()
def view_as(shared_app: FastAPI, open_as: Callable[..., TestClient]) -> Callable[..., TestClient]:
    """Like ``open_as``, on the shared app: only for requests that change nothing."""

    def open_(name: str | None = None, address: str = "testclient") -> TestClient:
        return open_as(name, on=shared_app, address=address)

    return open_


@pytest.fixture()
def two_confirmations(make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient]) -> Any:
    """Clients by user name on an app where a case is confirmed by two experts."""
    app = make_app(confirmations_required=2)
    return lambda name: open_as(name, on=app)
