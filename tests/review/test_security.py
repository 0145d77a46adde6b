"""Security tests of the review app, on SQLite and PostgreSQL (issue 8, part 5).

The other modules here check pages one by one; this one derives what it checks from the app's own route
table, so that a route added later is covered (or the test says what it needs to know about it):

- access control: every route refuses anonymous, forged, expired, disabled and misplaced sessions, except
  an explicit allowlist; routes under /admin refuse experts, and no other route does;
- CSRF on every state-changing route, and no GET changes anything;
- a corpus of XSS payloads (``resources/xss_payloads.txt``) in every field a crawled page, an expert or an
  admin can fill and in every query parameter: each page has the markup of the same page over harmless
  words, and shows the payload as text;
- a corpus of SQL-injection strings in every parameter: no server error, no extra rows, no change;
- malformed numbers, case ids beyond 64 bits and NUL characters in every parameter that takes them;
- the login rate limit beyond ``test_auth.py``: it survives a restart, counts every spelling of a
  name and every address, ignores forwarded-for headers, and a blocked login checks no password.

The databases, apps and clients are ``conftest.py``'s; two more copies of its template hold the XSS corpus
and the same data with harmless words. Passwords of the users added here are hashed with cheap argon2
parameters, so that logins take milliseconds.
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
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text, update
from starlette.routing import Mount

from classifier.common.config import ReviewSettings
from classifier.queue import CaseStore
from classifier.queue import accounts as accounts_module
from classifier.queue.accounts import Accounts
from classifier.queue.keys import case_key
from classifier.queue.schema import audit_table
from classifier.queue.values import clean_text
from classifier.review.app import create_app
from classifier.review.security import CONTENT_SECURITY_POLICY, SESSION_COOKIE
from classifier.review.visible import visible
from databases import copy_database
from review.cases import (
    CHEAP_HASHER,
    HOSTILE_QUERY,
    PEOPLE,
    SCORED_AT,
    TEST_HOSTS,
    THRESHOLD,
    USERS,
    Template,
    review_rows,
)
from review.helpers import Markup, assert_inert, hidden_inputs, listed_case_ids, login, number, state

RESOURCES = Path(__file__).parents[1] / "resources"
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
PUBLIC = {
    ("GET", "/login"),
    ("HEAD", "/login"),
    ("POST", "/login"),
    ("GET", "/healthz"),
    ("HEAD", "/healthz"),
}
PUBLIC_MOUNTS = {"/static"}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# a record id whose case fills each path parameter: sale-1's case, and its shop (named after its earliest case)
PATH_SAMPLES = {"case_id": "sale-1", "shop_id": "sale-1"}
SAMPLE_FORM = {"decision": "confirmed", "category": "sale", "comment": "проверено", "version": "0"}
SAMPLE_QUERY = {"status": "all", "q": "shop"}  # a page's own query, which the login form must return to
# What no refused response may contain: cases' data, user names, password hashes.
SECRETS = ("Страница sale-1", "snow-shop.example", "snow_shop_example", "anna", "boris", "vera", "$argon2")


# -- the databases with words in every field --


@dataclass(frozen=True)
class WordStores:
    hostile: str  # the template and the XSS corpus in every field
    harmless: str  # the template and the same data with HARMLESS words
    ids: dict[str, int]  # case ids by record id, the same in both (those of review.cases as in the template)


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
            "cluster_id": f"xss-{i}",  # the two cases of a word are one shop, named after the scored one
            "cluster_size": 1,
            "run_id": "run-xss-1",
            "bank_keys": [f"c:telegram:{plain[:150]}"],  # the shop's identifier, on its page
            "signature": None,  # no text in common with sale-1, whose row this is
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
    app = create_app(url, ReviewSettings(allowed_hosts=TEST_HOSTS))
    try:
        with TestClient(app, follow_redirects=False) as client:
            client.cookies.set(SESSION_COOKIE, boris[0])
            for i, word in enumerate(words):  # what experts type, through the form
                form = {**SAMPLE_FORM, "comment": word, "csrf": boris[1]}
                assert client.post(f"/cases/{ids[f'xss-err-{i}']}/decision", data=form).status_code == 303
    finally:
        app.state.store.close()
    return ids


@pytest.fixture(scope="module")
def word_stores(template: Template, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WordStores]:
    folder = tmp_path_factory.mktemp("review-words")
    with ExitStack() as stack:
        urls, ids = {}, []
        for name, words in (("hostile", PAYLOADS), ("harmless", HARMLESS)):
            (folder / name).mkdir()
            urls[name] = stack.enter_context(copy_database(template.url, folder / name))
            ids.append(_add_words(urls[name], words, template.sessions["boris"]))
        assert ids[0] == ids[1]
        yield WordStores(urls["hostile"], urls["harmless"], ids[0])


@pytest.fixture(scope="module")
def hostile_app(word_stores: WordStores) -> Iterator[FastAPI]:
    app = create_app(
        word_stores.hostile, ReviewSettings(per_page=10, allowed_hosts=TEST_HOSTS)
    )  # small pages: quicker to parse
    yield app
    app.state.store.close()


@pytest.fixture(scope="module")
def harmless_app(word_stores: WordStores) -> Iterator[FastAPI]:
    app = create_app(word_stores.harmless, ReviewSettings(per_page=10, allowed_hosts=TEST_HOSTS))
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


# -- the route table --


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as declared: /cases/{case_id}
    query: tuple[str, ...]
    form: tuple[str, ...]
    types: dict[str, type]  # of every path, query and form parameter

    def takes(self, kind: type) -> list[str]:
        return [name for name, annotation in self.types.items() if annotation is kind]


def _parameters(dependant: Any, kind: str) -> list[Any]:
    """A route's parameters of one kind (``query_params``, ...) and those of its dependencies: the CSRF
    token of a form is a parameter of the dependency that checks it."""
    found = list(getattr(dependant, kind))
    for dependency in dependant.dependencies:
        found += [p for p in _parameters(dependency, kind) if p.name not in {f.name for f in found}]
    return found


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every (method, route) of the app, those of its routers included; mounted apps are in ``mounts``."""
    found = []
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            continue
        assert isinstance(route.original_route, APIRoute), (
            f"{route.original_route!r} is a new kind of route: teach this file about it"
        )
        params = {
            kind: _parameters(route.dependant, kind)
            for kind in ("path_params", "query_params", "body_params")
        }
        types = {p.name: p.field_info.annotation for fields in params.values() for p in fields}
        query = tuple(p.name for p in params["query_params"])
        form = tuple(p.name for p in params["body_params"])
        found += [Endpoint(method, route.path, query, form, types) for method in sorted(route.methods)]
    return found


