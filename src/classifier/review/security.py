"""What keeps the review app safe with hostile pages in its database and experts' sessions in its cookies.

- Every response carries a Content-Security-Policy that allows no script at all, no frames, no
  plugins, and forms and styles from the app itself only: even if some crawled text escaped the
  templates' escaping, a browser would not run it.
- Sessions are random tokens in an HttpOnly, SameSite=Strict cookie (Secure over HTTPS).
- Every form carries a CSRF token: the session's, or for the login form a double-submit cookie.
- Failed logins are limited per account (in the database, see ``queue.accounts``) and per client
  address (here, in memory: a spray over many accounts from one address).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

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
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.url.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"  # case pages stay out of shared caches
    return response


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None, *, secure: bool = False
) -> None:
    """An HttpOnly, SameSite=Strict cookie; Secure when forced or when the request came over HTTPS."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
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
    """At most ``max_failures`` failed logins per client address within ``window`` seconds."""

    def __init__(self, max_failures: int, window: float):
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str) -> deque[float]:
        times = self._failures.setdefault(address, deque())
        cutoff = time.monotonic() - self.window
        while times and times[0] < cutoff:
            times.popleft()
        return times

    def blocked(self, address: str) -> bool:
        return len(self._recent(address)) >= self.max_failures

    def failed(self, address: str) -> None:
        now = time.monotonic()
        self._recent(address).append(now)
        if len(self._failures) > 100_000:  # bounded memory under a flood of addresses
            cutoff = now - self.window
            self._failures = {a: t for a, t in self._failures.items() if t and t[-1] >= cutoff}
