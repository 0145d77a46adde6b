"""Expert and admin accounts, their login sessions, and the login rate limit per account and address.

Passwords are hashed with argon2id (``argon2-cffi``: a random salt per hash, parameters stored in the
hash, so stronger parameters apply on the next login); ``passwords.py`` refuses the ones guessed first.
Session tokens are random; only their SHA-256 is stored, so a copy of the database opens no session.
A session ends after its lifetime, or earlier after ``idle`` without a request.

Failed logins go to the audit log, which is also what the rate limit counts: it holds across restarts
and across server processes. Their actor is ``?``: what was typed as a name is kept in the entry's
detail (``username``, with the ``ip``), never as someone who acted. The limit is per pair of account and
address: after ``max_failures`` failures of a pair, it waits ``delay``, doubled at each further failure
(at most ``window``), so that guessing from one place never locks the owner out from another; a
successful login of the pair clears its earlier failures.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import ColumnElement, and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from classifier.queue.passwords import password_problem
from classifier.queue.schema import ROLES, audit_table, sessions_table, users_table
from classifier.queue.store import CaseStore
from classifier.queue.values import clean_text, now, public, utc

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]{1,63}$")
NOBODY = "?"  # the actor of a failed or refused login: no one has shown who they are
COMMAND_LINE = "cli"  # the actor of a change made at the server (``--by`` left at its default)
IDLE_WRITE_STEP = timedelta(minutes=1)  # a session's idle deadline is moved at most once a minute
_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified when the username is unknown, so that a wrong name takes as long as a wrong password.
    Made on first use: an argon2 hash costs 64 MiB and a core, too much for every import."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class LoginBlockedError(Exception):
    """Too many failed logins for this account from this address: wait ``seconds`` and try again."""

    def __init__(self, username: str, seconds: float):
        super().__init__(username)
        self.seconds = seconds


class Accounts:
    """Users and sessions in the case store's database."""

    def __init__(
        self,
        store: CaseStore,
        *,
        max_failures: int = 5,
        window: timedelta = timedelta(minutes=15),
        delay: timedelta = timedelta(minutes=1),
        lifetime: timedelta | None = None,
        idle: timedelta | None = None,
    ):
        """``lifetime``/``idle``: how long a session lasts at most, and without a request (None: no idle
        limit; the lifetime is then the one ``start_session`` is given)."""
        self.store = store
        self.engine = store.engine
        self.max_failures = max_failures
        self.window = window
        self.delay = delay
        self.lifetime = lifetime
        self.idle = idle

    # -- users --

    def add_user(
        self, username: str, password: str, role: str = "expert", created_by: str = COMMAND_LINE
    ) -> dict[str, Any]:
        username = username.strip().lower()
        if not USERNAME.match(username):
            raise ValueError(
                "a username is 2-64 characters: latin letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        if username == COMMAND_LINE:  # the audit log names it «командная строка»: no account may pose as it
            raise ValueError(f"{COMMAND_LINE!r} is reserved for changes made from the command line")
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

    def set_password(self, username: str, password: str, actor: str = COMMAND_LINE) -> None:
        _check_password(password)
        self._update(username, password_hash=_HASHER.hash(password))
        self.end_sessions(username)
        self.store.log_audit(actor, "password_changed", detail={"username": username})

    def set_active(self, username: str, active: bool, actor: str = COMMAND_LINE) -> None:
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

        Raises :class:`LoginBlockedError` while this name and address wait after their failures
        (``wait``): the password is not even checked then, so guessing gains nothing.
        """
        username = clean_text(username).strip().lower()[:64]  # PostgreSQL refuses NUL in a parameter
        ip = clean_text(ip)[:64]
        seconds, last_failure = self.wait(username, ip)
        if seconds > 0:
            attempt = self._attempted(username, ip)
            blocked = [audit_table.c.action == "login_blocked", audit_table.c.at >= last_failure, *attempt]
            if not self._count(blocked):  # once per wait: a flood does not flood the log
                detail = {"username": username, "ip": ip, "wait_seconds": round(seconds)}
                self.store.log_audit(NOBODY, "login_blocked", detail=detail)
            raise LoginBlockedError(username, seconds)
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(users_table).where(users_table.c.username == username)).mappings().first()
            )
        ok = _verify(row["password_hash"] if row else _dummy_hash(), password or "")
        if not ok or row is None or not row["active"]:
            self.store.log_audit(NOBODY, "login_failed", detail={"username": username, "ip": ip})
            return None
        if _HASHER.check_needs_rehash(row["password_hash"]):
            self._update(username, password_hash=_HASHER.hash(password))
        self.store.log_audit(username, "login", detail={"ip": ip})
        return _without_hash(row)

    def wait(self, username: str, ip: str) -> tuple[float, datetime]:
        """Seconds this name must wait before its next login from ``ip`` (0: none), and the time of the
        pair's last failure."""
        count, last = self._failures(username, ip)
        if count < self.max_failures or last is None:
            return 0.0, last or now()
        doubled = self.delay * 2 ** min(count - self.max_failures, 30)
        until = last + min(doubled, self.window)
        return max(0.0, (until - now()).total_seconds()), last

    def recent_failures(self, username: str, ip: str) -> int:
        """Failed logins of this name from ``ip`` that still count: within the window, and after the
        pair's last successful login."""
        return self._failures(username, ip)[0]

    def _failures(self, username: str, ip: str) -> tuple[int, datetime | None]:
        """How many failed logins of the pair count, and when the last was."""
        username, ip = clean_text(username).strip().lower()[:64], clean_text(ip)[:64]
        a = audit_table.c
        since = now() - self.window
        succeeded = [a.actor == (username or NOBODY), a.action == "login", a.at >= since, _detail("ip", ip)]
        since = self._latest(succeeded) or since
        failed = [
            a.actor == NOBODY,
            a.action == "login_failed",
            a.at >= since,
            *self._attempted(username, ip),
        ]
        return self._count(failed), self._latest(failed)

    @staticmethod
    def _attempted(username: str, ip: str) -> list[ColumnElement[bool]]:
        return [_detail("username", username), _detail("ip", ip)]

    def _count(self, where: list[ColumnElement[bool]]) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(audit_table).where(and_(*where))
            ).scalar_one()

    def _latest(self, where: list[ColumnElement[bool]]) -> datetime | None:
        with self.engine.connect() as conn:
            return utc(conn.execute(select(func.max(audit_table.c.at)).where(and_(*where))).scalar_one())

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
            "expires_at": started + min(lifetime, self.idle or lifetime),
        }
        with self.engine.begin() as conn:
            conn.execute(delete(sessions_table).where(sessions_table.c.expires_at < started))
            conn.execute(sessions_table.insert().values(values))
        return token, csrf

    def session(self, token: str) -> dict[str, Any] | None:
        """The user and CSRF token behind a cookie's token, or None (unknown, expired, idle for too
        long, disabled user). A request keeps the session alive: with an idle limit, its end moves to
        ``idle`` from now (never beyond its lifetime)."""
        if not token:
            return None
        s, u = sessions_table.c, users_table.c
        stmt = (
            select(u.id, u.username, u.role, u.active, s.csrf_token, s.created_at, s.expires_at)
            .join(users_table, u.id == s.user_id)
            .where(s.token_hash == hash_token(token))
        )
        with self.engine.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        current = now()
        if row is None or not row["active"] or utc(row["expires_at"]) <= current:
            return None
        if self.idle is not None and self.lifetime is not None:
            end = min(utc(row["created_at"]) + self.lifetime, current + self.idle)  # type: ignore[operator]
            if end - utc(row["expires_at"]) >= IDLE_WRITE_STEP:  # type: ignore[operator]
                with self.engine.begin() as conn:
                    conn.execute(
                        update(sessions_table).where(s.token_hash == hash_token(token)).values(expires_at=end)
                    )
        out = public(row)
        out.pop("created_at", None)
        return out

    def end_session(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sessions_table).where(sessions_table.c.token_hash == hash_token(token)))

    def end_sessions(self, username: str) -> None:
        username = username.strip().lower()
        user_ids = select(users_table.c.id).where(users_table.c.username == username)
        with self.engine.begin() as conn:
            conn.execute(delete(sessions_table).where(sessions_table.c.user_id.in_(user_ids)))


def _check_password(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise ValueError(problem)


def _detail(key: str, value: str) -> ColumnElement[bool]:
    """The audit entry's detail has ``value`` under ``key`` (JSON, on SQLite and PostgreSQL alike)."""
    return audit_table.c.detail[key].as_string() == value


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _without_hash(row: Any) -> dict[str, Any]:
    out = public(row)
    out.pop("password_hash", None)
    return out
