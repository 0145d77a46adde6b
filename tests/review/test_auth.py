"""Logging in and out (``routes/auth.py``, ``logins.py``): the login form and its CSRF cookie, where a login
returns to, the session cookie, logout, and the limits on failed logins per account and per address."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from classifier.queue import CaseStore
from classifier.review.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from review.cases import USERS
from review.helpers import audits, hidden_inputs, login


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
    assert [entry["actor"] for entry in failed] == ["boris"]
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


def test_account_is_locked_after_max_failures_even_for_the_right_password(
    make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient], store: CaseStore
) -> None:
    app = make_app(login_max_failures=3)
    client = open_as(on=app)
    for _ in range(3):
        assert login(client, "boris", "wrong-password-x").status_code == 401
    blocked = login(client, "boris")
    assert blocked.status_code == 429
    assert SESSION_COOKIE not in client.cookies
    assert [entry["actor"] for entry in audits(store, "login_blocked")] == ["boris"]
    assert login(open_as(on=app), "vera").status_code == 303  # the limit is per account


def test_address_is_blocked_after_failures_across_accounts(
    make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient]
) -> None:
    client = open_as(on=make_app(login_max_failures_per_ip=3))
    for name in ("nobody-1", "nobody-2", "boris"):
        assert login(client, name, "wrong-password-x").status_code == 401
    response = login(client, "anna")
    assert response.status_code == 429
    assert SESSION_COOKIE not in client.cookies


def test_attempts_on_a_blocked_account_count_against_the_address(make_app: Callable[..., FastAPI]) -> None:
    client = TestClient(make_app(login_max_failures=2, login_max_failures_per_ip=4), follow_redirects=False)
    statuses = [login(client, "boris", "wrong-password-x").status_code for _ in range(5)]
    assert statuses == [401, 401, 429, 429, 429]
    assert login(client, "vera").status_code == 429  # the address, not only boris, is now held back
