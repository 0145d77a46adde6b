"""What keeps the review app safe with hostile pages in its database and experts' sessions in its cookies.

- Every response carries a Content-Security-Policy that allows no script at all, no frames, no
  plugins, and forms and styles from the app itself only: even if some crawled text escaped the
  templates' escaping, a browser would not run it.
- Sessions are random tokens in an HttpOnly, SameSite=Lax cookie (Secure over HTTPS).
- Every form carries a CSRF token: the session's, or for the login form a token the server signed (with
  a secret made at start) and times, also in a cookie; a login form posted from another origin (another
  port of the same host shares its cookies) is refused by its ``Origin`` and ``Sec-Fetch-Site`` headers.
- The app answers only to its ``allowed_hosts`` (a DNS-rebinding page names another), and its redirects
  are paths, never built from the ``Host`` header.
- Failed logins are limited per account and address pair (in the database, see ``queue.accounts``)
  and per client address (here, in memory: a spray over many accounts from one address).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match

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
    except Exception:  # errors.server_errors makes the page; this is if that failed: it gets the headers too
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


# -- the login form's token --


def _mac(secret: bytes, message: str) -> str:
    digest = hmac.new(secret, message.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def login_token(secret: bytes) -> str:
    """A fresh login form token: when it was made, a random part, and the server's signature of both."""
    issued, nonce = str(int(time.time())), secrets.token_urlsafe(24)
    return f"{issued}.{nonce}.{_mac(secret, f'login.{issued}.{nonce}')}"


def valid_login_token(secret: bytes, token: str | None, max_age: float) -> bool:
    """Whether this server signed ``token`` (not another server, nor anyone else) within ``max_age``."""
    parts = str(token or "").split(".")
    if len(parts) != 3 or not (parts[0].isascii() and parts[0].isdigit() and parts[1] and parts[2]):
        return False
    issued, nonce, mac = parts
    age = time.time() - int(issued)
    return -60 <= age <= max_age and same(mac, _mac(secret, f"login.{issued}.{nonce}"))


def posted_from_elsewhere(request: Request) -> bool:
    """Whether the browser says this form came from a page of another origin: another site, or another
    port of this host (``Sec-Fetch-Site: same-site``; ``Origin`` names the port). Clients that send
    neither header (scripts, old browsers) are not browsers a page can drive. ``Origin: null`` says
    nothing: browsers send it for the app's own forms too, under ``Referrer-Policy: no-referrer``."""
    if request.headers.get("sec-fetch-site", "same-origin").lower() not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin", "null")
    if origin == "null":
        return False
    return urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()


# -- hosts and redirects --


def host_name(header: str) -> str:
    """The name in a Host header, without its port: ``[::1]:8000`` -> ``::1``, ``Example.org.`` ->
    ``example.org``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else ""
    return header.rsplit(":", 1)[0].rstrip(".") if header.count(":") <= 1 else header


def host_checker(
    allowed: Iterable[str],
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """Middleware answering 400 to a request whose Host header names none of ``allowed`` ("*": any)."""
    names = {name.strip().strip("[]").rstrip(".").lower() for name in allowed}

    async def check_host(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if "*" not in names and host_name(request.headers.get("host", "")) not in names:
            return PlainTextResponse("Неизвестное имя сервера.", status_code=400)
        return await call_next(request)

    return check_host


async def without_trailing_slash(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """``/queue/`` -> ``/queue``, as a path: Starlette's own redirect builds an absolute URL from the
    Host header, which would send the browser wherever a request's header says."""
    path = request.url.path
    if len(path) > 1 and path.endswith("/"):
        scope = {**request.scope, "path": path.rstrip("/") or "/"}
        routes: list[BaseRoute] = request.app.router.routes
        if any(route.matches(scope)[0] != Match.NONE for route in routes):
            query = request.url.query
            target = local_path(scope["path"] + (f"?{query}" if query else ""), "/")
            return RedirectResponse(target, status_code=307)
    return await call_next(request)


class AddressLimiter:
    """At most ``max_failures`` failed logins per client address within ``window`` seconds (thread-safe).

    An attempt reserves its place before it waits for its password check, and counts as a failure
    until it is known not to be one: a burst of parallel attempts from one address gets no more password
    checks than the failures the address may still make.
    """

    def __init__(self, max_failures: int, window: float):
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._pending: dict[str, int] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.get(address) or deque()
        while times and times[0] < now - self.window:
            times.popleft()
        return times

    def reserve(self, address: str) -> float:
        """0 and a place reserved for an attempt (``release`` it), or the seconds to wait for one."""
        now = time.monotonic()
        with self._lock:
            times, pending = self._recent(address, now), self._pending.get(address, 0)
            if len(times) + pending >= self.max_failures:
                return max(1.0, times[0] + self.window - now) if times else 1.0
            self._pending[address] = pending + 1
            return 0.0

    def release(self, address: str, *, failed: bool) -> None:
        now = time.monotonic()
        with self._lock:
            left = self._pending.get(address, 1) - 1
            if left > 0:
                self._pending[address] = left
            else:
                self._pending.pop(address, None)
            if failed:
                self._failures.setdefault(address, deque()).append(now)
            if len(self._failures) > 100_000:  # bounded memory under a flood of addresses
                cutoff = now - self.window
                self._failures = {a: t for a, t in self._failures.items() if t and t[-1] >= cutoff}
