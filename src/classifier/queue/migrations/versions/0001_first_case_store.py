"""The first case store, as the scoring command created it: runs, cases, score history, decisions, audit log.

Stores made before the migrations existed are marked as this revision when first upgraded (see
``migrate.py``). The types are spelled out here rather than imported from ``schema.py``: a revision
must keep creating what it created, whatever the tables become later.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite auto-increments INTEGER keys only
JSON = sa.JSON(none_as_null=True)
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    _runs()
    _cases()
    _scores()
    _decisions()
    _audit_log()


def downgrade() -> None:
    for table in ("audit_log", "decisions", "scores", "cases", "runs"):
        op.drop_table(table)


def _runs() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(200), primary_key=True),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("finished_at", TIME),
        sa.Column("model_name", sa.String(255), nullable=False),
        sa.Column("model_version", sa.String(255), nullable=False),
        sa.Column("inputs", JSON),
        sa.Column("summary", JSON),
    )


def _cases() -> None:
    op.create_table(
        "cases",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("case_key", sa.String(1024), nullable=False, unique=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("domain", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("excerpt", sa.Text, nullable=False),
        sa.Column("first_seen", TIME, nullable=False),
        sa.Column("last_seen", TIME, nullable=False),
        sa.Column("report_count", sa.Integer, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("label", sa.Integer),
        sa.Column("category", sa.String(32)),
        sa.Column("category_probability", sa.Float),
        sa.Column("priority", sa.Float),
        sa.Column("language", sa.String(32), nullable=False),
        sa.Column("evidence", JSON),
        sa.Column("contacts", JSON),
        sa.Column("cluster_id", sa.String(200), nullable=False),
        sa.Column("cluster_size", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("model_name", sa.String(255), nullable=False),
        sa.Column("model_version", sa.String(255), nullable=False),
        sa.Column("last_run_id", sa.String(200), nullable=False),
        sa.Column("last_status", sa.String(16), nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
    )
    op.create_index("ix_cases_cluster", "cases", ["cluster_id"])
    op.create_index("ix_cases_priority", "cases", ["priority"])
    op.create_index("ix_cases_status_priority", "cases", ["status", "priority"])


def _scores() -> None:
    op.create_table(
        "scores",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", ID, sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("run_id", sa.String(200), sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("model_name", sa.String(255), nullable=False),
        sa.Column("model_version", sa.String(255), nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("label", sa.Integer),
        sa.Column("category", sa.String(32)),
        sa.Column("category_probability", sa.Float),
        sa.Column("priority", sa.Float),
        sa.Column("rank", sa.Integer),
        sa.Column("cluster_id", sa.String(200), nullable=False),
        sa.Column("cluster_size", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("scored_at", TIME, nullable=False),
        sa.UniqueConstraint("run_id", "record_id", name="uq_scores_run_record"),
    )
    op.create_index("ix_scores_case_record", "scores", ["case_id", "record_id"])


def _decisions() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", ID, sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("expert", sa.String(255), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("decided_at", TIME, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("model_version", sa.String(255), nullable=False),
    )
    op.create_index("ix_decisions_case", "decisions", ["case_id"])


def _audit_log() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("case_id", ID),  # no foreign key: the audit trail outlives what it mentions
        sa.Column("detail", JSON),
    )
    op.create_index("ix_audit_case", "audit_log", ["case_id"])
