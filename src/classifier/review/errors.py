"""The pages for refused requests: the dependencies' ``LoginRequired`` and ``Forbidden``, and FastAPI's own
``RequestValidationError``, whose default 422 names the parameters and echoes the input to anyone."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from classifier.review import drafts
from classifier.review.dependencies import Forbidden, LoginRequired, session_user
from classifier.review.navigation import Place, with_query
from classifier.review.pages import render

DECISION_FORM = re.compile(r"/cases/([1-9][0-9]{0,18})/decision")


async def login_required(request: Request, _exc: LoginRequired) -> Response:
    """A page opens the login form, which returns to it; a decision posted after the session expired
    is shown with what was typed, kept for the case page (``drafts``), and a login that returns to the
    case; another form post has no page to return to."""
    if request.method == "GET":
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


EXCEPTION_HANDLERS = {
    LoginRequired: login_required,
    Forbidden: forbidden,
    RequestValidationError: invalid_request,
}
