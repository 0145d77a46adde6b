"""Deciding a login attempt: the client address's limit (here, in memory), the account's own limit (in the
database, ``queue.accounts``), and the password check itself.

Checks of one account name run one at a time, so that parallel guesses all see the earlier failures; and
few run at once, since each argon2 check takes a core and 64 MiB.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from classifier.common.config import ReviewSettings
from classifier.queue.accounts import Accounts, LoginBlockedError
from classifier.review.security import AddressLimiter

TOO_MANY_ATTEMPTS = "Слишком много неудачных попыток входа. Подождите и попробуйте снова."
WRONG_NAME_OR_PASSWORD = "Неверное имя пользователя или пароль."
NAME_LOCKS = 64  # account names share these locks by hash: a bounded number however many names are tried
CHECKS_AT_ONCE = 2


@dataclass(frozen=True)
class Refusal:
    status_code: int
    message: str


class LoginGate:
    """One per app: the address limiter's memory and the locks are shared by all its requests."""

    def __init__(self, accounts: Accounts, settings: ReviewSettings):
        self._accounts = accounts
        self._addresses = AddressLimiter(
            settings.login_max_failures_per_ip, settings.login_window_minutes * 60
        )
        self._name_locks = [threading.Lock() for _ in range(NAME_LOCKS)]
        self._password_checks = threading.BoundedSemaphore(CHECKS_AT_ONCE)

    def attempt(self, username: str, password: str, address: str) -> dict[str, Any] | Refusal:
        """The user whose name and password these are, or why not; failures count against ``address``."""
        if self._addresses.blocked(address):
            return Refusal(429, TOO_MANY_ATTEMPTS)
        name = username.strip().lower()[:64]
        with self._name_locks[hash(name) % len(self._name_locks)], self._password_checks:
            try:
                user = self._accounts.authenticate(name, password, ip=address)
            except LoginBlockedError:
                self._addresses.failed(address)
                return Refusal(429, TOO_MANY_ATTEMPTS)
        if user is None:
            self._addresses.failed(address)
            return Refusal(401, WRONG_NAME_OR_PASSWORD)
        return user
