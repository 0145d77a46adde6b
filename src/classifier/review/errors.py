"""The pages for refused requests: the dependencies' ``LoginRequired`` and ``Forbidden``, and FastAPI's own
``RequestValidationError``, whose default 422 names the parameters and echoes the input to anyone."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from classifier.review.dependencies import Forbidden, LoginRequired, session_user
from classifier.review.pages import render


async def login_required(request: Request, _exc: LoginRequired) -> Response:
    """A page opens the login form, which returns to it; a form post has no page to return to."""
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
    return render(request, "error.html", 401, user=None, message="Сессия истекла: войдите снова.")


async def forbidden(request: Request, exc: Forbidden) -> Response:
    return render(request, "error.html", 403, message=exc.message)


async def invalid_request(request: Request, _exc: RequestValidationError) -> Response:
    """Without a session the login redirect (as for a well-formed request); with one a page that says no
    more than that the address or the form was wrong."""
    if await run_in_threadpool(session_user, request) is None:
        return await login_required(request, LoginRequired())
    return render(request, "error.html", 400, message="Неверный адрес или данные формы.")


EXCEPTION_HANDLERS = {
    LoginRequired: login_required,
    Forbidden: forbidden,
    RequestValidationError: invalid_request,
}
