"""The expert review web app: the queue, case pages with evidence, decisions, the audit trail.

Server-rendered pages (Jinja2, autoescaped) and plain HTML forms, with no JavaScript at all, so the
Content-Security-Policy can forbid every script. Crawled pages are shown as their extracted text only,
never as HTML; URLs are text, never links. Run it with ``classifier review``.
"""

from __future__ import annotations

import secrets
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool

from classifier.config import ReviewSettings
from classifier.queue import CATEGORIES, DECISIONS, STATUSES, CaseStore, StaleCaseError
from classifier.queue.accounts import Accounts, LoginBlockedError
from classifier.queue.views import OPEN, QueueFilter, dashboard, facets, find_cases, uncertain_cases
from classifier.review import texts
from classifier.review.highlight import highlight
from classifier.review.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AddressLimiter,
    local_path,
    same,
    security_headers,
    set_cookie,
)

HERE = Path(__file__).parent
TOO_MANY_ATTEMPTS = "Слишком много неудачных попыток входа. Подождите и попробуйте снова."
AUDIT_PER_PAGE = 100
MAX_ID = 2**63 - 1  # SQLite's INTEGER and PostgreSQL's BIGINT: a larger number is no case, not a server error


class LoginRequired(Exception):
    """No valid session: pages redirect to the login form, form posts are refused."""


