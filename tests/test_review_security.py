"""Security tests of the review app, on SQLite and PostgreSQL (issue 8, part 5).

``test_review_app.py`` checks a fixed list of pages; this file derives what it checks from the app's own
route table, so that a route added later is covered (or the test says what it needs to know about it):

- access control: every route refuses anonymous, forged, expired, disabled and misplaced sessions, except
  an explicit allowlist; routes under /admin refuse experts;
- CSRF on every state-changing route, and no GET changes anything;
- a corpus of XSS payloads (``resources/xss_payloads.txt``) in every field a crawled page, an expert or an
  admin can fill and in every query parameter: each page has the markup of the same page over harmless
  words, and shows the payload as text;
- a corpus of SQL-injection strings in every parameter: no server error, no extra rows, no change;
- the login rate limit beyond ``test_review_app.py``: it survives a restart, counts every spelling of a
  name and every address, ignores forwarded-for headers, and a blocked login checks no password.

Per backend, one filled database (``review_cases.populate``, two more users, open sessions) is the template
of per-test copies; two more copies hold the XSS corpus and the same data with harmless words. Passwords
are hashed with cheap argon2 parameters here, so that logins take milliseconds.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, select, text, update
from starlette.routing import Mount

from classifier.config import ReviewSettings
from classifier.queue import CaseStore
from classifier.queue import accounts as accounts_module
from classifier.queue.accounts import Accounts
from classifier.queue.keys import case_key
from classifier.queue.schema import audit_table, metadata
from classifier.queue.values import clean_text
from classifier.review.app import create_app
from classifier.review.security import CONTENT_SECURITY_POLICY, SESSION_COOKIE
from databases import backend_params, copy_database, fresh_database
from review_cases import SCORED_AT, USERS, populate, review_rows

RESOURCES = Path(__file__).parent / "resources"
CONTROL = {"[[NUL]]": "\x00", "[[TAB]]": "\t", "[[LF]]": "\n", "[[RLO]]": "\u202e"}


def _read_payloads() -> list[str]:
    payloads = []
    for line in (RESOURCES / "xss_payloads.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            for marker, char in CONTROL.items():
                line = line.replace(marker, char)
            payloads.append(line)
    return payloads


PAYLOADS = _read_payloads()
HARMLESS = [f"обычный текст номер {i}" for i in range(len(PAYLOADS))]  # the same data without markup

SQL_INJECTION = [
    "' OR '1'='1",
    "' OR 1=1 --",
    "'; DROP TABLE cases; --",
    "1; DELETE FROM audit_log; --",
    "1 UNION SELECT username, password_hash, role FROM users --",
    "' UNION SELECT NULL, token_hash, csrf_token FROM sessions --",
    "%' --",
    "%",
    "_",
    "\\",
    "\\'; SELECT pg_sleep(5); --",
    "\x00",
    "bo\x00ris' OR '1'='1",
    "x" * 10_000,
    "Магазин' OR 'а'='а' -- «закладки»",
    "1e309",
    "-1",
    "NaN",
    "0x1",
    "9" * 30,
]

# Reachable without a session: the login form and its post, the health check, the stylesheet.
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/healthz")}
PUBLIC_MOUNTS = {"/static"}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
PATH_SAMPLES = {"case_id": "sale-1"}  # a record id whose case fills each path parameter
SAMPLE_FORM = {"decision": "confirmed", "category": "sale", "comment": "проверено", "version": "0"}
# What no refused response may contain: cases' data, user names, password hashes.
SECRETS = ("Страница sale-1", "snow-shop.example", "snow_shop_example", "anna", "boris", "vera", "$argon2")

CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PEOPLE = {"rita": ("rita-password-4", "expert"), "dora": ("dora-password-5", "admin")}  # dora is disabled


# -- the databases --


@dataclass(frozen=True)
class Stores:
    base: str  # populate, PEOPLE, open sessions: the template of per-test copies
    hostile: str  # base and the XSS corpus in every field
    harmless: str  # base and the same data with HARMLESS words
    ids: dict[str, int]  # case ids by record id (those of review_cases the same in all three)
    sessions: dict[str, tuple[str, str]]  # (cookie token, CSRF token) by user name or variant


def _open_sessions(url: str) -> dict[str, tuple[str, str]]:
    with CaseStore(url) as store:
        accounts = Accounts(store)
        for name, (password, role) in PEOPLE.items():
            accounts.add_user(name, password, role=role, created_by="tests")
        users = {u["username"]: u["id"] for u in accounts.users()}
        day = timedelta(days=1)
        sessions = {
            name: accounts.start_session(users[name], day) for name in ("anna", "boris", "vera", "dora")
        }
        sessions["boris-2"] = accounts.start_session(users["boris"], day)  # boris in a second browser
        sessions["expired"] = accounts.start_session(users["anna"], -day)  # last: new sessions purge it
        with store.engine.begin() as conn:  # disabled behind the app's back: only its check refuses
            conn.execute(text("UPDATE users SET active = :no WHERE username = 'dora'"), {"no": False})
    return sessions


def _case_ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {record: case for record, case in conn.execute(text("SELECT record_id, case_id FROM scores"))}


def _add_words(url: str, words: list[str], boris: tuple[str, str]) -> dict[str, int]:
    """``words[i]`` in every field of two cases (one scored, one never scored), in a decision's comment,
    as the creator of a user and as the actor of an audit entry."""
    template = review_rows(0)[0]  # sale-1: a complete scored row
    rows, late, keys = [], [], set()
    for i, word in enumerate(words):
        plain = clean_text(word)  # what the store keeps of a text column
        # two payloads may name one resource (urlsplit drops tabs, the store NULs): a query tells them apart
        url_ = word if case_key(plain, "") not in keys else f"{word}?xss={i}"
        keys.add(case_key(clean_text(url_), ""))
        page = f"Закладки по городу.\nПиши: {word}\nКонец."
        shared = {
            **template,
            "title": word,
            "domain": word,
            "model_name": word,
            "model_version": f"{i} {word}",  # distinct: the dashboard lists each version once
            "contacts": {"telegram": [word], word: [word]},
            "cluster_id": f"xss-{i}",
            "cluster_size": 1,
            "run_id": "run-xss-1",
        }
        scored = {
            **shared,
            "id": f"xss-{i}",
            "url": url_,
            "text": page,
            "excerpt": page,
            "score": 0.5 + (i - len(words) / 2) / 10_000,  # nearest the threshold: the uncertain view
            # in the filter menus too, for a quarter of the cases (menus of 100 options are slow to parse)
            "language": f"{i} {plain}"[:32] if i % 4 == 0 else "ru",
            "evidence": [
                {"term": "закладки", "weight": 1.2, "sentence": f"Пиши: {plain}"},
                {"term": word, "weight": 0.5, "sentence": ""},
            ],
        }
        rows.append(scored)
        failed = {"status": "error", "error": word, "score": None, "label": None}
        late.append({**scored, **failed, "id": f"xss-{i}-late", "run_id": "run-xss-2"})
        never_scored = {"url": "", "text": "", "excerpt": "", "evidence": [], "language": "", "priority": 0.0}
        rows.append(
            {
                **shared,
                **failed,
                **never_scored,
                "id": f"xss-err-{i}",
                "category": f"{i} {plain}"[:32] if i % 4 == 0 else None,
            }
        )
    later = SCORED_AT.replace("09:00", "10:00")
    with pytest.MonkeyPatch.context() as patch, CaseStore(url) as store:
        patch.setattr(accounts_module, "_HASHER", CHEAP_HASHER)
        store.add_scored(rows)
        store.add_scored([{**row, "scored_at": later} for row in late])
        accounts = Accounts(store)
        for i, word in enumerate(words):
            accounts.add_user(f"xss-user-{i}", "a-long-password", created_by=clean_text(word))
            # what a failed login under that name writes (the login form itself is tested elsewhere)
            store.log_audit(clean_text(word), clean_text(word)[:64], None, {"ip": word, word: word})
        ids = _case_ids(store.engine)
    app = create_app(url)
    try:
        with TestClient(app, follow_redirects=False) as client:
            client.cookies.set(SESSION_COOKIE, boris[0])
            for i, word in enumerate(words):  # what experts type, through the form
                form = {**SAMPLE_FORM, "comment": word, "csrf": boris[1], "shown_model_version": word[:64]}
                assert client.post(f"/cases/{ids[f'xss-err-{i}']}/decision", data=form).status_code == 303
    finally:
        app.state.store.close()
    return ids


@pytest.fixture(scope="module", params=backend_params())
def stores(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    """The three databases on one backend; no connection stays open to ``base``, the copies' template."""
    folder = tmp_path_factory.mktemp(f"security-{request.param}")
    with ExitStack() as stack:
        base = stack.enter_context(fresh_database(request.param, folder, "base"))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(accounts_module, "_HASHER", CHEAP_HASHER)
            populate(base)
            sessions = _open_sessions(base)
        copies, ids = {}, []
        for name, words in (("hostile", PAYLOADS), ("harmless", HARMLESS)):
            (folder / name).mkdir()
            copies[name] = stack.enter_context(copy_database(base, folder / name))
            ids.append(_add_words(copies[name], words, sessions["boris"]))
        assert ids[0] == ids[1]
        yield Stores(base, copies["hostile"], copies["harmless"], ids[0], sessions)


