"""The pages for refused requests: the dependencies' ``LoginRequired`` and ``Forbidden``, FastAPI's own
``RequestValidationError``, whose default 422 names the parameters and echoes the input to anyone, and the
router's 404 and 405, whose default is English JSON. A 500 is ``server_errors``'s page."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from classifier.review import drafts
from classifier.review.dependencies import Forbidden, LoginRequired, session_user
from classifier.review.navigation import Place, with_query
from classifier.review.pages import render

log = logging.getLogger(__name__)
DECISION_FORM = re.compile(r"/cases/([1-9][0-9]{0,18})/decision")


async def login_required(request: Request, _exc: LoginRequired) -> Response:
    """A page opens the login form, which returns to it; a decision posted after the session expired
    is shown with what was typed, kept for the case page (``drafts``), and a login that returns to the
    case; another form post has no page to return to."""
    if request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
    decision = DECISION_FORM.fullmatch(request.url.path)
    if decision and int(decision.group(1)) < 2**63:
        return expired_decision(request, int(decision.group(1)), await request.form())
    return render(request, "error.html", 401, user=None, message="Сессия истекла: войдите снова.")


def expired_decision(request: Request, case_id: int, form: Any) -> Response:
    typed = drafts.typed_fields(form)
    back = form.get("back")
    target = with_query(f"/cases/{case_id}", Place.parse(back if isinstance(back, str) else "").query())
    login_url = f"/login?{urlencode({'next': target})}"

    def page(kept: bool) -> Response:
        context = {"case_id": case_id, "typed": typed, "kept": kept, "login_url": login_url}
        return render(request, "expired.html", 401, user=None, **context)

    response = page(kept=True)
    secure = getattr(request.app.state.settings, "secure_cookies", False)
    return response if drafts.keep(request, response, case_id, typed, secure) else page(kept=False)


async def forbidden(request: Request, exc: Forbidden) -> Response:
    return render(request, "error.html", 403, message=exc.message)


async def invalid_request(request: Request, _exc: RequestValidationError) -> Response:
    """Without a session the login redirect (as for a well-formed request); with one a page that says no
    more than that the address or the form was wrong."""
    if await run_in_threadpool(session_user, request) is None:
        return await login_required(request, LoginRequired())
    return render(request, "error.html", 400, message="Неверный адрес или данные формы.")


HTTP_ERRORS = {
    404: "Такой страницы нет. Проверьте адрес или вернитесь к очереди.",
    405: "Этот адрес не принимает такой запрос.",
}
SERVER_ERROR = "Внутренняя ошибка. Попробуйте ещё раз через минуту."


async def http_error(request: Request, exc: HTTPException) -> Response:
    """The router's refusals (no such address, a method the address does not take) as the app's page,
    with the header of whoever is logged in; a 405 keeps its ``Allow``."""
    user = await run_in_threadpool(session_user, request)
    message = HTTP_ERRORS.get(exc.status_code, "Запрос не выполнен.")
    response = render(request, "error.html", exc.status_code, user=user, message=message)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def server_errors(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Middleware (innermost): an error in a route is logged and becomes the app's 500 page, without its
    details; plain text if even the page cannot be made."""
    try:
        return await call_next(request)
    except Exception:
        log.exception("error serving %s %s", request.method, request.url.path)
    try:
        return render(request, "error.html", 500, user=None, message=SERVER_ERROR)
    except Exception:  # whatever broke the route may break the page too
        log.exception("error making the error page")
        return PlainTextResponse(SERVER_ERROR, status_code=500)


EXCEPTION_HANDLERS = {
    LoginRequired: login_required,
    Forbidden: forbidden,
    RequestValidationError: invalid_request,
    HTTPException: http_error,
}