def mounts(app: FastAPI) -> set[str]:
    return {r.path for r in iter_route_contexts(app.routes) if isinstance(r.original_route, Mount)}


def concrete(path: str, ids: dict[str, int]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PATH_SAMPLES:
            pytest.fail(f"{path}: add a sample value for {{{name}}} to PATH_SAMPLES")
        return str(ids[PATH_SAMPLES[name]])

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


def leaks(response: Any) -> list[str]:
    return [s for s in SECRETS if s in response.text]


# -- 1. access control from the route table --


def test_public_routes_are_the_allowlisted_ones(
    shared_app: FastAPI, view_as: Callable[..., TestClient]
) -> None:
    table = {(e.method, e.path) for e in endpoints(shared_app)}
    assert table >= PUBLIC, "the allowlist names a route that is gone: remove it"
    assert mounts(shared_app) == PUBLIC_MOUNTS, (
        "a new mount: is it public? add it to PUBLIC_MOUNTS or protect it"
    )
    anonymous = view_as()
    for method, path in PUBLIC - {("POST", "/login")}:  # the login post: test_auth.py
        assert anonymous.request(method, path).status_code == 200, path
    assert anonymous.get("/static/app.css").status_code == 200


def _present_refused_session(
    client: TestClient, sessions: dict[str, tuple[str, str]], kind: str
) -> tuple[dict[str, str], str]:
    """Makes an anonymous ``client`` present a session of ``kind`` that is no valid one; returns the
    query parameters it adds and the CSRF token it sends."""
    token, csrf = sessions["boris"]  # a real CSRF token, without its session
    params: dict[str, str] = {}
    if kind == "anonymous":
        params = SAMPLE_QUERY
    elif kind == "forged":
        client.cookies.set(SESSION_COOKIE, secrets.token_urlsafe(32))
    elif kind in ("expired", "disabled"):
        token, csrf = sessions["expired" if kind == "expired" else "dora"]  # both admins
        client.cookies.set(SESSION_COOKIE, token)
    elif kind == "token in the query":
        params = {SESSION_COOKIE: token}
    elif kind == "token in headers":
        client.headers.update({"Authorization": f"Bearer {token}", "X-Session-Token": token})
    elif kind == "login form only":
        csrf = hidden_inputs(client.get("/login").text)["csrf"]  # and its cookie
    return params, csrf


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
    kind: str, shared_app: FastAPI, view_as: Callable[..., TestClient], template: Template
) -> None:
    """A page is a redirect to the login form, which returns to the page as asked for (with its query,
    if any); a form post is a 401. Either way nothing is shown and nothing changes."""
    client = view_as()
    params, csrf = _present_refused_session(client, template.sessions, kind)
    engine = shared_app.state.store.engine
    protected = [e for e in endpoints(shared_app) if (e.method, e.path) not in PUBLIC]
    assert protected
    for e in protected:
        path = concrete(e.path, template.ids)
        before = state(engine)
        form = None if e.method in SAFE_METHODS else {**SAMPLE_FORM, "csrf": csrf}
        response = client.request(e.method, path, params=params, data=form)
        where = (kind, e.method, path)
        assert not leaks(response), (*where, leaks(response))
        assert state(engine) == before, where
        if e.method in ("GET", "HEAD"):  # HEAD is answered as GET, without the body
            assert response.status_code == 303, (*where, response.status_code)
            target = urlsplit(response.headers["location"])
            assert target.path == "/login", where
            asked = path + (f"?{response.request.url.query.decode()}" if params else "")
            assert parse_qs(target.query)["next"] == [asked], where
            assert response.content == b"", where
        else:
            assert response.status_code == 401, (*where, response.status_code)


@pytest.mark.parametrize("who", [None, "boris"])
def test_undeclared_methods_are_refused_and_change_nothing(
    who: str | None, shared_app: FastAPI, view_as: Callable[..., TestClient], template: Template
) -> None:
    client = view_as(who)
    declared: dict[str, set[str]] = {}
    for e in endpoints(shared_app):
        declared.setdefault(e.path, set()).add(e.method)
    before = state(shared_app.state.store.engine)
    for path, methods in declared.items():
        for method in sorted(set(ALL_METHODS) - methods):
            response = client.request(
                method, concrete(path, template.ids), data={"csrf": template.sessions["anna"][1]}
            )
            assert response.status_code == 405, (who, method, path, response.status_code)
    assert state(shared_app.state.store.engine) == before


# -- 2. admin-only routes --


@pytest.mark.parametrize("who", ["boris", "vera", "anna"])
def test_admin_routes_and_only_they_refuse_experts(
    who: str, shared_app: FastAPI, view_as: Callable[..., TestClient], template: Template
) -> None:
    """Every method of every route under /admin/ refuses experts, showing no one else's data, and serves
    admins; no other page refuses an expert (which is what makes /admin/ the admin-only routes)."""
    engine = shared_app.state.store.engine
    client, expert = view_as(who), who != "anna"
    admin_only = [e for e in endpoints(shared_app) if e.path.startswith("/admin/")]
    assert admin_only
    for e in endpoints(shared_app):
        path = concrete(e.path, template.ids)
        if e not in admin_only:
            if e.method == "GET":
                status = client.get(path).status_code
                assert status != 403, (who, e.path, status)
            continue
        before = state(engine)
        form = None if e.method in SAFE_METHODS else {"csrf": template.sessions[who][1]}
        response = client.request(e.method, path, data=form)
        if not expert:
            assert response.status_code < 400, (e.method, e.path, response.status_code)
            continue
        assert response.status_code == 403, (who, e.method, e.path, response.status_code)
        assert e.method == "HEAD" or "только администраторам" in response.text
        others = [name for name in (*USERS, *PEOPLE) if name != who and name in response.text]
        assert not others and "$argon2" not in response.text, (e.path, others)
        assert state(engine) == before