@pytest.fixture()
def db_url(stores: Stores, tmp_path: Path) -> Iterator[str]:
    """A copy of the base database for a test that writes."""
    with copy_database(stores.base, tmp_path) as url:
        yield url


@pytest.fixture()
def make_app(db_url: str) -> Iterator[Callable[..., FastAPI]]:
    apps: list[FastAPI] = []

    def make(**settings: Any) -> FastAPI:
        apps.append(create_app(db_url, ReviewSettings(**settings)))
        return apps[-1]

    yield make
    for app in apps:
        app.state.store.close()


@pytest.fixture(scope="module")
def scratch(stores: Stores, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """An app over one copy of the base database for the tests whose requests must change nothing."""
    with copy_database(stores.base, tmp_path_factory.mktemp("scratch")) as url:
        app = create_app(url, ReviewSettings(per_page=10))  # small pages: quicker to render and parse
        yield app
        app.state.store.close()


@pytest.fixture(scope="module")
def hostile_app(stores: Stores) -> Iterator[FastAPI]:
    app = create_app(stores.hostile, ReviewSettings(per_page=10))
    yield app
    app.state.store.close()


@pytest.fixture(scope="module")
def harmless_app(stores: Stores) -> Iterator[FastAPI]:
    app = create_app(stores.harmless, ReviewSettings(per_page=10))
    yield app
    app.state.store.close()


@pytest.fixture()
def cheap_logins(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Cheap argon2 for new hashes and unknown names; returns the passwords checked, in order."""
    checked: list[str] = []
    verify = accounts_module._verify
    dummy = CHEAP_HASHER.hash(secrets.token_urlsafe(16))

    def counted(password_hash: str, password: str) -> bool:
        checked.append(password)
        return verify(password_hash, password)

    monkeypatch.setattr(accounts_module, "_HASHER", CHEAP_HASHER)
    monkeypatch.setattr(accounts_module, "_dummy_hash", lambda: dummy)
    monkeypatch.setattr(accounts_module, "_verify", counted)
    return checked


# -- helpers --


_CLIENTS = ExitStack()  # open clients keep one event loop thread, not one per request: twice as fast


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    _CLIENTS.close()


def browser(app: FastAPI, stores: Stores, who: str | None = None, address: str = "testclient") -> TestClient:
    client = TestClient(app, follow_redirects=False, raise_server_exceptions=False, client=(address, 50000))
    _CLIENTS.enter_context(client)
    if who:
        client.cookies.set(SESSION_COOKIE, stores.sessions[who][0])
    return client


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as declared: /cases/{case_id}
    query: tuple[str, ...]
    form: tuple[str, ...]


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every (method, route) of the app; mounted apps are in ``mounts``."""
    found = []
    for route in app.routes:
        if isinstance(route, Mount):
            continue
        assert isinstance(route, APIRoute), f"{route!r} is a new kind of route: teach this file about it"
        query = tuple(p.name for p in route.dependant.query_params)
        form = tuple(p.name for p in route.dependant.body_params)
        found += [Endpoint(method, route.path, query, form) for method in sorted(route.methods)]
    return found


def mounts(app: FastAPI) -> set[str]:
    return {route.path for route in app.routes if isinstance(route, Mount)}


def concrete(path: str, ids: dict[str, int]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PATH_SAMPLES:
            pytest.fail(f"{path}: add a sample value for {{{name}}} to PATH_SAMPLES")
        return str(ids[PATH_SAMPLES[name]])

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


def state(engine: Engine, catalogue: bool = False) -> dict[str, Any]:
    """Everything a request could change: every table's row count, cases, users, sessions; with
    ``catalogue``, the tables the database has rather than those the schema defines (slower)."""
    with engine.connect() as conn:
        tables = sorted(inspect(conn).get_table_names() if catalogue else metadata.tables)
        counts = {t: conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one() for t in tables}
        rows = {
            "case rows": "SELECT id, status, version FROM cases ORDER BY id",
            "user rows": "SELECT username, role, active FROM users ORDER BY id",
            "session rows": "SELECT token_hash FROM sessions ORDER BY token_hash",
            "last audit entry": "SELECT MAX(id) FROM audit_log",
        }
        return {"tables": tables, **counts, **{k: conn.execute(text(q)).all() for k, q in rows.items()}}


def hidden(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))


def login(client: TestClient, username: str, password: str, **headers: str) -> Any:
    csrf = hidden(client.get("/login").text)["csrf"]
    form = {"username": username, "password": password, "csrf": csrf, "next": "/queue"}
    return client.post("/login", data=form, headers=headers)


def listed(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<a class="open" href="/cases/(\d+)"', html)]


def number(pattern: str, html: str) -> int:
    found = re.search(pattern, html)
    assert found, pattern
    return int(found.group(1))


def leaks(response: Any) -> list[str]:
    return [s for s in SECRETS if s in response.text]


# -- 1. access control from the route table --


def test_public_routes_are_the_allowlisted_ones(scratch: FastAPI, stores: Stores) -> None:
    table = {(e.method, e.path) for e in endpoints(scratch)}
    assert table >= PUBLIC, "the allowlist names a route that is gone: remove it"
    assert mounts(scratch) == PUBLIC_MOUNTS, (
        "a new mount: is it public? add it to PUBLIC_MOUNTS or protect it"
    )
    anonymous = browser(scratch, stores)
    for method, path in PUBLIC - {("POST", "/login")}:  # the login post: test_review_app.py
        assert anonymous.request(method, path).status_code == 200, path
    assert anonymous.get("/static/app.css").status_code == 200


def _refused_client(app: FastAPI, stores: Stores, kind: str) -> tuple[TestClient, dict[str, str], str]:
    """A client without a valid session, the query parameters it adds, and the CSRF token it sends."""
    client = browser(app, stores)
    token, csrf = stores.sessions["boris"]  # a real CSRF token, without its session
    params: dict[str, str] = {}
    if kind == "forged":
        client.cookies.set(SESSION_COOKIE, secrets.token_urlsafe(32))
    elif kind in ("expired", "disabled"):
        token, csrf = stores.sessions["expired" if kind == "expired" else "dora"]  # both admins
        client.cookies.set(SESSION_COOKIE, token)
    elif kind == "token in the query":
        params = {SESSION_COOKIE: token}
    elif kind == "token in headers":
        client.headers.update({"Authorization": f"Bearer {token}", "X-Session-Token": token})
    elif kind == "login form only":
        csrf = hidden(client.get("/login").text)["csrf"]  # and its cookie
    return client, params, csrf


REFUSED = [
    "anonymous",
    "forged",
    "expired",
    "disabled",
    "token in the query",
    "token in headers",
    "login form only",
]


@pytest.mark.parametrize("kind", REFUSED)
def test_every_route_refuses_a_request_without_a_valid_session(
    kind: str, scratch: FastAPI, stores: Stores
) -> None:
    client, params, csrf = _refused_client(scratch, stores, kind)
    engine = scratch.state.store.engine
    protected = [e for e in endpoints(scratch) if (e.method, e.path) not in PUBLIC]
    assert protected
    for e in protected:
        path = concrete(e.path, stores.ids)
        before = state(engine)
        form = None if e.method in SAFE_METHODS else {**SAMPLE_FORM, "csrf": csrf}
        response = client.request(e.method, path, params=params, data=form)
        where = (kind, e.method, path)
        assert not leaks(response), (*where, leaks(response))
        assert state(engine) == before, where
        if e.method == "GET":
            assert response.status_code == 303, (*where, response.status_code)
            target = urlsplit(response.headers["location"])
            assert target.path == "/login", where
            assert urlsplit(parse_qs(target.query)["next"][0]).path == path, where
            assert response.content == b"", where
        else:
            assert response.status_code in (401, 403) or (
                response.status_code == 303 and response.headers["location"].startswith("/login")
            ), (*where, response.status_code)


@pytest.mark.parametrize("who", [None, "boris"])
def test_undeclared_methods_are_refused_and_change_nothing(
    who: str | None, scratch: FastAPI, stores: Stores
) -> None:
    client = browser(scratch, stores, who)
    declared: dict[str, set[str]] = {}
    for e in endpoints(scratch):
        declared.setdefault(e.path, set()).add(e.method)
    before = state(scratch.state.store.engine)
    for path, methods in declared.items():
        for method in sorted(set(ALL_METHODS) - methods):
            response = client.request(
                method, concrete(path, stores.ids), data={"csrf": stores.sessions["anna"][1]}
            )
            assert response.status_code == 405, (who, method, path, response.status_code)
    assert state(scratch.state.store.engine) == before


# -- 2. admin-only routes --


def test_admin_routes_refuse_experts_on_every_method(scratch: FastAPI, stores: Stores) -> None:
    admin_only = [e for e in endpoints(scratch) if e.path.startswith("/admin/")]
    assert admin_only
    engine = scratch.state.store.engine
    for who in ("boris", "vera"):
        client = browser(scratch, stores, who)
        for e in admin_only:
            before = state(engine)
            form = None if e.method in SAFE_METHODS else {"csrf": stores.sessions[who][1]}
            response = client.request(e.method, concrete(e.path, stores.ids), data=form)
            assert response.status_code == 403, (who, e.method, e.path, response.status_code)
            assert "только администраторам" in response.text
            others = [name for name in (*USERS, *PEOPLE) if name != who and name in response.text]
            assert not others and "$argon2" not in response.text, (e.path, others)
            assert state(engine) == before
    admin = browser(scratch, stores, "anna")
    for e in admin_only:
        form = None if e.method in SAFE_METHODS else {"csrf": stores.sessions["anna"][1]}
        response = admin.request(e.method, concrete(e.path, stores.ids), data=form)
        assert response.status_code < 400, (e.method, e.path, response.status_code)


def test_only_admin_routes_are_closed_to_experts(scratch: FastAPI, stores: Stores) -> None:
    """The admin-only routes are the ones under /admin/: what the test above relies on."""
    expert = browser(scratch, stores, "boris")
    for e in endpoints(scratch):
        if e.method == "GET":
            status = expert.get(concrete(e.path, stores.ids)).status_code
            assert (status == 403) == e.path.startswith("/admin/"), (e.path, status)


def test_a_demoted_admin_loses_the_admin_pages_at_once(
    make_app: Callable[..., FastAPI], stores: Stores
) -> None:
    app = make_app()
    with app.state.store.engine.begin() as conn:
        conn.execute(text("UPDATE users SET role = 'expert' WHERE username = 'anna'"))
    anna = browser(app, stores, "anna")
    assert anna.get("/admin/users").status_code == 403
    assert anna.get("/queue").status_code == 200


# -- 3. CSRF, and GET changes nothing --

CSRF_VARIANTS = [
    "missing",
    "empty",
    "wrong",
    "another user's",
    "the same user's other session",
    "the login form's",
    "the session cookie's token",
    "truncated",
    "extended",
    "other case",
    "in the query string",
    "in a header",
]


def _csrf_attempt(variant: str, client: TestClient, stores: Stores) -> tuple[dict[str, str], dict[str, str]]:
    """The form fields and query parameters of a post with a bad CSRF token (headers go on the client)."""
    token, csrf = stores.sessions["boris"]
    values = {
        "empty": "",
        "wrong": secrets.token_urlsafe(32),
        "another user's": stores.sessions["vera"][1],
        "the same user's other session": stores.sessions["boris-2"][1],
        "the session cookie's token": token,
        "truncated": csrf[:-1],
        "extended": csrf + "A",
        "other case": csrf.swapcase(),
    }
    if variant == "the login form's":
        values[variant] = hidden(client.get("/login").text)["csrf"]  # sets the login form's cookie too
    if variant == "in the query string":
        return {}, {"csrf": csrf}
    if variant == "in a header":
        client.headers.update({"X-CSRF-Token": csrf, "X-CSRFToken": csrf})
        return {}, {}
    return ({} if variant == "missing" else {"csrf": values[variant]}), {}


# a valid form for each state-changing route, and what the route then does
VALID_POSTS: dict[str, tuple[dict[str, str], Callable[[Any], bool]]] = {
    "/logout": ({}, lambda r: r.status_code == 303 and r.headers["location"] == "/login"),
    "/cases/{case_id}/decision": (
        SAMPLE_FORM,
        lambda r: r.status_code == 303 and "saved=1" in r.headers["location"],
    ),
}


def test_csrf_is_enforced_on_every_state_changing_route(
    make_app: Callable[..., FastAPI], stores: Stores
) -> None:
    app = make_app()
    engine = app.state.store.engine
    posts = [e for e in endpoints(app) if e.method not in SAFE_METHODS and (e.method, e.path) not in PUBLIC]
    assert posts
    for e in posts:
        assert e.path in VALID_POSTS, f"{e.method} {e.path}: add a valid form to VALID_POSTS"
        path = concrete(e.path, stores.ids)
        form, works = VALID_POSTS[e.path]
        for variant in CSRF_VARIANTS:
            client = browser(app, stores, "boris")
            fields, params = _csrf_attempt(variant, client, stores)
            before = state(engine)
            response = client.post(path, data={**form, **fields}, params=params)
            assert response.status_code == 403, (e.path, variant, response.status_code)
            assert state(engine) == before, (e.path, variant)
            assert browser(app, stores, "boris").get("/queue").status_code == 200  # the session lives on
        # the right token works (in a new session: logging out ends it)
        boris = next(u for u in app.state.accounts.users() if u["username"] == "boris")
        token, csrf = app.state.accounts.start_session(boris["id"], timedelta(hours=1))
        client = browser(app, stores)
        client.cookies.set(SESSION_COOKIE, token)
        response = client.post(path, data={**form, "csrf": csrf})
        assert works(response), (e.path, response.status_code, response.headers.get("location"))


def test_a_session_token_is_no_login_form_token(make_app: Callable[..., FastAPI], stores: Stores) -> None:
    client = browser(make_app(), stores, "boris")
    client.get("/login")  # the login form's cookie is there, but its token is not what is sent
    for token in (stores.sessions["boris"][1], stores.sessions["boris"][0]):
        form = {"username": "rita", "password": PEOPLE["rita"][0], "csrf": token}
        assert client.post("/login", data=form).status_code == 403


def test_get_requests_change_nothing(scratch: FastAPI, stores: Stores) -> None:
    """The app logs no views, so every GET leaves every table as it was, the audit log included."""
    engine = scratch.state.store.engine
    before = state(engine)
    actions = {**SAMPLE_FORM, "csrf": stores.sessions["boris"][1]}  # a decision, sent the wrong way
    for who in (None, "boris", "anna"):
        client = browser(scratch, stores, who)
        for e in endpoints(scratch):
            path = concrete(e.path, stores.ids)
            for method in ("GET", "HEAD"):
                response = client.request(method, path, params=actions)
                assert response.status_code < 500, (who, method, path)
    assert state(engine) == before
    assert browser(scratch, stores, "boris").get("/queue").status_code == 200  # GET /logout ended nothing


# -- 4. XSS --

FORBIDDEN_TAGS = {
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math", "base", "style",
    "template", "noscript", "video", "audio", "source", "details", "img", "xmp", "plaintext", "portal",
}  # fmt: skip
COUNTED_TAGS = (
    "html",
    "head",
    "body",
    "title",
    "meta",
    "link",
    "form",
    "input",
    "button",
    "textarea",
    "select",
)
URL_ATTRIBUTES = {
    "href", "src", "action", "formaction", "data", "poster", "background", "cite", "srcset", "xlink:href",
    "ping", "codebase", "longdesc", "manifest", "icon", "lowsrc", "dynsrc",
}  # fmt: skip


class Markup(HTMLParser):
    """A page's elements with their attributes (values decoded), its text, and anything else it holds."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str]]]] = []
        self.parts: list[str] = []
        self.other: list[str] = []  # comments, declarations but the doctype, processing instructions
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, [(name, value or "") for name, value in attrs]))

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_comment(self, data: str) -> None:
        self.other.append(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        if decl.lower() != "doctype html":
            self.other.append(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.other.append(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        self.other.append(f"<![{data}]>")

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def skeleton(self) -> list[tuple[str, tuple[str, ...]]]:
        return [(tag, tuple(name for name, _ in attrs)) for tag, attrs in self.elements]

    def values(self, attribute: str) -> list[str]:
        return [v for _, attrs in self.elements for name, v in attrs if name == attribute]


def _local(url: str) -> bool:
    url = re.sub(r"[\x00-\x20\x7f]", "", url)  # browsers skip these, even inside "java\tscript:"
    return url.startswith("/") and not url.startswith(("//", "/\\"))


def inertness(response: Any, baselines: list[Markup], exact: bool) -> tuple[Markup, list[str]]:
    """The page, and how it differs from inert markup like the ``baselines``' (the same page over harmless
    words): ``exact`` when the data has the same shape as the first, else only what they all lack counts."""
    problems = []
    if response.headers.get("content-security-policy") != CONTENT_SECURITY_POLICY:
        problems.append("no Content-Security-Policy")
    page = Markup(response.text)
    if "text/html" not in response.headers.get("content-type", ""):
        return page, problems  # the router's JSON 404: no markup, and it echoes nothing (see the callers)
    for tag, attrs in page.elements:
        if tag in FORBIDDEN_TAGS:
            problems.append(f"a <{tag}> element")
        for name, value in attrs:
            if name.startswith("on") or name in ("style", "srcdoc", "http-equiv"):
                problems.append(f"{name}={value!r} on <{tag}>")
            if name in URL_ATTRIBUTES and not _local(value):
                problems.append(f"{name}={value!r} on <{tag}>: not a path of this app")
    mine, theirs = page.skeleton, baselines[0].skeleton
    if exact and mine != theirs:
        at = next((i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b), len(theirs))
        problems.append(f"markup differs at element {at}: {mine[at : at + 3]} != {theirs[at : at + 3]}")
    for extra in sorted(set(mine).difference(*(b.skeleton for b in baselines))):
        problems.append(f"markup the harmless page lacks: {extra}")
    counted = _counted(page)
    if all(counted != _counted(b) for b in baselines):
        problems.append(f"elements {dict(counted)}, not {dict(_counted(baselines[0]))}")
    if page.other:
        problems.append(f"comments or declarations: {page.other[:3]}")
    return page, problems


def _counted(page: Markup) -> Counter[str]:
    return Counter(tag for tag, _ in page.elements if tag in COUNTED_TAGS)


def _pages(client: TestClient, first: str, pattern: str) -> list[str]:
    """``first`` and the pages after it, as many as its "page 1 of N" says."""
    total = number(pattern, client.get(first).text)
    return [first] + [f"{first}&page={n}" for n in range(2, total + 1)]


STORED_PAGES = {  # the pages of each kind, as anna sees them: together they show every payload
    "queue": lambda c: _pages(c, "/queue?status=all", r"Страница 1 из (\d+)\."),
    "default queue": lambda c: _pages(c, "/queue?status=open", r"Страница 1 из (\d+)\."),
    "uncertain": lambda c: ["/uncertain"],
    "dashboard": lambda c: ["/dashboard"],
    "audit": lambda c: _pages(c, "/admin/audit?actor=", r"Страница 1 из (\d+)\."),
    "users": lambda c: ["/admin/users"],
}


@pytest.mark.parametrize("page", [*STORED_PAGES, "cases"])
def test_stored_payloads_render_inert(
    page: str, hostile_app: FastAPI, harmless_app: FastAPI, stores: Stores
) -> None:
    hostile, harmless = browser(hostile_app, stores, "anna"), browser(harmless_app, stores, "anna")
    if page == "cases":  # the harmless pages of one kind of case all have one markup: the first's
        records = [f"xss-{i}" for i in range(len(PAYLOADS))] + [f"xss-err-{i}" for i in range(len(PAYLOADS))]
        paths = [f"/cases/{stores.ids[record]}" for record in records]
        baselines = ["/cases/{}".format(stores.ids[re.sub(r"\d+$", "0", record)]) for record in records]
        shown = [[clean_text(p)] for p in PAYLOADS * 2]  # each case page shows its own payload
    else:
        paths = baselines = STORED_PAGES[page](hostile)
        assert paths == STORED_PAGES[page](harmless)
        shown = [[] for _ in paths[:-1]] + [[clean_text(p) for p in PAYLOADS]]  # anywhere on the pages
    problems, text, harmless_pages = [], "", {}
    for path, baseline, expected in zip(paths, baselines, shown, strict=True):
        response = hostile.get(path)
        assert response.status_code == 200, path
        if baseline not in harmless_pages:
            harmless_pages[baseline] = Markup(harmless.get(baseline).text)
        markup, found = inertness(response, [harmless_pages[baseline]], exact=True)
        problems += [f"{path}: {p}" for p in found]
        text = markup.text if page == "cases" else text + markup.text
        problems += [f"{path}: not shown as text: {p!r}" for p in expected if p not in text]
        problems += [f"{path}: raw in the page: {p!r}" for p in PAYLOADS if "<" in p and p in response.text]
    assert not problems, "\n".join(problems[:30])


def test_evaluated_templates_are_not_shown(hostile_app: FastAPI, stores: Stores) -> None:
    """Jinja never evaluates stored text: "{{7*7}}" is on the page, the title is not "49"."""
    client = browser(hostile_app, stores, "anna")
    for i, payload in enumerate(PAYLOADS):
        if "7*7" in payload:
            html = client.get(f"/cases/{stores.ids[f'xss-{i}']}").text
            assert payload in Markup(html).text
            assert not re.search(r"Дело \d+: 49", html)


def test_payloads_are_refused_as_user_names(scratch: FastAPI) -> None:
    accounts, before = scratch.state.accounts, len(scratch.state.accounts.users())
    for payload in PAYLOADS:
        with pytest.raises(ValueError, match="a username is"):
            accounts.add_user(payload, "a-long-password", created_by="tests")
    assert len(accounts.users()) == before


def test_reflected_payloads_render_inert(hostile_app: FastAPI, harmless_app: FastAPI, stores: Stores) -> None:
    """The query parameters of every GET route that show a value back get half the payloads each, in turn,
    so that each payload is shown back by two of them (all are attribute values); the other parameters
    and the path parameters get a sample. A parameter that starts to show its value gets its half."""
    hostile, harmless = browser(hostile_app, stores, "anna"), browser(harmless_app, stores, "anna")
    problems, reflected = [], set()
    for e in endpoints(hostile_app):
        if e.method != "GET":
            continue
        path = concrete(e.path, stores.ids)
        # (parameter, the request with a value in it); only paths get as far as the login form's "next"
        targets = [(name, partial(_with_query, path, name)) for name in e.query]
        if "{" in e.path:
            targets.append(("", partial(_with_path, e.path)))
        for name, request in targets:
            marker = f"zq{name}marker"
            shown_back = marker in _fetch(hostile, *request(marker)).text
            if shown_back:
                reflected.add((e.path, name))
            baselines = [
                Markup(_fetch(harmless, *request(w)).text) for w in (HARMLESS[0], "ничего такого нет")
            ]
            for payload in PAYLOADS[len(reflected) % 2 :: 2] if shown_back else PAYLOADS[::12]:
                url, params = request(payload)
                where = f"{url[:60]} {params}"
                response = _fetch(hostile, url, params)
                if response.status_code >= 500 or response.status_code == 422:
                    problems.append(f"{where}: {response.status_code}")
                    continue
                markup, found = inertness(response, baselines, exact=False)
                problems += [f"{where}: {p}" for p in found]
                if any("<" in p and p in response.text for p in PAYLOADS):
                    problems.append(f"{where}: a payload raw in the response")
                typed = params.get(name, "")
                back = [markup.text, *(v for _, attrs in markup.elements for _, v in attrs)]
                # "/queue" in the form: the login form's next was no local path and was replaced
                if (
                    shown_back
                    and not any(typed in b for b in back)
                    and "/queue" not in markup.values("value")
                ):
                    problems.append(f"{where}: not shown back as typed")
    assert not problems, "\n".join(problems[:30])
    assert reflected >= {
        ("/queue", "q"),
        ("/queue", "min_score"),
        ("/admin/audit", "actor"),
        ("/login", "next"),
    }


def _fetch(client: TestClient, url: str, params: dict[str, str]) -> Any:
    return client.get(url, params=params)


def _with_query(path: str, name: str, value: str) -> tuple[str, dict[str, str]]:
    return path, {name: "/" + value if name == "next" else value}


def _with_path(template: str, value: str) -> tuple[str, dict[str, str]]:
    return re.sub(r"\{\w+\}", quote(value, safe=""), template), {}


# -- 5. SQL injection --

# What a nonsense value of each query parameter must give: the route's default view, nothing, part of the
# default view, what a plain substring search finds, a page of the default view or 400 (a number), the
# default redirect target (next).
QUERY_EXPECTATIONS = {
    ("/queue", "status"): "default",
    ("/queue", "language"): "none",
    ("/queue", "category"): "none",
    ("/queue", "min_score"): "part",
    ("/queue", "q"): "search",
    ("/queue", "page"): "number",
    ("/admin/audit", "actor"): "none",
    ("/admin/audit", "action"): "none",
    ("/admin/audit", "page"): "number",
    ("/login", "next"): "next",
    ("/next", "after"): "number",
    ("/cases/{case_id}", "saved"): "default",
}


def _view(e: Endpoint, response: Any) -> tuple[int, Any]:
    """The status and what the page shows of the data: (total, case ids), a target, a title."""
    html = response.text
    if response.status_code != 200:
        return response.status_code, response.headers.get("location")
    if e.path == "/queue":
        return 200, (number(r"Найдено дел: (\d+)\.", html), listed(html))
    if e.path == "/admin/audit":
        return 200, (number(r"Записей: (\d+)\.", html), [])
    if e.path == "/login":
        return 200, hidden(html)["next"]
    return 200, re.findall(r"<h1>(.*?)</h1>", html)


def _searched(store: CaseStore, value: str) -> int:
    """How many open cases a plain, case-insensitive substring search for ``value`` finds."""
    needle = clean_text(value).strip()[:200].lower()
    fields = ("url", "title", "excerpt")
    return sum(
        any(needle in (case[f] or "").lower() for f in fields)
        for case in store.cases(limit=10_000)
        if case["status"] in ("new", "pending")
    )


def _as_expected(
    kind: str, value: str, view: tuple[int, Any], default: tuple[int, Any], open_ids: set[int], searched: Any
) -> bool:
    """Whether ``view`` is what a nonsense ``value`` of a parameter of this ``kind`` must give."""
    status, shown = view
    if kind == "number":  # a page of the default view, a case to open, or 400 for what is no integer
        if status == 400 or (status == 303 and urlsplit(shown).path.startswith("/cases/")):
            return True
        return status == 200 and set(shown[1]) <= open_ids and shown[0] == default[1][0]
    if kind == "none":  # NUL alone is stripped, as from stored text: then nothing is filtered
        return (status == 200 and shown[0] == 0) or (not clean_text(value) and view == default)
    if kind == "part":
        return status == 200 and set(shown[1]) <= open_ids and shown[0] <= default[1][0]
    if kind == "search":
        return status == 200 and shown[0] == searched()
    if kind == "next":
        return status == 200 and shown in ("/queue", value)
    return view == default


def test_sql_injection_in_query_parameters_is_harmless(scratch: FastAPI, stores: Stores) -> None:
    client = browser(scratch, stores, "anna")
    store = scratch.state.store
    before = state(store.engine, catalogue=True)
    open_ids = {c["id"] for c in store.cases(limit=10_000) if c["status"] in ("new", "pending")}
    problems = []
    for e in endpoints(scratch):
        if e.method != "GET" or not e.query:
            continue
        path = concrete(e.path, stores.ids)
        default = _view(e, client.get(path))
        for name in e.query:
            expected = QUERY_EXPECTATIONS.get((e.path, name))
            assert expected, f"{e.path}?{name}=: add what nonsense there gives to QUERY_EXPECTATIONS"
            for value in SQL_INJECTION:
                response = client.get(path, params={name: value})
                view = _view(e, response)
                where = f"{path}?{name}={value[:40]!r}"
                if "$argon2" in response.text or any(t in response.text for t, _ in stores.sessions.values()):
                    problems.append(f"{where}: a secret on the page")
                if not _as_expected(
                    expected, value, view, default, open_ids, partial(_searched, store, value)
                ):
                    problems.append(f"{where}: {view[0]}, {str(view[1])[:80]}")
    assert not problems, "\n".join(problems[:30])
    assert state(store.engine, catalogue=True) == before


def test_sql_injection_in_path_parameters_is_harmless(scratch: FastAPI, stores: Stores) -> None:
    client = browser(scratch, stores, "boris")
    csrf = stores.sessions["boris"][1]
    before = state(scratch.state.store.engine, catalogue=True)
    for e in endpoints(scratch):
        if "{" not in e.path:
            continue
        for value in SQL_INJECTION:
            path = re.sub(r"\{\w+\}", quote(value, safe=""), e.path)
            form = None if e.method in SAFE_METHODS else {**SAMPLE_FORM, "csrf": csrf}
            response = client.request(e.method, path, data=form)
            assert response.status_code in (400, 404), (e.method, path[:80], response.status_code)
            assert "Страница" not in response.text and "$argon2" not in response.text, path[:80]
    assert state(scratch.state.store.engine, catalogue=True) == before


def test_sql_injection_in_form_fields_is_stored_as_text(
    make_app: Callable[..., FastAPI], stores: Stores
) -> None:
    """Each field of the decision form: refused (400, 403, 409) or stored literally, never more."""
    app = make_app()
    store, engine = app.state.store, app.state.store.engine
    client = browser(app, stores, "boris")
    [decide] = [e for e in endpoints(app) if e.path == "/cases/{case_id}/decision"]
    cases = ["sale-1", "sale-2", "sale-3", "recruit-1", "near-1", "near-2", "news-1", "filler-1"]
    assert len(decide.form) <= len(cases)
    before, comments = state(engine, catalogue=True), []
    for name, record in zip(decide.form, cases, strict=False):  # a case of its own for each field
        version = 0
        for value in SQL_INJECTION:
            form = {
                **SAMPLE_FORM,
                "decision": "unsure",
                "version": str(version),
                "csrf": stores.sessions["boris"][1],
            }
            response = client.post(f"/cases/{stores.ids[record]}/decision", data={**form, name: value})
            assert response.status_code in (303, 400, 403, 409), (name, value[:40], response.status_code)
            version += response.status_code == 303
            if name == "comment":
                comments.append(clean_text(value)[:4000])
    after = state(engine, catalogue=True)
    saved = after["decisions"] - before["decisions"]
    assert saved == 3 * len(SQL_INJECTION)  # the comment and shown_* fields take any text
    assert after["tables"] == before["tables"]
    grown = {t: after[t] - before[t] for t in before["tables"] if after[t] != before[t]}
    assert grown == {"decisions": saved, "audit_log": saved}
    assert after["user rows"] == before["user rows"] and after["session rows"] == before["session rows"]
    stored = [d["comment"] for d in store.case(stores.ids[cases[decide.form.index("comment")]])["decisions"]]
    assert stored == comments


def test_sql_injection_at_login_finds_no_one(
    make_app: Callable[..., FastAPI], stores: Stores, cheap_logins: list[str]
) -> None:
    app = make_app(login_max_failures_per_ip=10_000)
    engine = app.state.store.engine
    before = state(engine, catalogue=True)
    client = browser(app, stores)
    for value in SQL_INJECTION:
        for username, password in ((value, "any-password-1"), ("rita", value)):
            response = login(client, username, password)
            assert response.status_code in (401, 429), (username[:40], password[:40], response.status_code)
            assert SESSION_COOKIE not in client.cookies
    after = state(engine, catalogue=True)
    grown = {t: after[t] - before[t] for t in before["tables"] if after[t] != before[t]}
    assert set(grown) == {"audit_log"}  # failed and blocked logins, nothing else
    assert after["session rows"] == before["session rows"] and after["user rows"] == before["user rows"]


# -- 6. login rate limits, beyond test_review_app.py --


def test_account_limit_survives_a_restart_and_a_blocked_login_checks_no_password(
    make_app: Callable[..., FastAPI], stores: Stores, cheap_logins: list[str]
) -> None:
    first = make_app(login_max_failures=3)
    for _ in range(3):
        assert login(browser(first, stores), "rita", "wrong-password-x").status_code == 401
    assert len(cheap_logins) == 3
    restarted = make_app(login_max_failures=3)  # another process on the same database
    client = browser(restarted, stores, address="10.0.0.7")
    assert login(client, "rita", PEOPLE["rita"][0]).status_code == 429
    assert SESSION_COOKIE not in client.cookies
    assert len(cheap_logins) == 3  # refused before argon2: guessing while blocked learns nothing


def test_account_limit_counts_every_spelling_and_every_address(
    make_app: Callable[..., FastAPI], stores: Stores, cheap_logins: list[str]
) -> None:
    app = make_app(login_max_failures=3)
    for n, name in enumerate(("RITA", " rita ", "Rita\t")):
        assert login(browser(app, stores, address=f"10.0.1.{n}"), name, "wrong-password-x").status_code == 401
    checked = len(cheap_logins)
    assert login(browser(app, stores, address="10.0.1.9"), "rita", PEOPLE["rita"][0]).status_code == 429
    assert len(cheap_logins) == checked


def test_address_limit_ignores_forwarded_headers_and_checks_no_password(
    make_app: Callable[..., FastAPI], stores: Stores, cheap_logins: list[str]
) -> None:
    app = make_app(login_max_failures_per_ip=2)
    for name in ("nobody-1", "nobody-2"):
        assert login(browser(app, stores), name, "wrong-password-x").status_code == 401
    checked = len(cheap_logins)
    spoofed = {"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9", "Forwarded": "for=203.0.113.9"}
    client = browser(app, stores)
    assert login(client, "rita", PEOPLE["rita"][0], **spoofed).status_code == 429
    assert SESSION_COOKIE not in client.cookies
    assert len(cheap_logins) == checked
    assert login(browser(app, stores, address="10.0.2.1"), "rita", PEOPLE["rita"][0]).status_code == 303


def test_failures_older_than_the_window_no_longer_count(
    make_app: Callable[..., FastAPI], stores: Stores, cheap_logins: list[str]
) -> None:
    app = make_app(login_max_failures=2, login_window_minutes=15)
    statuses = [login(browser(app, stores), "rita", "wrong-password-x").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    assert login(browser(app, stores, address="10.0.3.1"), "rita", PEOPLE["rita"][0]).status_code == 429
    a = audit_table.c
    with app.state.store.engine.begin() as conn:  # the failures, 16 minutes earlier
        for entry_id, at in conn.execute(select(a.id, a.at).where(a.actor == "rita")).all():
            conn.execute(update(audit_table).where(a.id == entry_id).values(at=at - timedelta(minutes=16)))
    assert login(browser(app, stores, address="10.0.3.2"), "rita", PEOPLE["rita"][0]).status_code == 303


# -- regressions: bugs these tests found --


def test_malformed_parameters_ask_for_a_login_first_and_echo_nothing(
    scratch: FastAPI, stores: Stores
) -> None:
    """FastAPI's 422 came before the login check, named the parameters and echoed the input."""
    anonymous = browser(scratch, stores)
    for path in ("/cases/abc", "/queue?page=x", "/admin/audit?page=<b>x</b>", "/next?after=1e309"):
        response = anonymous.get(path)
        assert response.status_code == 303, path
        assert urlsplit(response.headers["location"]).path == "/login"
    assert anonymous.post("/cases/abc/decision", data={"version": "x"}).status_code == 401
    expert = browser(scratch, stores, "boris")
    for path in ("/cases/abc", "/queue?page=<b>x</b>", "/next?after=1e309"):
        response = expert.get(path)
        assert response.status_code == 400, path
        assert (
            "<b>x" not in response.text
            and "&lt;b&gt;" not in response.text
            and "int_parsing" not in response.text
        )
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_case_ids_and_versions_beyond_64_bits_are_unknown_not_errors(
    scratch: FastAPI, stores: Stores
) -> None:
    """They were 500s: SQLite and PostgreSQL integers stop at 2**63 - 1."""
    client = browser(scratch, stores, "boris")
    csrf = stores.sessions["boris"][1]
    before = state(scratch.state.store.engine)
    for case_id in (2**63, -(2**63) - 1, 10**30):
        assert client.get(f"/cases/{case_id}").status_code == 404
        form = {**SAMPLE_FORM, "csrf": csrf}
        assert client.post(f"/cases/{case_id}/decision", data=form).status_code == 404
    for version in (2**63, -(2**63) - 1):
        form = {**SAMPLE_FORM, "version": str(version), "csrf": csrf}
        assert client.post(f"/cases/{stores.ids['sale-1']}/decision", data=form).status_code == 409
    assert state(scratch.state.store.engine) == before


def test_nul_characters_in_filters_and_names_are_no_server_error(
    make_app: Callable[..., FastAPI], stores: Stores, cheap_logins: list[str]
) -> None:
    """They were 500s on PostgreSQL, which refuses NUL in text; stored text never has one (clean_text)."""
    app = make_app()
    client = browser(app, stores, "anna")
    filters = {"/queue": ("q", "language", "category"), "/admin/audit": ("actor", "action")}
    for path, name in [(path, name) for path, names in filters.items() for name in names]:
        assert client.get(path, params={name: "sn\x00ow"}).status_code == 200, name
    assert number(r"Найдено дел: (\d+)\.", client.get("/queue", params={"q": "snow-sh\x00op"}).text) == 1
    assert login(browser(app, stores), "ri\x00ta", "wrong-password-x").status_code == 401
    assert app.state.store.audit_log(1, action="login_failed")[0]["actor"] == "rita"
