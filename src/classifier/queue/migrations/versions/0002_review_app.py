"""The review app: page text, decision versions, the expert's category, the run's threshold, accounts.

Stores made before the migrations existed are marked as revision 0001, but the code of that time
added what was missing whenever it opened one, so such a store may already have any part of this
revision, or all of it (SQLite commits each ALTER on its own, so even an interrupted upgrade left
part of it). Each step therefore runs only when its table, column or index is missing; a store that
Alembic created or upgraded never has any of it.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def _new_columns() -> list[tuple[str, sa.Column[Any]]]:
    """A function, not a constant: a Column belongs to the first table it is added to."""
    return [
        ("runs", sa.Column("threshold", sa.Float)),  # the model's operating threshold
        ("cases", sa.Column("text", sa.Text)),  # the extracted text the model read
        # bumped by every decision: a decision made on an outdated page is refused
        ("cases", sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("0"))),
        ("decisions", sa.Column("category", sa.String(32))),  # the category the expert named
    ]


NEW_INDEXES = (
    ("ix_decisions_time", "decisions", ["decided_at"]),
    ("ix_audit_actor_action_time", "audit_log", ["actor", "action", "at"]),  # the login rate limit
    ("ix_sessions_user", "sessions", ["user_id"]),
)


def upgrade() -> None:
    found = sa.inspect(op.get_bind())
    tables = set(found.get_table_names())  # before this revision
    if "users" not in tables:
        op.create_table(
            "users",
            sa.Column("id", ID, primary_key=True, autoincrement=True),
            sa.Column("username", sa.String(64), nullable=False, unique=True),
            sa.Column("password_hash", sa.String(255), nullable=False),
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("active", sa.Boolean, nullable=False),
            sa.Column("created_at", TIME, nullable=False),
            sa.Column("created_by", sa.String(255), nullable=False),
        )
    if "sessions" not in tables:
        op.create_table(
            "sessions",
            sa.Column("token_hash", sa.String(64), primary_key=True),
            sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
            sa.Column("csrf_token", sa.String(64), nullable=False),
            sa.Column("created_at", TIME, nullable=False),
            sa.Column("expires_at", TIME, nullable=False),
        )
    for table, column in _new_columns():
        if column.name not in _names(found.get_columns(table)):
            op.add_column(table, column)
    for name, table, columns in NEW_INDEXES:  # after the columns: an index may cover a new one
        if table not in tables or name not in _names(found.get_indexes(table)):
            op.create_index(name, table, columns)


def downgrade() -> None:
    op.drop_table("sessions")  # and its index
    op.drop_table("users")
    for name, table, _columns in NEW_INDEXES[:2]:
        op.drop_index(name, table_name=table)
    by_table: dict[str, list[str]] = {}
    for table, column in _new_columns():
        by_table.setdefault(table, []).append(column.name)
    for table, names in by_table.items():
        # SQLite drops a column by copying the table: batch mode does that, once per table
        with op.batch_alter_table(table) as batch:
            for name in names:
                batch.drop_column(name)


def _names(items: Iterable[Any]) -> set[str]:
    return {item["name"] for item in items}