def test_a_demoted_admin_loses_the_admin_pages_at_once(
    app: FastAPI, open_as: Callable[..., TestClient]
) -> None:
    with app.state.store.engine.begin() as conn:
        conn.execute(text("UPDATE users SET role = 'expert' WHERE username = 'anna'"))
    anna = open_as("anna")
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


def _csrf_attempt(
    variant: str, client: TestClient, sessions: dict[str, tuple[str, str]]
) -> tuple[dict[str, str], dict[str, str]]:
    """The form fields and query parameters of a post with a bad CSRF token (headers go on the client)."""
    token, csrf = sessions["boris"]
    values = {
        "empty": "",
        "wrong": secrets.token_urlsafe(32),
        "another user's": sessions["vera"][1],
        "the same user's other session": sessions["boris-2"][1],
        "the session cookie's token": token,
        "truncated": csrf[:-1],
        "extended": csrf + "A",
        "other case": csrf.swapcase(),
    }
    if variant == "the login form's":
        values[variant] = hidden_inputs(client.get("/login").text)["csrf"]  # sets the login form's cookie too
    if variant == "in the query string":
        return {}, {"csrf": csrf}
    if variant == "in a header":
        client.headers.update({"X-CSRF-Token": csrf, "X-CSRFToken": csrf})
        return {}, {}
    return ({} if variant == "missing" else {"csrf": values[variant]}), {}


def _mirror_form(store: CaseStore, ids: dict[str, int]) -> dict[str, str]:
    """Confirm sale-1 as a mirror of its shop, which vera confirmed through sale-2."""
    if store.case(ids["sale-2"])["status"] != "confirmed":  # type: ignore[index]
        store.record_decision(ids["sale-2"], "confirmed", "vera")
    case = store.case(ids["sale-1"])
    assert case is not None
    return {"shop": str(case["shop_id"]), "version": str(case["version"])}


def _shop_form(store: CaseStore, ids: dict[str, int]) -> dict[str, Any]:
    """Reject sale-3, the shop's page as its page shows it, from the shop's page."""
    case = store.case(ids["sale-3"])
    assert case is not None
    return {"decision": "rejected", "confirm": "yes", "cases": f"{case['id']}:{case['version']}"}


# a valid form for each state-changing route (or what makes one from the store and the case ids, and may
# set the store up for it), and what the route then does
VALID_POSTS: dict[str, tuple[Any, Callable[[Any], bool]]] = {
    "/logout": ({}, lambda r: r.status_code == 303 and r.headers["location"] == "/login"),
    "/cases/{case_id}/decision": (
        SAMPLE_FORM,
        lambda r: r.status_code == 303 and "saved=1" in r.headers["location"],
    ),
    "/cases/{case_id}/mirror": (
        _mirror_form,
        lambda r: r.status_code == 303 and "saved=1" in r.headers["location"],
    ),
    "/shops/{shop_id}/decision": (
        _shop_form,
        lambda r: r.status_code == 200 and "решено ресурсов — 1, пропущено — 0" in r.text,
    ),
    "/claims/release": (
        lambda store, ids: {"case": str(ids["sale-1"])} if store.claim(ids["sale-1"], "boris", 15) else {},
        lambda r: r.status_code == 303 and r.headers["location"].endswith("?released=1"),
    ),
}


def test_csrf_is_enforced_on_every_state_changing_route(
    app: FastAPI, open_as: Callable[..., TestClient], template: Template
) -> None:
    engine = app.state.store.engine
    posts = [e for e in endpoints(app) if e.method not in SAFE_METHODS and (e.method, e.path) not in PUBLIC]
    assert posts
    for e in posts:
        assert e.path in VALID_POSTS, f"{e.method} {e.path}: add a valid form to VALID_POSTS"
        path = concrete(e.path, template.ids)
        form, works = VALID_POSTS[e.path]
        form = form(app.state.store, template.ids) if callable(form) else form
        for variant in CSRF_VARIANTS:
            client = open_as("boris", on=app)
            fields, params = _csrf_attempt(variant, client, template.sessions)
            before = state(engine)
            response = client.post(path, data={**form, **fields}, params=params)
            assert response.status_code == 403, (e.path, variant, response.status_code)
            assert state(engine) == before, (e.path, variant)
            assert open_as("boris", on=app).get("/queue").status_code == 200  # the session lives on
        # the right token works (in a new session: logging out ends it)
        boris = next(u for u in app.state.accounts.users() if u["username"] == "boris")
        token, csrf = app.state.accounts.start_session(boris["id"], timedelta(hours=1))
        client = open_as(on=app)
        client.cookies.set(SESSION_COOKIE, token)
        response = client.post(path, data={**form, "csrf": csrf})
        assert works(response), (e.path, response.status_code, response.headers.get("location"))


def test_a_session_token_is_no_login_form_token(
    open_as: Callable[..., TestClient], template: Template
) -> None:
    client = open_as("boris")
    client.get("/login")  # the login form's cookie is there, but its token is not what is sent
    for token in (template.sessions["boris"][1], template.sessions["boris"][0]):
        form = {"username": "rita", "password": PEOPLE["rita"][0], "csrf": token}
        assert client.post("/login", data=form).status_code == 403


