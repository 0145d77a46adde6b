"""The audit log: who did what and when (decisions, logins, exports), kept in the case store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from classifier.queue.schema import audit_table
from classifier.queue.values import clean_text, now, public


class AuditTrail:
    """Appends entries to ``audit_log`` and reads them back; nothing here changes or deletes one."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def log(
        self, actor: str, action: str, case_id: int | None = None, detail: dict[str, Any] | None = None
    ) -> None:
        """Record an action (a login, an export, a view) in a transaction of its own."""
        with self.engine.begin() as conn:
            self.write(conn, actor, action, case_id, detail)

    def write(
        self, conn: Connection, actor: str, action: str, case_id: int | None, detail: dict[str, Any] | None
    ) -> None:
        """Record an action inside the caller's transaction: a decision and its entry commit together."""
        values = {
            "at": now(),
            "actor": clean_text(actor),  # a failed login's name is whatever was typed, NUL included
            "action": clean_text(action),
            "case_id": case_id,
            "detail": detail,
        }
        conn.execute(audit_table.insert().values(values))

    def entries(
        self,
        limit: int = 100,
        offset: int = 0,
        *,
        actor: str | None = None,
        action: str | None = None,
        before_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Audit entries, newest first, optionally of one actor or one action, and older than the entry
        ``before_id`` (to read the whole log in pieces that later entries do not shift)."""
        a = audit_table.c
        stmt = select(audit_table).order_by(a.id.desc()).limit(limit).offset(offset)
        if before_id is not None:
            stmt = stmt.where(a.id < before_id)
        if actor:
            stmt = stmt.where(a.actor == clean_text(actor))
        if action:
            stmt = stmt.where(a.action == clean_text(action))
        with self.engine.connect() as conn:
            return [public(r) for r in conn.execute(stmt).mappings()]

    def count(
        self, *, actor: str | None = None, action: str | None = None, since: datetime | None = None
    ) -> int:
        """How many entries match: the login rate limit counts failed logins this way."""
        a = audit_table.c
        stmt = select(func.count()).select_from(audit_table)
        if actor:
            stmt = stmt.where(a.actor == clean_text(actor))
        if action:
            stmt = stmt.where(a.action == clean_text(action))
        if since is not None:
            stmt = stmt.where(a.at >= since)
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar_one()
