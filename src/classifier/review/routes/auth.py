"""Logging in and out. The login form has no session to take a CSRF token from, so its token is one the
server signed (``security.login_token``), in the form and in a cookie: a page of another site can post
the form, but it can neither read the cookie nor make a token. Another port of the same host shares the
cookies, so a form posted from another origin is refused as well (``security.posted_from_elsewhere``).

The login route is ``async``: it waits for its password check (``logins.LoginGate``, threads of its own)
without holding one of the threads that serve the other pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from classifier.common.config import ReviewSettings
from classifier.review.dependencies import ClientAddress, FormSender, Logins, Settings, Store, UserAccounts
from classifier.review.logins import Refusal
from classifier.review.pages import render
from classifier.review.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    local_path,
    login_token,
    posted_from_elsewhere,
    same,
    set_cookie,
    valid_login_token,
)

LOGIN_FORM_LIFETIME = 3600  # seconds the login form's token cookie lasts

router = APIRouter()


def login_page(
    request: Request,
    settings: ReviewSettings,
    target: str,
    token: str,
    status_code: int = 200,
    message: str = "",
) -> Response:
    """The login form, which returns to ``target``, with ``token`` in the form and in its cookie."""
    response = render(request, "login.html", status_code, user=None, next=target, csrf=token, message=message)
    set_cookie(
        request, response, LOGIN_CSRF_COOKIE, token, LOGIN_FORM_LIFETIME, secure=settings.secure_cookies
    )
    return response


def new_token(request: Request) -> str:
    return login_token(request.app.state.login_secret)


def valid_token(request: Request, token: str | None) -> bool:
    return valid_login_token(request.app.state.login_secret, token, LOGIN_FORM_LIFETIME)


@router.get("/login")
def login_form(request: Request, settings: Settings, next: str = "/queue") -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE)
    return login_page(
        request, settings, local_path(next), token if valid_token(request, token) else new_token(request)
    )


@router.post("/login")
async def login(
    request: Request,
    settings: Settings,
    logins: Logins,
    accounts: UserAccounts,
    address: ClientAddress,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/queue",
) -> Response:
    """A session cookie and the page the user came for; a refused login gets a fresh form token, so that
    the next try can succeed."""
    target = local_path(next)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if posted_from_elsewhere(request) or not same(cookie, csrf) or not valid_token(request, csrf):
        message = "Форма устарела: попробуйте ещё раз."
        return login_page(request, settings, target, new_token(request), 403, message)
    outcome = await logins.attempt(username, password, address)
    if isinstance(outcome, Refusal):
        return login_page(request, settings, target, new_token(request), outcome.status_code, outcome.message)
    lifetime = timedelta(hours=settings.session_hours)
    token, _ = await run_in_threadpool(accounts.start_session, outcome["id"], lifetime)
    response = RedirectResponse(target, status_code=303)
    seconds = int(lifetime.total_seconds())
    set_cookie(
        request, response, SESSION_COOKIE, token, seconds, secure=settings.secure_cookies, strict=False
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(
    request: Request, user: FormSender, accounts: UserAccounts, store: Store, address: ClientAddress
) -> Response:
    accounts.end_session(request.cookies.get(SESSION_COOKIE, ""))
    store.log_audit(user["username"], "logout", detail={"ip": address})
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