def test_get_requests_change_nothing(
    shared_app: FastAPI, view_as: Callable[..., TestClient], template: Template
) -> None:
    """The app logs no views, so every GET leaves every table as it was, the audit log included; the one
    exception is GET /queue/next, which claims the case it opens for whoever asked (``_but_claims``)."""
    engine = shared_app.state.store.engine
    full = state(engine)
    before = _but_claims(full)
    actions = {**SAMPLE_FORM, "csrf": template.sessions["boris"][1]}  # a decision, sent the wrong way
    for who in (None, "boris", "anna"):
        client = view_as(who)
        for e in endpoints(shared_app):
            path = concrete(e.path, template.ids)
            for method in ("GET", "HEAD"):
                response = client.request(method, path, params=actions)
                assert response.status_code < 500, (who, method, path)
    assert _but_claims(state(engine)) == before
    _only_exports(shared_app.state.store, full)
    assert view_as("boris").get("/queue").status_code == 200  # GET /logout ended nothing


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
    # the open cases, flagged and cleared: the default queue lists those the model flagged
    "default queue": lambda c: _pages(c, "/queue?status=open&flagged=all", r"Страница 1 из (\d+)\."),
    "uncertain": lambda c: ["/uncertain"],
    "dashboard": lambda c: ["/dashboard"],
    "audit": lambda c: _pages(c, "/admin/audit?actor=", r"Страница 1 из (\d+)\."),
    "users": lambda c: ["/admin/users"],
}


@pytest.mark.parametrize("page", [*STORED_PAGES, "cases", "shops"])
def test_stored_payloads_render_inert(
    page: str,
    hostile_app: FastAPI,
    harmless_app: FastAPI,
    word_stores: WordStores,
    open_as: Callable[..., TestClient],
) -> None:
    hostile, harmless = open_as("anna", on=hostile_app), open_as("anna", on=harmless_app)
    if page == "cases":  # the harmless pages of one kind of case all have one markup: the first's
        records = [f"xss-{i}" for i in range(len(PAYLOADS))] + [f"xss-err-{i}" for i in range(len(PAYLOADS))]
        paths = [f"/cases/{word_stores.ids[record]}" for record in records]
        baselines = ["/cases/{}".format(word_stores.ids[re.sub(r"\d+$", "0", record)]) for record in records]
        shown = [[clean_text(p)] for p in PAYLOADS * 2]  # each case page shows its own payload
    elif page == "shops":  # each word's shop: its two cases, its identifier, the reason that links them
        shops = [
            hostile_app.state.store.case(word_stores.ids[f"xss-{i}"])["shop_id"] for i in range(len(PAYLOADS))
        ]
        assert shops == [word_stores.ids[f"xss-{i}"] for i in range(len(PAYLOADS))]
        paths = [f"/shops/{shop}" for shop in shops]
        baselines = [paths[0]] * len(paths)
        shown = [[clean_text(p)] for p in PAYLOADS]
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
        # as it is, or with its invisible characters shown ([U+202E]: ``visible``)
        problems += [
            f"{path}: not shown as text: {p!r}" for p in expected if p not in text and visible(p) not in text
        ]
        problems += [f"{path}: raw in the page: {p!r}" for p in PAYLOADS if "<" in p and p in response.text]
    assert not problems, "\n".join(problems[:30])


INVISIBLE_SAMPLES = ["\u202e", "\u200b", "\u2066", "\u00ad", "\ufeff", "\x1b"]


@pytest.mark.parametrize("page", ["audit", "users", "shops"])
def test_direction_marks_and_invisible_characters_are_shown_visibly(
    page: str, hostile_app: FastAPI, word_stores: WordStores, open_as: Callable[..., TestClient]
) -> None:
    """A URL ``…/\u202egpj.exe`` must not read as ``…/exe.jpg``: the pages show U+202E as ``[U+202E]``,
    in crawled URLs and titles, typed names, the audit log's details."""
    client = open_as("anna", on=hostile_app)
    if page == "shops":
        paths = [f"/shops/{word_stores.ids[f'xss-{i}']}" for i, p in enumerate(PAYLOADS) if "\u202e" in p]
    else:
        paths = STORED_PAGES[page](client)
    html = "".join(client.get(path).text for path in paths)
    assert "\u202e" not in html
    assert "[U+202E]" in html


@pytest.mark.parametrize("char", INVISIBLE_SAMPLES)
def test_the_visible_filter_names_every_invisible_character(char: str) -> None:
    shown = visible(f"bo{char}ris")
    assert char not in shown and f"[U+{ord(char):04X}]" in shown
    assert visible("Закладки\n\tпо городу 👨\u200d👩\u200d👧") == "Закладки\n\tпо городу 👨\u200d👩\u200d👧"
    assert visible(None) == ""


def test_evaluated_templates_are_not_shown(
    hostile_app: FastAPI, word_stores: WordStores, open_as: Callable[..., TestClient]
) -> None:
    """Jinja never evaluates stored text: "{{7*7}}" is on the page, the title is not "49"."""
    client = open_as("anna", on=hostile_app)
    for i, payload in enumerate(PAYLOADS):
        if "7*7" in payload:
            html = client.get(f"/cases/{word_stores.ids[f'xss-{i}']}").text
            assert payload in Markup(html).text
            assert not re.search(r"Дело \d+: 49", html)


def test_payloads_are_refused_as_user_names(shared_app: FastAPI) -> None:
    accounts, before = shared_app.state.accounts, len(shared_app.state.accounts.users())
    for payload in PAYLOADS:
        with pytest.raises(ValueError, match="a username is"):
            accounts.add_user(payload, "a-long-password", created_by="tests")
    assert len(accounts.users()) == before


