"""What the routes ask FastAPI for with ``Depends``: the app's case store, accounts and settings, the user
behind the session cookie, an admin, the sender of a form with its CSRF token checked, the client address.

A dependency that refuses raises ``LoginRequired`` or ``Forbidden``, which ``errors`` turns into the login
redirect or a 403 page: no route checks a session, a role or a token by hand.

FastAPI runs a route's dependencies before it validates the route's own parameters: a request without a
session is sent to log in, and one without the role or the form's token is refused, before anything
tells it which of its parameters were malformed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Request

from classifier.common.config import ReviewSettings
from classifier.queue import CaseStore
from classifier.queue.accounts import Accounts
from classifier.review.logins import LoginGate
from classifier.review.security import SESSION_COOKIE, same

User = dict[str, Any]  # a users row and its session's csrf_token, as Accounts.session gives it


class LoginRequired(Exception):
    """No valid session: pages redirect to the login form, form posts are refused."""


class Forbidden(Exception):
    """Logged in, but this needs another role (or the form's CSRF token is wrong)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# -- what create_app put in app.state --


def case_store(request: Request) -> CaseStore:
    return request.app.state.store


def user_accounts(request: Request) -> Accounts:
    return request.app.state.accounts


def review_settings(request: Request) -> ReviewSettings:
    return request.app.state.settings


def login_gate(request: Request) -> LoginGate:
    return request.app.state.logins


def client_address(request: Request) -> str:
    """The address the connection came from (uvicorn puts a trusted proxy's X-Forwarded-For here)."""
    return request.client.host if request.client else ""


Store = Annotated[CaseStore, Depends(case_store)]
UserAccounts = Annotated[Accounts, Depends(user_accounts)]
Settings = Annotated[ReviewSettings, Depends(review_settings)]
Logins = Annotated[LoginGate, Depends(login_gate)]
ClientAddress = Annotated[str, Depends(client_address)]


# -- who is asking --


def session_user(request: Request) -> User | None:
    """The user of the request's session cookie, or None; kept in ``request.state`` for the page header."""
    user = request.app.state.accounts.session(request.cookies.get(SESSION_COOKIE, ""))
    if user is not None:
        request.state.user = user
    return user


def current_user(request: Request) -> User:
    user = session_user(request)
    if user is None:
        raise LoginRequired()
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require_admin(user: CurrentUser) -> User:
    if user["role"] != "admin":
        raise Forbidden("Эта страница доступна только администраторам.")
    return user


def form_sender(user: CurrentUser, csrf: Annotated[str, Form()] = "") -> User:
    """The user who sent a form, if it carries their session's CSRF token: another site's page can make a
    browser post a form with the session cookie, but it cannot read the token from our pages."""
    if not same(user["csrf_token"], csrf):
        raise Forbidden("Форма устарела или отправлена не из приложения. Обновите страницу и повторите.")
    return user


FormSender = Annotated[User, Depends(form_sender)]