class Forbidden(Exception):
    """Logged in, but this needs another role (or the form's CSRF token is wrong)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value, whatever the file's extension
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        texts=texts,
        label=texts.label,
        STATUSES=STATUSES,
        DECISIONS=DECISIONS,
        CATEGORIES=CATEGORIES,
    )
    env.filters["percent"] = lambda v: "—" if v is None else f"{100 * float(v):.0f}%"
    env.filters["when"] = lambda v: (v or "")[:16].replace("T", " ")
    return Jinja2Templates(env=env)


def create_app(db_url: str | None = None, settings: ReviewSettings | None = None) -> FastAPI:
    """The app over the case store at ``db_url`` (the project's ``data/queue.db`` by default)."""
    settings = settings or ReviewSettings()
    store = CaseStore(db_url, confirmations_required=settings.confirmations_required)
    accounts = Accounts(
        store,
        max_failures=settings.login_max_failures,
        window=timedelta(minutes=settings.login_window_minutes),
    )
    limiter = AddressLimiter(settings.login_max_failures_per_ip, settings.login_window_minutes * 60)
    templates = _templates()
    name_locks = [threading.Lock() for _ in range(64)]
    password_checks = threading.BoundedSemaphore(2)
    session_lifetime = timedelta(hours=settings.session_hours)

    # no interactive API docs: they need scripts from elsewhere, and they would list the routes to anyone
    app = FastAPI(title="Проверка сообщений", docs_url=None, redoc_url=None, openapi_url=None)
    app.middleware("http")(security_headers)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.state.store, app.state.accounts = store, accounts

    def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("user", getattr(request.state, "user", None))
        context.setdefault("message", "")
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    def current_user(request: Request) -> dict[str, Any]:
        user = accounts.session(request.cookies.get(SESSION_COOKIE, ""))
        if user is None:
            raise LoginRequired()
        request.state.user = user
        return user

    def admin(request: Request) -> dict[str, Any]:
        user = current_user(request)
        if user["role"] != "admin":
            raise Forbidden("Эта страница доступна только администраторам.")
        return user

    def check_csrf(user: dict[str, Any], token: str) -> None:
        if not same(user["csrf_token"], token):
            raise Forbidden("Форма устарела или отправлена не из приложения. Обновите страницу и повторите.")

    def client(request: Request) -> str:
        return request.client.host if request.client else ""

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, _exc: LoginRequired) -> Response:
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
        return render(request, "error.html", 401, user=None, message="Сессия истекла: войдите снова.")

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return render(request, "error.html", 403, message=exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, _exc: RequestValidationError) -> Response:
        # FastAPI checks parameters before the route runs, and its 422 names them and echoes the input,
        # to anyone: without a session this is a login redirect too, with one a page that says no more
        user = await run_in_threadpool(accounts.session, request.cookies.get(SESSION_COOKIE, ""))
        if user is None:
            return await _login_required(request, LoginRequired())
        request.state.user = user
        return render(request, "error.html", 400, message="Неверный адрес или данные формы.")

    # -- logging in and out --

    @app.get("/login")
    def login_form(request: Request, next: str = "/queue") -> Response:
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or _token()
        response = render(request, "login.html", user=None, next=local_path(next), csrf=token)
        set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 3600, secure=settings.secure_cookies)
        return response

    @app.post("/login")
    def login(
        request: Request,
        username: str = Form(""),
        password: str = Form(""),
        csrf: str = Form(""),
        next: str = Form("/queue"),
    ) -> Response:
        target = local_path(next)

        def refused(status_code: int, message: str) -> Response:
            token = _token()  # a fresh form token and its cookie, so the next try can succeed
            response = render(
                request, "login.html", status_code, user=None, next=target, csrf=token, message=message
            )
            set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 3600, secure=settings.secure_cookies)
            return response

        if not same(request.cookies.get(LOGIN_CSRF_COOKIE), csrf):
            return refused(403, "Форма устарела: попробуйте ещё раз.")
        address = client(request)
        if limiter.blocked(address):
            return refused(429, TOO_MANY_ATTEMPTS)
        name = username.strip().lower()[:64]
        # One check per account at a time, so parallel guesses all see the earlier failures; few checks
        # at once, since each argon2 check takes a core and 64 MiB.
        with name_locks[hash(name) % len(name_locks)], password_checks:
            try:
                user = accounts.authenticate(name, password, ip=address)
            except LoginBlockedError:
                limiter.failed(address)
                return refused(429, TOO_MANY_ATTEMPTS)
        if user is None:
            limiter.failed(address)
            return refused(401, "Неверное имя пользователя или пароль.")
        token, _ = accounts.start_session(user["id"], session_lifetime)
        response = RedirectResponse(target, status_code=303)
        lifetime = int(session_lifetime.total_seconds())
        set_cookie(
            request, response, SESSION_COOKIE, token, lifetime, secure=settings.secure_cookies, strict=False
        )
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return response

    @app.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        user = current_user(request)
        check_csrf(user, csrf)
        accounts.end_session(request.cookies.get(SESSION_COOKIE, ""))
        store.log_audit(user["username"], "logout", detail={"ip": client(request)})
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- the queue --

    @app.get("/")
    def home(request: Request) -> Response:
        current_user(request)
        return RedirectResponse("/queue", status_code=303)

    @app.get("/queue")
    def queue_page(
        request: Request,
        status: str = OPEN,
        language: str = "",
        category: str = "",
        min_score: str = "",
        q: str = "",
        page: int = 1,
    ) -> Response:
        current_user(request)
        status = status if status in (*STATUSES, OPEN, "all") else OPEN
        minimum = _percent(min_score)
        chosen = QueueFilter(
            status="" if status == "all" else status,
            language=language[:32],
            category=category[:32],
            min_score=minimum,
            search=q,
        )
        result = find_cases(store, chosen, page=max(1, min(page, 10**6)), per_page=settings.per_page)
        query = {"status": status, "language": language, "category": category, "min_score": min_score, "q": q}
        return render(
            request,
            "queue.html",
            result=result,
            query=query,
            facets=facets(store),
            counts=store.counts(),
            page_url=lambda n: "/queue?" + urlencode({**{k: v for k, v in query.items() if v}, "page": n}),
        )

    @app.get("/uncertain")
    def uncertain_page(request: Request) -> Response:
        current_user(request)
        return render(request, "uncertain.html", rows=uncertain_cases(store, settings.uncertain_limit))

    @app.get("/next")
    def next_case(request: Request, after: int = 0) -> Response:
        """The most urgent undecided case other than the one just decided: experts work down the queue."""
        current_user(request)
        for row in find_cases(store, QueueFilter(status=OPEN), page=1, per_page=2).rows:
            if row["id"] != after:
                return RedirectResponse(f"/cases/{row['id']}", status_code=303)
        return RedirectResponse("/queue", status_code=303)

    # -- a case --

    @app.get("/cases/{case_id}")
    def case_page(request: Request, case_id: int, saved: str = "") -> Response:
        current_user(request)
        return _case_response(request, case_id, message="Решение сохранено." if saved else "")

    def _case_response(request: Request, case_id: int, status_code: int = 200, message: str = "") -> Response:
        case = store.case(case_id) if 0 < case_id <= MAX_ID else None
        if case is None:
            return render(request, "error.html", 404, message="Такого дела нет.")
        cluster = [c for c in store.cluster(case["cluster_id"]) if c["id"] != case_id]
        text = case.get("text") or case.get("excerpt") or ""
        return render(
            request,
            "case.html",
            status_code,
            case=case,
            cluster=cluster,
            segments=highlight(text, case.get("evidence") or [], settings.evidence_sentences),
            text_is_excerpt=not case.get("text"),
            confirmations_required=settings.confirmations_required,
            message=message,
        )

    @app.post("/cases/{case_id}/decision")
    def decide(
        request: Request,
        case_id: int,
        decision: str = Form(""),
        category: str = Form(""),
        comment: str = Form(""),
        version: int = Form(-1),
        shown_score: str = Form(""),
        shown_model_version: str = Form(""),
        csrf: str = Form(""),
    ) -> Response:
        user = current_user(request)
        check_csrf(user, csrf)
        if not 0 < case_id <= MAX_ID:
            return _case_response(request, case_id)  # no such case
        try:
            store.record_decision(
                case_id,
                decision,
                user["username"],
                comment[:4000],
                category=category or None,
                expected_version=version,
                shown={"score": shown_score[:32], "model_version": shown_model_version[:64]},
            )
        except StaleCaseError:
            return _case_response(
                request,
                case_id,
                409,
                "Пока страница была открыта, другой эксперт вынес решение по этому делу. "
                "Проверьте его решение ниже и при необходимости решите снова.",
            )
        except ValueError as exc:
            return _case_response(request, case_id, 400, _decision_error(str(exc)))
        return RedirectResponse(f"/cases/{case_id}?saved=1", status_code=303)

    # -- overview and administration --

    @app.get("/dashboard")
    def dashboard_page(request: Request) -> Response:
        current_user(request)
        return render(request, "dashboard.html", stats=dashboard(store))

    @app.get("/admin/audit")
    def audit_page(request: Request, page: int = 1, actor: str = "", action: str = "") -> Response:
        admin(request)
        page = max(1, min(page, 10**6))
        rows = store.audit_log(
            AUDIT_PER_PAGE, (page - 1) * AUDIT_PER_PAGE, actor=actor[:64], action=action[:64]
        )
        total = store.count_audit(actor=actor[:64] or None, action=action[:64] or None)
        query = {k: v for k, v in {"actor": actor, "action": action}.items() if v}
        return render(
            request,
            "audit.html",
            rows=rows,
            page=page,
            pages=max(1, -(-total // AUDIT_PER_PAGE)),
            total=total,
            query={"actor": actor, "action": action},
            page_url=lambda n: "/admin/audit?" + urlencode({**query, "page": n}),
        )

    @app.get("/admin/users")
    def users_page(request: Request) -> Response:
        admin(request)
        return render(request, "users.html", users=accounts.users())

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _token() -> str:
    return secrets.token_urlsafe(32)


def _percent(value: str) -> float | None:
    """The queue's minimum score as a fraction. The field is in percent ("70", "70%", "0.5%"); a decimal
    fraction up to 1 without a percent sign ("0.7") is read as a fraction."""
    text = (value or "").strip().replace(",", ".")
    percent = text.endswith("%")
    text = text.rstrip("%").strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    if number != number:
        return None
    if percent or "." not in text or number > 1:
        number /= 100
    return min(max(number, 0.0), 1.0)


def _decision_error(message: str) -> str:
    if "already confirmed" in message:
        return "Вы уже подтвердили это дело: его должен подтвердить другой эксперт."
    if "decision must be" in message:
        return "Выберите решение."
    if "category must be" in message:
        return "Выберите категорию из списка."
    if "unknown case" in message:
        return "Такого дела нет."
    return "Решение не сохранено: " + message