def test_reflected_payloads_render_inert(
    hostile_app: FastAPI, harmless_app: FastAPI, word_stores: WordStores, open_as: Callable[..., TestClient]
) -> None:
    """The query parameters of every GET route that show a value back get half the payloads each, in turn,
    so that each payload is shown back by two of them (all are attribute values); the other parameters
    and the path parameters get a sample. A parameter that starts to show its value gets its half. Each
    of them also shows HOSTILE_QUERY back as escaped text, and nothing of it as markup."""
    hostile, harmless = open_as("anna", on=hostile_app), open_as("anna", on=harmless_app)
    problems, reflected = [], set()
    for e in endpoints(hostile_app):
        if e.method != "GET":
            continue
        path = concrete(e.path, word_stores.ids)
        # (parameter, the request with a value in it); only paths get as far as the login form's "next"
        targets = [(name, partial(_with_query, path, name)) for name in e.query]
        if "{" in e.path:
            targets.append(("", partial(_with_path, e.path)))
        for name, request in targets:
            marker = f"zq{name}marker"
            shown_back = marker in _fetch(hostile, *request(marker)).text
            if shown_back:
                reflected.add((e.path, name))
                url, params = request(HOSTILE_QUERY)
                response = _fetch(hostile, url, params)
                assert response.status_code == 200, (url, params)
                assert "window.__pwned=&#34;query&#34;" in response.text, (url, params)
                assert_inert(response.text)
            baselines = [
                # HARMLESS[0]'s case scores under the threshold, HARMLESS[-1]'s over it: the default
                # queue (what the model flagged) lists it, as it lists the payloads' flagged cases
                Markup(_fetch(harmless, *request(w)).text)
                for w in (HARMLESS[0], HARMLESS[-1], "ничего такого нет")
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
                # a CSV attachment (nosniff) is no page: its cells are the stored text as it is
                html = "text/html" in response.headers.get("content-type", "")
                if html and any("<" in p and p in response.text for p in PAYLOADS):
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
    ("/queue", "end"): "default",  # says the filtered queue has no case left for "next"
    ("/queue", "decided"): "number",  # says the decision on that case was recorded
    ("/queue", "flagged"): "default",
    ("/queue", "seen_from"): "default",  # a date the queue cannot read: said on the page, and left out
    ("/queue", "seen_to"): "default",
    ("/queue", "expert"): "none",
    ("/queue", "sort"): "default",
    ("/queue", "order"): "default",
    ("/second-look", "page"): "number",
    ("/admin/claims", "released"): "default",
    ("/cases/{case_id}", "released"): "default",
    ("/admin/audit", "actor"): "none",
    ("/admin/audit", "action"): "none",
    ("/admin/audit", "page"): "number",
    ("/admin/audit.csv", "actor"): "none",
    ("/admin/audit.csv", "action"): "none",
    ("/login", "next"): "next",
    ("/next", "after"): "number",
    ("/next", "decided"): "number",
    ("/cases/{case_id}", "decided"): "number",
    ("/cases/{case_id}", "saved"): "default",
    ("/shops/{shop_id}", "page"): "number",
}
# the queue's CSV export reads the queue's filters as the page does (``_view`` reads its rows)
QUERY_EXPECTATIONS |= {
    ("/admin/queue.csv", name): kind
    for (path, name), kind in list(QUERY_EXPECTATIONS.items())
    if path == "/queue" and name not in ("page", "end")
}


def _view(e: Endpoint, response: Any) -> tuple[int, Any]:
    """The status and what the page shows of the data: (total, case ids), a target, a title."""
    html = response.text
    if response.status_code != 200:
        return response.status_code, response.headers.get("location")
    if e.path in ("/queue", "/second-look"):
        return 200, (number(r"Найдено дел: (\d+)\.", html), listed_case_ids(html))
    if e.path == "/admin/queue.csv":  # every case of the queue, a row each, its id first
        ids = [int(row.split(";")[0]) for row in html.lstrip("\ufeff").splitlines()[1:]]
        return 200, (len(ids), ids)
    if e.path == "/admin/audit":
        return 200, (number(r"Записей: (\d+)\.", html), [])
    if e.path == "/admin/audit.csv":  # the entries, a row each
        rows = html.lstrip("\ufeff").splitlines()[1:]
        return 200, (len(rows), [])
    if e.path == "/shops/{shop_id}":
        return 200, (number(r"Ресурсов в магазине: (\d+)\.", html), listed_case_ids(html))
    if e.path == "/login":
        return 200, hidden_inputs(html)["next"]
    return 200, re.findall(r"<h1>(.*?)</h1>", html)


def _searched(store: CaseStore, value: str) -> int:
    """How many cases of the default queue (open, and flagged by the model or never scored) a plain,
    case-insensitive substring search for ``value`` finds."""
    needle = clean_text(value).strip()[:200].lower()
    fields = ("url", "title", "excerpt")
    return sum(
        any(needle in (case[f] or "").lower() for f in fields)
        for case in store.cases(limit=10_000)
        if case["status"] in ("new", "pending") and (case["score"] is None or case["score"] >= THRESHOLD)
    )


def _as_expected(
    kind: str, value: str, view: tuple[int, Any], default: tuple[int, Any], open_ids: set[int], searched: Any
) -> bool:
    """Whether ``view`` is what a nonsense ``value`` of a parameter of this ``kind`` must give."""
    status, shown = view
    if kind == "number":  # a page of the default view, a case to open, or 400 for what is no integer
        if status == 400 or (status == 303 and urlsplit(shown).path.startswith("/cases/")):
            return True
        if status == 200 and not isinstance(shown, tuple):  # a page that is no list: as by default
            return view == default
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


def test_sql_injection_in_query_parameters_is_harmless(
    shared_app: FastAPI, view_as: Callable[..., TestClient], template: Template
) -> None:
    client = view_as("anna")
    store = shared_app.state.store
    before = state(store.engine, catalogue=True)
    open_ids = {c["id"] for c in store.cases(limit=10_000) if c["status"] in ("new", "pending")}
    problems = []
    for e in endpoints(shared_app):
        if e.method != "GET" or not e.query:
            continue
        path = concrete(e.path, template.ids)
        default = _view(e, client.get(path))
        for name in e.query:
            expected = QUERY_EXPECTATIONS.get((e.path, name))
            assert expected, f"{e.path}?{name}=: add what nonsense there gives to QUERY_EXPECTATIONS"
            for value in SQL_INJECTION:
                response = client.get(path, params={name: value})
                view = _view(e, response)
                where = f"{path}?{name}={value[:40]!r}"
                if "$argon2" in response.text or any(
                    t in response.text for t, _ in template.sessions.values()
                ):
                    problems.append(f"{where}: a secret on the page")
                if not _as_expected(
                    expected, value, view, default, open_ids, partial(_searched, store, value)
                ):
                    problems.append(f"{where}: {view[0]}, {str(view[1])[:80]}")
    assert not problems, "\n".join(problems[:30])
    assert _but_claims(state(store.engine, catalogue=True)) == _but_claims(before)
    _only_exports(store, before)


