"""Logging in and out (``routes/auth.py``, ``logins.py``): the login form and its CSRF cookie, where a login
returns to, the session cookie, logout, and the limits on failed logins per account and per address."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from classifier.queue import CaseStore
from classifier.queue import accounts as accounts_module
from classifier.queue.schema import sessions_table
from classifier.review.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE, login_token
from review.cases import USERS, Template
from review.helpers import audits, hidden_inputs, login
from review.server import free_port

HANG = 60.0  # seconds: bounds for a hang, never for speed


def test_login_page_then_login_returns_to_the_requested_page(
    open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    client = open_as()
    path = f"/cases/{ids['sale-1']}"
    form = hidden_inputs(client.get(client.get(path).headers["location"]).text)
    assert form["next"] == path
    response = login(client, "boris", next=form["next"])
    assert response.status_code == 303
    assert response.headers["location"] == path
    page = client.get(path)
    assert page.status_code == 200
    assert "boris (эксперт)" in page.text


def test_login_with_wrong_password_is_401_and_audited(
    open_as: Callable[..., TestClient], store: CaseStore
) -> None:
    client = open_as()
    response = login(client, "boris", "not-the-password")
    assert response.status_code == 401
    assert "Неверное имя пользователя или пароль" in response.text
    assert SESSION_COOKIE not in client.cookies
    failed = audits(store, "login_failed")
    assert [(entry["actor"], entry["detail"]["username"]) for entry in failed] == [("?", "boris")]
    assert audits(store, "login") == []


@pytest.mark.parametrize("csrf", [None, "", "wrong-token"])
def test_login_without_the_forms_csrf_token_is_403(
    csrf: str | None, open_as: Callable[..., TestClient], store: CaseStore
) -> None:
    client = open_as()
    client.get("/login")  # sets the double-submit cookie
    assert client.cookies.get(LOGIN_CSRF_COOKIE)
    form = {"username": "boris", "password": USERS["boris"][0], "next": "/queue"}
    if csrf is not None:
        form["csrf"] = csrf
    response = client.post("/login", data=form)
    assert response.status_code == 403
    assert SESSION_COOKIE not in client.cookies
    assert audits(store, "login") == [] and audits(store, "login_failed") == []


def test_login_csrf_token_without_its_cookie_is_403(open_as: Callable[..., TestClient]) -> None:
    token = hidden_inputs(open_as().get("/login").text)["csrf"]  # another browser's token
    form = {"username": "boris", "password": USERS["boris"][0], "csrf": token, "next": "/queue"}
    assert open_as().post("/login", data=form).status_code == 403


@pytest.mark.parametrize("token", ["chosen-by-a-page", "another-server", "expired", "1.2.3.4"])
def test_a_login_token_this_server_did_not_sign_is_403_even_with_its_cookie(
    token: str, app: FastAPI, open_as: Callable[..., TestClient], store: CaseStore
) -> None:
    """A page on another port of this host can set the form's cookie (cookies ignore ports): the token
    must also be one the server signed, lately."""
    if token == "another-server":
        token = login_token(b"another server's secret")
    elif token == "expired":
        real = login_token(app.state.login_secret)
        issued = int(real.split(".")[0])
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(time, "time", lambda: issued - 2 * 3600)
            token = login_token(app.state.login_secret)
    client = open_as()
    client.cookies.set(LOGIN_CSRF_COOKIE, token)
    form = {"username": "boris", "password": USERS["boris"][0], "csrf": token, "next": "/queue"}
    response = client.post("/login", data=form)
    assert response.status_code == 403
    assert SESSION_COOKIE not in client.cookies and audits(store, "login") == []
    assert hidden_inputs(response.text)["csrf"] != token  # a fresh form, which can be sent


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-site"},  # another port of this host: the same site, another origin
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://testserver:9999"},
        {"Origin": "http://evil.example"},
        {"Origin": "null", "Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_login_form_posted_from_another_origin_is_403(
    headers: dict[str, str], open_as: Callable[..., TestClient], store: CaseStore
) -> None:
    client = open_as()
    response = login(client, "boris", **headers)
    assert response.status_code == 403
    assert SESSION_COOKIE not in client.cookies and audits(store, "login") == []
    same_origin = {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}
    assert login(open_as(), "boris", **same_origin).status_code == 303
    # what Chromium sends for the app's own form under Referrer-Policy: no-referrer
    assert login(open_as(), "vera", **{"Sec-Fetch-Site": "same-origin", "Origin": "null"}).status_code == 303


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example", "/\\evil.example", "evil"])
def test_login_never_redirects_off_site(target: str, open_as: Callable[..., TestClient]) -> None:
    client = open_as()
    assert hidden_inputs(client.get("/login", params={"next": target}).text)["next"] == "/queue"
    response = login(client, "vera", next=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/queue"


def test_login_sets_an_httponly_samesite_lax_session_cookie(open_as: Callable[..., TestClient]) -> None:
    client = open_as()
    response = login(client, "vera")
    assert response.status_code == 303
    cookies = [c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")]
    assert len(cookies) == 1
    flags = {part.strip().lower() for part in cookies[0].split(";")}
    assert "httponly" in flags
    assert "samesite=lax" in flags  # a case link from a chat arrives logged in; forms still need CSRF
    assert "path=/" in flags
    assert client.get("/queue").status_code == 200


@pytest.mark.parametrize("target", ["/\t/evil.example", "/%2F/evil.example"])
def test_login_redirect_target_stays_a_path_of_this_app(
    target: str, open_as: Callable[..., TestClient]
) -> None:
    location = login(open_as(), "vera", next=target).headers["location"]
    # browsers drop raw tabs and newlines from URLs: what remains must not name another host
    cleaned = re.sub(r"[\t\r\n]", "", location)
    assert cleaned.startswith("/") and not cleaned.startswith("//") and "\\" not in cleaned
    assert urlsplit(cleaned).netloc == ""


def test_session_cookie_is_secure_over_https(app: FastAPI) -> None:
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    response = login(client, "vera")
    [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")]
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_a_refused_login_form_can_be_sent_again(open_as: Callable[..., TestClient]) -> None:
    client = open_as()
    client.cookies.set(LOGIN_CSRF_COOKIE, "expired-token")  # the form's cookie outlived its page
    refused = client.post("/login", data={"username": "boris", "password": USERS["boris"][0], "csrf": "old"})
    assert refused.status_code == 403
    form = hidden_inputs(refused.text)
    retry = client.post("/login", data={**form, "username": "boris", "password": USERS["boris"][0]})
    assert retry.status_code == 303 and client.get("/queue").status_code == 200


def test_logout_ends_the_session_for_the_old_cookie(
    open_as: Callable[..., TestClient], store: CaseStore
) -> None:
    client = open_as()
    login(client, "vera")
    token = client.cookies[SESSION_COOKIE]
    csrf = hidden_inputs(client.get("/queue").text)["csrf"]
    response = client.post("/logout", data={"csrf": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert [entry["actor"] for entry in audits(store, "logout")] == ["vera"]
    replay = open_as()
    replay.cookies.set(SESSION_COOKIE, token)
    assert replay.get("/queue").status_code == 303
    assert replay.post("/logout", data={"csrf": csrf}).status_code == 401


# -- login rate limits --


def test_account_is_locked_from_an_address_after_max_failures_even_for_the_right_password(
    make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient], store: CaseStore
) -> None:
    app = make_app(login_max_failures=3, login_delay_seconds=90)
    client = open_as(on=app)
    for _ in range(3):
        assert login(client, "boris", "wrong-password-x").status_code == 401
    blocked = login(client, "boris")
    assert blocked.status_code == 429
    assert "Попробуйте снова через 2 мин." in blocked.text  # how long to wait, rounded up
    assert SESSION_COOKIE not in client.cookies
    entries = audits(store, "login_blocked")
    assert [(entry["actor"], entry["detail"]["username"]) for entry in entries] == [("?", "boris")]
    assert login(open_as(on=app), "vera").status_code == 303  # the limit is per account


def test_an_attackers_failures_do_not_lock_the_owner_out_from_another_address(
    make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient]
) -> None:
    app = make_app(login_max_failures=3)
    attacker = open_as(on=app, address="203.0.113.66")
    statuses = [login(attacker, "boris", "guess-number-x").status_code for _ in range(6)]
    assert statuses == [401, 401, 401, 429, 429, 429]
    assert login(attacker, "boris").status_code == 429  # even the right password, from there
    owner = open_as(on=app, address="10.1.2.3")
    assert login(owner, "boris").status_code == 303
    assert owner.get("/queue").status_code == 200


def test_a_successful_login_clears_the_earlier_failures_of_its_address(
    make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient]
) -> None:
    app = make_app(login_max_failures=3)
    client = open_as(on=app)
    for _ in range(2):
        assert login(client, "boris", "wrong-password-x").status_code == 401
    assert login(client, "boris").status_code == 303
    for _ in range(2):  # two more: with the two before, one too many, had the login not cleared them
        assert login(open_as(on=app), "boris", "wrong-password-x").status_code == 401
    assert login(open_as(on=app), "boris").status_code == 303


def test_a_session_ends_after_the_idle_timeout(
    make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient], store: CaseStore
) -> None:
    app = make_app(session_idle_minutes=30, session_hours=12)
    client = open_as(on=app)
    assert login(client, "boris").status_code == 303
    s = sessions_table.c
    newest = select(s.token_hash, s.created_at, s.expires_at).order_by(s.created_at.desc()).limit(1)
    with store.engine.connect() as conn:
        token_hash, created, expires = conn.execute(newest).one()
    assert expires - created == timedelta(minutes=30)
    assert client.get("/queue").status_code == 200
    with store.engine.begin() as conn:  # 31 minutes without a request: no clock need move
        earlier = timedelta(minutes=31)
        conn.execute(
            sessions_table.update()
            .where(s.token_hash == token_hash)
            .values(created_at=created - earlier, expires_at=expires - earlier)
        )
    assert client.get("/queue").status_code == 303


def test_address_is_blocked_after_failures_across_accounts(
    make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient]
) -> None:
    client = open_as(on=make_app(login_max_failures_per_ip=3))
    for name in ("nobody-1", "nobody-2", "boris"):
        assert login(client, name, "wrong-password-x").status_code == 401
    response = login(client, "anna")
    assert response.status_code == 429
    assert SESSION_COOKIE not in client.cookies


def test_retries_on_a_blocked_account_do_not_hold_back_its_address(make_app: Callable[..., FastAPI]) -> None:
    """The locked-out user retrying behind an office's one address must not lock out the colleagues
    there: a refused retry checks no password, and is no failure of the address."""
    client = TestClient(make_app(login_max_failures=2, login_max_failures_per_ip=4), follow_redirects=False)
    statuses = [login(client, "boris", "wrong-password-x").status_code for _ in range(6)]
    assert statuses == [401, 401, 429, 429, 429, 429]
    assert login(client, "vera").status_code == 303


# -- a burst of logins against the other pages --


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` behind a real uvicorn server in a thread of this process; its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + HANG
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(HANG)


def test_a_burst_of_failed_logins_does_not_delay_other_pages(
    make_app: Callable[..., FastAPI], template: Template, monkeypatch: pytest.MonkeyPatch
) -> None:
    """80 logins at once, more than the threads that serve pages (40), whose password checks are held
    until the test lets them go: a logged-in expert's queue is served meanwhile. Before the checks had
    threads of their own, the logins held every page thread and the queue waited for them all."""
    app = make_app(login_max_failures_per_ip=1000, login_max_failures=1000)
    held = threading.Event()

    def held_check(password_hash: str, password: str) -> bool:
        held.wait(HANG)
        return False  # a wrong guess, without argon2's 0.3 s: the test is about threads, not cost

    monkeypatch.setattr(accounts_module, "_verify", held_check)
    burst = 80
    with serving(app) as base, ThreadPoolExecutor(burst) as pool:
        with httpx.Client(base_url=base, trust_env=False) as browser:
            token = hidden_inputs(browser.get("/login").text)["csrf"]

        def guess(n: int) -> int:
            form = {"username": "boris", "password": f"guess-{n}-x", "csrf": token, "next": "/queue"}
            cookies = {LOGIN_CSRF_COOKIE: token}
            with httpx.Client(base_url=base, cookies=cookies, trust_env=False, timeout=HANG * 2) as attacker:
                return attacker.post("/login", data=form).status_code

        guesses = [pool.submit(guess, n) for n in range(burst)]
        try:
            deadline = time.monotonic() + HANG
            while app.state.logins.waiting < burst:  # every guess has arrived and waits for its check
                assert time.monotonic() < deadline, f"{app.state.logins.waiting} of {burst} guesses arrived"
                time.sleep(0.02)
            cookies = {SESSION_COOKIE: template.sessions["vera"][0]}
            with httpx.Client(base_url=base, cookies=cookies, trust_env=False, timeout=HANG) as expert:
                assert expert.get("/queue").status_code == 200
            assert app.state.logins.waiting == burst and not any(g.done() for g in guesses)
        finally:
            held.set()
        assert [g.result() for g in guesses] == [401] * burst


def test_a_burst_from_one_address_gets_no_more_password_checks_than_its_limit(
    make_app: Callable[..., FastAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The address limit was checked on arrival only: a burst of 60 got 59 password checks. An attempt
    waiting for its check now counts against the address: the rest are refused at once, while the
    first ones are still being checked."""
    app = make_app(login_max_failures_per_ip=5, login_max_failures=1000)
    held, checked = threading.Event(), []

    def held_check(password_hash: str, password: str) -> bool:
        checked.append(password)
        held.wait(HANG)
        return False  # a wrong guess, without argon2's 0.3 s: the test is about threads, not cost

    monkeypatch.setattr(accounts_module, "_verify", held_check)
    burst = 30
    with serving(app) as base, ThreadPoolExecutor(burst) as pool:
        with httpx.Client(base_url=base, trust_env=False) as browser:
            token = hidden_inputs(browser.get("/login").text)["csrf"]

        def guess(n: int) -> httpx.Response:
            form = {"username": f"user-{n % 3}", "password": f"guess-{n}-x", "csrf": token, "next": "/queue"}
            with httpx.Client(
                base_url=base, cookies={LOGIN_CSRF_COOKIE: token}, trust_env=False, timeout=HANG * 2
            ) as attacker:
                return attacker.post("/login", data=form)

        guesses = [pool.submit(guess, n) for n in range(burst)]
        try:
            deadline = time.monotonic() + HANG
            while sum(g.done() for g in guesses) < burst - 5:  # refused while the first five are held
                assert time.monotonic() < deadline, f"{sum(g.done() for g in guesses)} answered"
                time.sleep(0.02)
            refused = [g.result() for g in guesses if g.done()]
            assert {r.status_code for r in refused} == {429}
            assert "Слишком много неудачных попыток входа. Попробуйте снова через" in refused[0].text
            assert app.state.logins.waiting == 5
        finally:
            held.set()
        assert sorted(g.result().status_code for g in guesses) == [401] * 5 + [429] * (burst - 5)
    assert len(checked) == 5
