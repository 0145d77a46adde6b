"""What keeps the review app safe with hostile pages in its database and experts' sessions in its cookies.

- Every response carries a Content-Security-Policy that allows no script at all, no frames, no
  plugins, and forms and styles from the app itself only: even if some crawled text escaped the
  templates' escaping, a browser would not run it.
- Sessions are random tokens in an HttpOnly, SameSite=Lax cookie (Secure over HTTPS).
- Every form carries a CSRF token: the session's, or for the login form a double-submit cookie.
- Failed logins are limited per account (in the database, see ``queue.accounts``) and per client
  address (here, in memory: a spray over many accounts from one address).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

log = logging.getLogger(__name__)

SESSION_COOKIE = "review_session"
LOGIN_CSRF_COOKIE = "review_login_csrf"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # case URLs never leak to anything a page might load
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    try:
        response = await call_next(request)
    except Exception:  # an error page is a page too: it gets the headers below
        log.exception("error serving %s %s", request.method, request.url.path)
        response = PlainTextResponse("Внутренняя ошибка. Попробуйте ещё раз через минуту.", status_code=500)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.url.scheme == "https":
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    if not request.url.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"  # case pages stay out of shared caches
    return response


def set_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    max_age: int | None,
    *,
    secure: bool = False,
    strict: bool = True,
) -> None:
    """An HttpOnly cookie; Secure when forced or when the request came over HTTPS.

    SameSite=Strict for the login form's token. The session cookie is Lax: a case link opened from a
    chat message then arrives logged in, and Lax still withholds it from other sites' form posts (every
    form checks a CSRF token besides).
    """
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict" if strict else "lax",
        secure=secure or request.url.scheme == "https",
        path="/",
    )


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two tokens; an empty token never matches."""
    return bool(a) and bool(b) and secrets.compare_digest(str(a).encode(), str(b).encode())


def local_path(target: str | None, default: str = "/queue") -> str:
    """A redirect target inside this app only: a path, never ``//host`` or ``https://host``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


class AddressLimiter:
    """At most ``max_failures`` failed logins per client address within ``window`` seconds (thread-safe)."""

    def __init__(self, max_failures: int, window: float):
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        while times and times[0] < now - self.window:
            times.popleft()
        return times

    def blocked(self, address: str) -> bool:
        with self._lock:
            times = self._recent(address, time.monotonic())
            return times is not None and len(times) >= self.max_failures

    def failed(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._failures.setdefault(address, deque()).append(now)
            if len(self._failures) > 100_000:  # bounded memory under a flood of addresses
                cutoff = now - self.window
                self._failures = {a: t for a, t in self._failures.items() if t and t[-1] >= cutoff}