def _but_claims(found: dict) -> dict:
    """The state without the claims: "next" (GET /queue/next) claims the case it opens, for the expert
    who asked, for a while: a soft, expiring hold (tests/queue/test_case_claims.py), never a decision;
    nor the audit log, where an admin's CSV export (GET /admin/*.csv) records itself (``_only_exports``)."""
    return {k: v for k, v in found.items() if k not in ("claims", "audit_log", "last audit entry")}


def _only_exports(store: CaseStore, before: dict) -> None:
    """What the audit log gained since ``before`` (a ``state``) is admins' exports, and nothing else."""
    last = before["last audit entry"][0][0] or 0
    new = [(e["actor"], e["action"]) for e in store.audit_log(10_000) if e["id"] > last]
    assert set(new) <= {("anna", "export"), ("anna", "export_audit")}, new


def test_sql_injection_in_path_parameters_is_harmless(
    shared_app: FastAPI, view_as: Callable[..., TestClient], template: Template
) -> None:
    client = view_as("boris")
    csrf = template.sessions["boris"][1]
    before = state(shared_app.state.store.engine, catalogue=True)
    for e in endpoints(shared_app):
        if "{" not in e.path:
            continue
        for value in SQL_INJECTION:
            path = re.sub(r"\{\w+\}", quote(value, safe=""), e.path)
            form = None if e.method in SAFE_METHODS else {**SAMPLE_FORM, "csrf": csrf}
            response = client.request(e.method, path, data=form)
            assert response.status_code in (400, 404), (e.method, path[:80], response.status_code)
            assert "Страница" not in response.text and "$argon2" not in response.text, path[:80]
    assert state(shared_app.state.store.engine, catalogue=True) == before


def test_sql_injection_in_form_fields_is_stored_as_text(
    app: FastAPI, open_as: Callable[..., TestClient], template: Template
) -> None:
    """Each field of the decision form: refused (400, 403, 409) or stored literally, never more."""
    store, engine = app.state.store, app.state.store.engine
    client = open_as("boris", on=app)
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
                "csrf": template.sessions["boris"][1],
            }
            response = client.post(f"/cases/{template.ids[record]}/decision", data={**form, name: value})
            assert response.status_code in (303, 400, 403, 409), (name, value[:40], response.status_code)
            version += response.status_code == 303
            if name == "comment":
                comments.append(clean_text(value)[:4000])
    after = state(engine, catalogue=True)
    saved = after["decisions"] - before["decisions"]
    # the comment, shown_* and back (the queue's place, see review/navigation.py) fields take any text, and
    # so does "then": anything but "next" shows the case again
    takes_text = {"comment", "shown_score", "shown_model_version", "back", "then"} & set(decide.form)
    assert saved == len(takes_text) * len(SQL_INJECTION)
    assert after["tables"] == before["tables"]
    grown = {t: after[t] - before[t] for t in before["tables"] if after[t] != before[t]}
    assert grown == {"decisions": saved, "audit_log": saved}
    assert after["user rows"] == before["user rows"] and after["session rows"] == before["session rows"]
    stored = [
        d["comment"] for d in store.case(template.ids[cases[decide.form.index("comment")]])["decisions"]
    ]
    assert stored == comments


def test_sql_injection_in_the_shop_forms_is_refused_or_stored_as_text(
    app: FastAPI, open_as: Callable[..., TestClient], template: Template
) -> None:
    """The shop's form: nonsense in its ticked pages, its decision or its box is refused (400) and changes
    nothing; in its comment it is stored literally, once per page decided. The mirror form's shop: 400."""
    store, engine = app.state.store, app.state.store.engine
    client, ids = open_as("boris", on=app), template.ids
    shop, csrf = ids["sale-1"], template.sessions["boris"][1]
    form = {"decision": "rejected", "confirm": "yes", "csrf": csrf}
    before = state(engine, catalogue=True)
    for value in SQL_INJECTION:
        for name in ("cases", "decision", "confirm"):
            fields = {**form, "cases": [f"{ids['sale-2']}:0"], name: value}
            response = client.post(f"/shops/{shop}/decision", data=fields)
            assert response.status_code == 400, (name, value[:40], response.status_code)
        mirror = {"csrf": csrf, "version": "0", "shop": value}
        assert client.post(f"/cases/{ids['sale-2']}/mirror", data=mirror).status_code == 400, value[:40]
    assert state(engine, catalogue=True) == before
    for value, record in zip(SQL_INJECTION[:3], ("sale-1", "sale-2", "sale-3"), strict=True):
        fields = {**form, "cases": [f"{ids[record]}:0"], "comment": value}
        assert "решено ресурсов — 1" in client.post(f"/shops/{shop}/decision", data=fields).text
        (decision,) = store.case(ids[record])["decisions"]
        assert decision["comment"] == clean_text(value)[:4000]
    after = state(engine, catalogue=True)
    grown = {t: after[t] - before[t] for t in before["tables"] if after[t] != before[t]}
    assert grown == {"decisions": 3, "audit_log": 3}


def test_sql_injection_at_login_finds_no_one(
    make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient], cheap_logins: list[str]
) -> None:
    app = make_app(login_max_failures_per_ip=10_000)
    engine = app.state.store.engine
    before = state(engine, catalogue=True)
    client = open_as(on=app)
    for value in SQL_INJECTION:
        for username, password in ((value, "any-password-1"), ("rita", value)):
            response = login(client, username, password)
            assert response.status_code in (401, 429), (username[:40], password[:40], response.status_code)
            assert SESSION_COOKIE not in client.cookies
    after = state(engine, catalogue=True)
    grown = {t: after[t] - before[t] for t in before["tables"] if after[t] != before[t]}
    assert set(grown) == {"audit_log"}  # failed and blocked logins, nothing else
    assert after["session rows"] == before["session rows"] and after["user rows"] == before["user rows"]


