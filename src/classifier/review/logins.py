"""Deciding a login attempt: the client address's limit (here, in memory), the limit of the account and
address pair (in the database, ``queue.accounts``), and the password check itself.

Password checks run in threads of their own (``login_checks_at_once`` of them: each argon2 check takes a
core and 64 MiB), never in the threads that serve pages: a burst of logins waits for those threads while
every other page is served as usual. Attempts waiting for a check are bounded too: per address, an
attempt waiting counts against the address's limit as if it had failed, so a burst from one address gets
no more checks than failures it may make; in all, beyond ``WAITING_AT_MOST`` the server says it is busy.

The limits are checked again in the checking thread, just before the password, so a burst of parallel
guesses all see the earlier failures. Checks of one account name run one at a time for that reason.
"""

from __future__ import annotations

import asyncio
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from classifier.common.config import ReviewSettings
from classifier.common.faults import slow_point
from classifier.queue.accounts import Accounts, LoginBlockedError
from classifier.review.security import AddressLimiter

WRONG_NAME_OR_PASSWORD = "Неверное имя пользователя или пароль."
BUSY = "Сервер занят проверкой входов. Попробуйте снова через минуту."
NAME_LOCKS = 64  # account names share these locks by hash: a bounded number however many names are tried
WAITING_AT_MOST = 256  # attempts waiting for a password check, from all addresses


def too_many_attempts(seconds: float) -> str:
    """The refusal, with how long to wait (rounded up: whole seconds, or minutes from one minute on)."""
    seconds = max(1, math.ceil(seconds))
    wait = f"{math.ceil(seconds / 60)} мин." if seconds >= 60 else f"{seconds} с"
    return f"Слишком много неудачных попыток входа. Попробуйте снова через {wait}"


@dataclass(frozen=True)
class Refusal:
    status_code: int
    message: str


class LoginGate:
    """One per app: the address limiter's memory, the locks and the checking threads are shared by all
    its requests."""

    def __init__(self, accounts: Accounts, settings: ReviewSettings):
        self._accounts = accounts
        self._addresses = AddressLimiter(
            settings.login_max_failures_per_ip, settings.login_window_minutes * 60
        )
        self._name_locks = [threading.Lock() for _ in range(NAME_LOCKS)]
        self._checks = ThreadPoolExecutor(
            max_workers=max(1, settings.login_checks_at_once), thread_name_prefix="password-check"
        )
        self._waiting = 0
        self._lock = threading.Lock()

    async def attempt(self, username: str, password: str, address: str) -> dict[str, Any] | Refusal:
        """The user whose name and password these are, or why not; failures count against ``address``."""
        wait = self._addresses.reserve(address)
        if wait > 0:
            return Refusal(429, too_many_attempts(wait))
        with self._lock:
            busy = self._waiting >= WAITING_AT_MOST
            self._waiting += not busy
        if busy:
            self._addresses.release(address, failed=False)
            return Refusal(503, BUSY)
        failed = True
        try:
            outcome = await asyncio.wrap_future(self._checks.submit(self._check, username, password, address))
            failed = isinstance(outcome, Refusal) and outcome.status_code == 401
            return outcome
        finally:
            with self._lock:
                self._waiting -= 1
            self._addresses.release(address, failed=failed)

    def _check(self, username: str, password: str, address: str) -> dict[str, Any] | Refusal:
        """In a checking thread: the pair's limit, then the password."""
        name = username.strip().lower()[:64]
        with self._name_locks[hash(name) % len(self._name_locks)]:
            try:
                slow_point("login.password_check", name)
                user = self._accounts.authenticate(name, password, ip=address)
            except LoginBlockedError as blocked:
                return Refusal(429, too_many_attempts(blocked.seconds))
        return user if user is not None else Refusal(401, WRONG_NAME_OR_PASSWORD)

    @property
    def waiting(self) -> int:
        """Attempts waiting for their password check or being checked."""
        return self._waiting

    def close(self) -> None:
        self._checks.shutdown(wait=False, cancel_futures=True)
