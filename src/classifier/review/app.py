"""The expert review web app: ``create_app`` builds it over a case store. Run it with ``classifier review``.

Server-rendered pages (Jinja2, autoescaped) and plain HTML forms, with no JavaScript at all, so the
Content-Security-Policy can forbid every script. Crawled pages are shown as their extracted text only,
never as HTML; URLs are text, never links.

What a request meets, in order: ``security.security_headers`` (every response), the route's
``dependencies`` (session, role, CSRF token), then the route in ``routes``; refusals become pages in
``errors``.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter
from fastapi.staticfiles import StaticFiles

from classifier.common.config import ReviewSettings, ScoreSettings
from classifier.queue import CaseStore
from classifier.queue.accounts import Accounts
from classifier.review.errors import EXCEPTION_HANDLERS, server_errors
from classifier.review.logins import LoginGate
from classifier.review.routes import admin, auth, cases, dashboard, queue, shops
from classifier.review.security import host_checker, security_headers, without_trailing_slash

STATIC_DIR = Path(__file__).parent / "static"


def create_app(
    db_url: str | None = None,
    settings: ReviewSettings | None = None,
    score_settings: ScoreSettings | None = None,
) -> FastAPI:
    """The app over the case store at ``db_url`` (the project's ``data/queue.db`` by default);
    ``score_settings`` are the rules the shop page uses to say which texts are copies (params' by the CLI).

    ``app.state`` holds what the routes share, read through ``dependencies``: the store, the accounts,
    the settings and the login gate (whose address limits live in memory, per app).
    """
    settings = settings or ReviewSettings()
    # no interactive API docs: they need scripts from elsewhere, and they would list the routes to anyone
    app = FastAPI(
        title="Проверка сообщений",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        exception_handlers=EXCEPTION_HANDLERS,
        redirect_slashes=False,  # security.without_trailing_slash: Starlette's echoes the Host header
    )
    app.state.settings = settings
    app.state.login_secret = secrets.token_bytes(32)  # signs login forms; a restart asks for them again
    app.state.store = CaseStore(
        db_url, confirmations_required=settings.confirmations_required, score_settings=score_settings
    )
    app.state.accounts = Accounts(
        app.state.store,
        max_failures=settings.login_max_failures,
        window=timedelta(minutes=settings.login_window_minutes),
        delay=timedelta(seconds=settings.login_delay_seconds),
        lifetime=timedelta(hours=settings.session_hours),
        idle=timedelta(minutes=settings.session_idle_minutes) if settings.session_idle_minutes > 0 else None,
    )
    app.state.logins = LoginGate(app.state.accounts, settings)

    # the last added runs first: the headers go on every answer, the host is checked before anything else
    app.middleware("http")(server_errors)  # the innermost: an error in a route becomes the 500 page
    app.middleware("http")(without_trailing_slash)
    app.middleware("http")(host_checker(settings.allowed_hosts))
    app.middleware("http")(security_headers)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for part in (auth, queue, cases, shops, dashboard, admin):
        app.include_router(with_head(part.router))
    app.add_api_route("/healthz", health, methods=["GET", "HEAD"])
    return app


def with_head(router: APIRouter) -> APIRouter:
    """``router`` with HEAD wherever it has GET, answered as the GET (the server sends no body)."""
    for route in router.routes:
        if isinstance(route, APIRoute) and "GET" in route.methods:
            route.methods.add("HEAD")
    return router


def health() -> dict[str, str]:
    """For whatever waits for the app to start: answers without a session and without the database."""
    return {"status": "ok"}