# -- 6. login rate limits, beyond test_auth.py --


def test_account_limit_survives_a_restart_and_a_blocked_login_checks_no_password(
    make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient], cheap_logins: list[str]
) -> None:
    first = make_app(login_max_failures=3)
    for _ in range(3):
        assert login(open_as(on=first), "rita", "wrong-password-x").status_code == 401
    assert len(cheap_logins) == 3
    restarted = make_app(login_max_failures=3)  # another process on the same database
    client = open_as(on=restarted)  # from the same address
    assert login(client, "rita", PEOPLE["rita"][0]).status_code == 429
    assert SESSION_COOKIE not in client.cookies
    assert len(cheap_logins) == 3  # refused before argon2: guessing while blocked learns nothing


def test_account_limit_counts_every_spelling_from_an_address_and_no_other_address(
    make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient], cheap_logins: list[str]
) -> None:
    app = make_app(login_max_failures=3)
    for name in ("RITA", " rita ", "Rita\t"):
        assert login(open_as(on=app, address="10.0.1.1"), name, "wrong-password-x").status_code == 401
    checked = len(cheap_logins)
    assert login(open_as(on=app, address="10.0.1.1"), "rita", PEOPLE["rita"][0]).status_code == 429
    assert len(cheap_logins) == checked
    assert login(open_as(on=app, address="10.0.1.9"), "rita", PEOPLE["rita"][0]).status_code == 303


def test_address_limit_ignores_forwarded_headers_and_checks_no_password(
    make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient], cheap_logins: list[str]
) -> None:
    app = make_app(login_max_failures_per_ip=2)
    for name in ("nobody-1", "nobody-2"):
        assert login(open_as(on=app), name, "wrong-password-x").status_code == 401
    checked = len(cheap_logins)
    spoofed = {"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9", "Forwarded": "for=203.0.113.9"}
    client = open_as(on=app)
    assert login(client, "rita", PEOPLE["rita"][0], **spoofed).status_code == 429
    assert SESSION_COOKIE not in client.cookies
    assert len(cheap_logins) == checked
    assert login(open_as(on=app, address="10.0.2.1"), "rita", PEOPLE["rita"][0]).status_code == 303


