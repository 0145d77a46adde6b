"""Expert and admin accounts, their login sessions, and the per-account login rate limit.

Passwords are hashed with argon2id (``argon2-cffi``: a random salt per hash, parameters stored in the
hash, so stronger parameters apply on the next login). Session tokens are random; only their SHA-256
is stored, so a copy of the database opens no session. Failed logins go to the audit log, which is
also what the rate limit counts: it holds across restarts and across server processes.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from classifier.queue.schema import ROLES, sessions_table, users_table
from classifier.queue.store import CaseStore
from classifier.queue.values import clean_text, now, public, utc

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{1,63}$")
MIN_PASSWORD_CHARS = 10
_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified when the username is unknown, so that a wrong name takes as long as a wrong password.
    Made on first use: an argon2 hash costs 64 MiB and a core, too much for every import."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class LoginBlockedError(Exception):
    """Too many failed logins for this account in the window: wait and try again."""


class Accounts:
    """Users and sessions in the case store's database."""

    def __init__(self, store: CaseStore, *, max_failures: int = 5, window: timedelta = timedelta(minutes=15)):
        self.store = store
        self.engine = store.engine
        self.max_failures = max_failures
        self.window = window

    # -- users --

    def add_user(
        self, username: str, password: str, role: str = "expert", created_by: str = "cli"
    ) -> dict[str, Any]:
        username = username.strip().lower()
        if not USERNAME.match(username):
            raise ValueError(
                "a username is 2-64 characters: latin letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        _check_password(password)
        values = {
            "username": username,
            "password_hash": _HASHER.hash(password),
            "role": role,
            "active": True,
            "created_at": now(),
            "created_by": created_by,
        }
        try:
            with self.engine.begin() as conn:
                user_id = conn.execute(users_table.insert().values(values)).inserted_primary_key[0]
        except IntegrityError as exc:
            raise ValueError(f"the user {username!r} exists already") from exc
        self.store.log_audit(created_by, "user_added", detail={"username": username, "role": role})
        return self.user(user_id)

    def set_password(self, username: str, password: str, actor: str = "cli") -> None:
        _check_password(password)
        self._update(username, password_hash=_HASHER.hash(password))
        self.end_sessions(username)
        self.store.log_audit(actor, "password_changed", detail={"username": username})

    def set_active(self, username: str, active: bool, actor: str = "cli") -> None:
        self._update(username, active=active)
        if not active:
            self.end_sessions(username)
        self.store.log_audit(
            actor, "user_enabled" if active else "user_disabled", detail={"username": username}
        )

    def _update(self, username: str, **values: Any) -> None:
        username = username.strip().lower()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(users_table).where(users_table.c.username == username).values(**values)
            )
        if result.rowcount == 0:
            raise ValueError(f"unknown user {username!r}")

    def user(self, user_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users_table).where(users_table.c.id == user_id)).mappings().first()
        return _without_hash(row) if row else None

    def users(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(users_table).order_by(users_table.c.username)).mappings().all()
        return [_without_hash(r) for r in rows]

    # -- logging in --

    def authenticate(self, username: str, password: str, ip: str = "") -> dict[str, Any] | None:
        """The active user with this name and password, or None; every failure is audited.

        Raises :class:`LoginBlockedError` while the account has ``max_failures`` failed logins within
        ``window``: the password is not even checked then, so guessing gains nothing.
        """
        username = clean_text(username).strip().lower()[:64]  # PostgreSQL refuses NUL in a parameter
        if self.recent_failures(username) >= self.max_failures:
            since = now() - self.window
            if not self.store.count_audit(actor=username or "?", action="login_blocked", since=since):
                self.store.log_audit(username or "?", "login_blocked", detail={"ip": ip})  # once a window
            raise LoginBlockedError(username)
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(users_table).where(users_table.c.username == username)).mappings().first()
            )
        ok = _verify(row["password_hash"] if row else _dummy_hash(), password or "")
        if not ok or row is None or not row["active"]:
            self.store.log_audit(username or "?", "login_failed", detail={"ip": ip})
            return None
        if _HASHER.check_needs_rehash(row["password_hash"]):
            self._update(username, password_hash=_HASHER.hash(password))
        self.store.log_audit(username, "login", detail={"ip": ip})
        return _without_hash(row)

    def recent_failures(self, username: str) -> int:
        since = now() - self.window
        return self.store.count_audit(actor=username or "?", action="login_failed", since=since)

    # -- sessions --

    def start_session(self, user_id: int, lifetime: timedelta) -> tuple[str, str]:
        """A new session: (the cookie's token, the session's CSRF token)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        started = now()
        values = {
            "token_hash": hash_token(token),
            "user_id": user_id,
            "csrf_token": csrf,
            "created_at": started,
            "expires_at": started + lifetime,
        }
        with self.engine.begin() as conn:
            conn.execute(delete(sessions_table).where(sessions_table.c.expires_at < started))
            conn.execute(sessions_table.insert().values(values))
        return token, csrf

    def session(self, token: str) -> dict[str, Any] | None:
        """The user and CSRF token behind a cookie's token, or None (unknown, expired, disabled user)."""
        if not token:
            return None
        s, u = sessions_table.c, users_table.c
        stmt = (
            select(u.id, u.username, u.role, u.active, s.csrf_token, s.expires_at)
            .join(users_table, u.id == s.user_id)
            .where(s.token_hash == hash_token(token))
        )
        with self.engine.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        if row is None or not row["active"] or utc(row["expires_at"]) <= now():
            return None
        return public(row)

    def end_session(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sessions_table).where(sessions_table.c.token_hash == hash_token(token)))

    def end_sessions(self, username: str) -> None:
        username = username.strip().lower()
        user_ids = select(users_table.c.id).where(users_table.c.username == username)
        with self.engine.begin() as conn:
            conn.execute(delete(sessions_table).where(sessions_table.c.user_id.in_(user_ids)))


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_CHARS:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _without_hash(row: Any) -> dict[str, Any]:
    out = public(row)
    out.pop("password_hash", None)
    return out
