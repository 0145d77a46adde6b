"""Logging in and out. The login form has no session to take a CSRF token from, so its token is a
double-submit cookie: a page of another site can post the form, but it cannot read or set the cookie."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from classifier.common.config import ReviewSettings
from classifier.review.dependencies import ClientAddress, FormSender, Logins, Settings, Store, UserAccounts
from classifier.review.logins import Refusal
from classifier.review.pages import render
from classifier.review.security import LOGIN_CSRF_COOKIE, SESSION_COOKIE, local_path, same, set_cookie

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


def new_token() -> str:
    return secrets.token_urlsafe(32)


@router.get("/login")
def login_form(request: Request, settings: Settings, next: str = "/queue") -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_token()
    return login_page(request, settings, local_path(next), token)


@router.post("/login")
def login(
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
    if not same(request.cookies.get(LOGIN_CSRF_COOKIE), csrf):
        return login_page(request, settings, target, new_token(), 403, "Форма устарела: попробуйте ещё раз.")
    outcome = logins.attempt(username, password, address)
    if isinstance(outcome, Refusal):
        return login_page(request, settings, target, new_token(), outcome.status_code, outcome.message)
    lifetime = timedelta(hours=settings.session_hours)
    token, _ = accounts.start_session(outcome["id"], lifetime)
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