def test_failures_older_than_the_window_no_longer_count(
    make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient], cheap_logins: list[str]
) -> None:
    app = make_app(login_max_failures=2, login_window_minutes=15)
    statuses = [login(open_as(on=app), "rita", "wrong-password-x").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    assert login(open_as(on=app), "rita", PEOPLE["rita"][0]).status_code == 429
    a = audit_table.c
    with app.state.store.engine.begin() as conn:  # the failures, 16 minutes earlier
        failed = select(a.id, a.at).where(a.action == "login_failed")
        for entry_id, at in conn.execute(failed).all():
            conn.execute(update(audit_table).where(a.id == entry_id).values(at=at - timedelta(minutes=16)))
    assert login(open_as(on=app), "rita", PEOPLE["rita"][0]).status_code == 303


# -- regressions: bugs these tests found --


MALFORMED_NUMBERS = ("x", "abc", "1e309", "<b>x</b>")


def _with_value(
    e: Endpoint, name: str, value: str, ids: dict[str, int]
) -> tuple[str, dict[str, str], dict[str, str]]:
    """The path, query and form fields of a request to ``e`` with ``value`` in its parameter ``name``."""
    if f"{{{name}}}" in e.path:  # a path segment holds no slash
        return concrete(e.path.replace(f"{{{name}}}", quote(value.replace("/", ""), safe="")), ids), {}, {}
    if name in e.query:
        return concrete(e.path, ids), {name: value}, {}
    return concrete(e.path, ids), {}, {name: value}


def test_malformed_parameters_ask_for_a_login_first_and_echo_nothing(
    shared_app: FastAPI, view_as: Callable[..., TestClient], template: Template
) -> None:
    """FastAPI's 422 came before the login check, named the parameters and echoed the input. Now every
    parameter that takes a number, given something else: without a session the login redirect (a 401 for
    a form), for a user the route serves a 400 page that repeats nothing, and for one it refuses (an expert
    on an admin page, a form without the user's token) the 403 of the refusal: the route's dependencies
    come before its parameters."""
    engine = shared_app.state.store.engine
    before, checked = state(engine), set()
    anonymous, users = view_as(), {name: view_as(name) for name in ("anna", "boris")}
    for e in endpoints(shared_app):
        user = "anna" if e.path.startswith("/admin/") else "boris"  # someone the route serves
        for name, value in [(name, value) for name in e.takes(int) for value in MALFORMED_NUMBERS]:
            checked.add((e.method, e.path, name))
            path, params, fields = _with_value(e, name, value, template.ids)
            where = (e.method, path, params, fields)
            form = None if e.method in SAFE_METHODS else {**SAMPLE_FORM, **fields}
            response = anonymous.request(e.method, path, params=params, data=form)
            if e.method in ("GET", "HEAD"):
                assert response.status_code == 303, where
                assert urlsplit(response.headers["location"]).path == "/login", where
            else:
                assert response.status_code == 401, where
            if form is not None:
                form["csrf"] = template.sessions[user][1]
            response = users[user].request(e.method, path, params=params, data=form)
            assert response.status_code == 400, (*where, response.status_code)
            assert (
                "<b>x" not in response.text
                and "&lt;b&gt;" not in response.text
                and "int_parsing" not in response.text
            ), where
            assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, where
            if form is not None or user == "anna":
                refused_form = None if form is None else {**form, "csrf": "wrong"}
                response = users["boris"].request(e.method, path, params=params, data=refused_form)
                assert response.status_code == 403, (*where, response.status_code)
                assert "<b>x" not in response.text and "&lt;b&gt;" not in response.text, where
    assert checked >= {
        ("GET", "/cases/{case_id}", "case_id"),
        ("GET", "/queue", "page"),
        ("GET", "/admin/audit", "page"),
        ("GET", "/next", "after"),
        ("POST", "/cases/{case_id}/decision", "version"),
        ("POST", "/cases/{case_id}/mirror", "shop"),
        ("GET", "/shops/{shop_id}", "shop_id"),
        ("GET", "/shops/{shop_id}", "page"),
        ("POST", "/shops/{shop_id}/decision", "shop_id"),
    }
    assert state(engine) == before


def test_case_ids_and_versions_beyond_64_bits_are_unknown_not_errors(
    shared_app: FastAPI, view_as: Callable[..., TestClient], template: Template
) -> None:
    """They were 500s: SQLite and PostgreSQL integers stop at 2**63 - 1. Every route of a case or a shop,
    then the version of the decision forms, the shop of the mirror form, the pages of the shop's form."""
    client = view_as("boris")
    csrf = template.sessions["boris"][1]
    before = state(shared_app.state.store.engine)
    routes = [e for e in endpoints(shared_app) if "{case_id}" in e.path or "{shop_id}" in e.path]
    assert {(e.method, e.path) for e in routes} >= {
        ("GET", "/cases/{case_id}"),
        ("POST", "/cases/{case_id}/decision"),
        ("POST", "/cases/{case_id}/mirror"),
        ("GET", "/shops/{shop_id}"),
        ("POST", "/shops/{shop_id}/decision"),
    }
    for e in routes:
        form = None if e.method in SAFE_METHODS else {**SAMPLE_FORM, "csrf": csrf}
        for number_ in (2**63, -(2**63) - 1, 10**30):
            path = re.sub(r"\{\w+\}", str(number_), e.path)
            response = client.request(e.method, path, data=form)
            assert response.status_code == 404, (e.method, e.path, number_, response.status_code)
    sale = template.ids["sale-1"]
    for version in (2**63, -(2**63) - 1):
        form = {**SAMPLE_FORM, "version": str(version), "csrf": csrf}
        assert client.post(f"/cases/{sale}/decision", data=form).status_code == 409
        assert client.post(f"/cases/{sale}/mirror", data={**form, "shop": str(sale)}).status_code == 409
    for shop in (2**63, -(2**63) - 1):  # sale-1's shop is not confirmed, and no case is in these
        form = {"version": "0", "csrf": csrf, "shop": str(shop)}
        assert client.post(f"/cases/{sale}/mirror", data=form).status_code == 400
    for cases in ([f"{2**63}:0"], [f"{sale}:{2**63}"], [f"{10**30}:0"]):
        form = {"decision": "rejected", "confirm": "yes", "cases": cases, "csrf": csrf}
        response = client.post(f"/shops/{sale}/decision", data=form)
        assert response.status_code in (200, 400), (cases, response.status_code)
    assert state(shared_app.state.store.engine) == before


def test_nul_characters_in_text_parameters_and_names_are_no_server_error(
    app: FastAPI, open_as: Callable[..., TestClient], template: Template, cheap_logins: list[str]
) -> None:
    """They were 500s on PostgreSQL, which refuses NUL in text; stored text never has one (clean_text).
    Every text parameter of every page, asked by an admin (whom every page serves); then a search and a
    login name."""
    client, checked = open_as("anna"), set()
    for e in endpoints(app):
        for name in [name for name in e.takes(str) if name in e.query and e.method == "GET"]:
            response = client.get(concrete(e.path, template.ids), params={name: "sn\x00ow"})
            assert response.status_code == 200, (e.path, name, response.status_code)
            checked.add((e.path, name))
    assert checked >= {("/queue", "q"), ("/queue", "language"), ("/queue", "category")}
    assert checked >= {("/admin/audit", "actor"), ("/admin/audit", "action")}
    assert number(r"Найдено дел: (\d+)\.", client.get("/queue", params={"q": "snow-sh\x00op"}).text) == 1
    assert login(open_as(), "ri\x00ta", "wrong-password-x").status_code == 401
    [failed] = app.state.store.audit_log(1, action="login_failed")
    assert (failed["actor"], failed["detail"]["username"]) == ("?", "rita")


# -- the Host header --


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example", "localhost.evil.example", ""])
def test_an_unknown_host_name_is_refused(host: str, shared_app: FastAPI, template: Template) -> None:
    """A DNS-rebinding page reaches the loopback-only app under its own name: the app answers no name
    but those in ``allowed_hosts``, whatever the page asks and whoever's session it carries."""
    with TestClient(shared_app, follow_redirects=False) as client:
        client.cookies.set(SESSION_COOKIE, template.sessions["anna"][0])
        for path in ("/login", "/queue", "/admin/users", f"/cases/{template.ids['sale-1']}", "/queue/"):
            response = client.get(path, headers={"Host": host})
            assert response.status_code == 400, (path, response.status_code)
            assert not leaks(response) and "location" not in response.headers
            assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("base", ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"])
def test_the_default_host_names_are_the_loopback_ones(base: str, db_url: str) -> None:
    app = create_app(db_url)  # the settings' defaults
    try:
        with TestClient(app, base_url=base, follow_redirects=False) as client:
            assert client.get("/login").status_code == 200
            assert client.get("/login", headers={"Host": "testserver"}).status_code == 400
    finally:
        app.state.store.close()
        app.state.logins.close()


@pytest.mark.parametrize("host", ["testserver", "evil.example"])
def test_the_trailing_slash_redirect_is_a_path_never_the_host(
    host: str, make_app: Callable[..., FastAPI]
) -> None:
    """``GET /queue/`` with ``Host: evil.example`` was a redirect to ``http://evil.example/queue``."""
    app = make_app(allowed_hosts=("*",))  # even where any name is allowed
    with TestClient(app, follow_redirects=False) as client:
        response = client.get("/queue/?status=all", headers={"Host": host})
        assert response.status_code == 307
        assert response.headers["location"] == "/queue?status=all"
        assert client.get("/no-such-page/", headers={"Host": host}).status_code == 404
