"""A decision typed when the session had expired: kept for the expert in their own browser, not lost.

A decision form posted without a valid session cannot be recorded (no expert to name, no CSRF token to
check). The page that says so shows what was typed, links to the login form, which returns to the case,
and leaves the choices and the comment in a cookie of this browser (``Path=/cases/ID``, HttpOnly,
SameSite=Strict, an hour): the case page, once logged in, shows them in the form again, once, with a note
to check them. Nothing unauthenticated is stored on the server, and the comment never goes into an
address (which the access log and the browser's history would keep).

A draft is never sent as a decision by itself: the expert presses the button. Another site that posts a
form to an expired session could plant a draft, but only text in a form the expert reads before sending.
"""

from __future__ import annotations

import base64
import binascii
import json

from fastapi import Request
from fastapi.responses import Response

DRAFT_COOKIE = "review_draft"
DRAFT_SECONDS = 3600
MAX_COOKIE_CHARS = 3800  # browsers keep a cookie of up to 4096 bytes, name and attributes included
FIELDS = {"decision": 16, "category": 32, "comment": 4000, "then": 8}


def typed_fields(values: object) -> dict[str, str]:
    """The decision form's choices and comment, as strings of bounded length."""
    get = getattr(values, "get", None)
    found = {name: get(name) if get else None for name in FIELDS}
    return {
        name: str(value)[:limit] if isinstance(value, str) else ""
        for (name, value), limit in zip(found.items(), FIELDS.values(), strict=True)
    }


def keep(request: Request, response: Response, case_id: int, typed: dict[str, str], secure: bool) -> bool:
    """Set the draft cookie for the case; False when it is too long for a cookie (the page shows it)."""
    data = json.dumps({"case": case_id, **typed}, ensure_ascii=False, separators=(",", ":"))
    value = base64.urlsafe_b64encode(data.encode()).decode()
    if len(value) > MAX_COOKIE_CHARS:
        return False
    response.set_cookie(
        DRAFT_COOKIE,
        value,
        max_age=DRAFT_SECONDS,
        path=f"/cases/{case_id}",
        httponly=True,
        samesite="strict",
        secure=secure or request.url.scheme == "https",
    )
    return True


def restored(request: Request, case_id: int) -> dict[str, str] | None:
    """The draft this browser kept for the case, or None."""
    value = request.cookies.get(DRAFT_COOKIE, "")
    if not value or len(value) > MAX_COOKIE_CHARS:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(value.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("case") != case_id:
        return None
    return typed_fields(data)


def forget(response: Response, case_id: int) -> None:
    response.delete_cookie(DRAFT_COOKIE, path=f"/cases/{case_id}")
