"""Claims: a case an expert opened through "next" is theirs for a while, so that two experts pressing
"next" at once get different cases (``queue/claims.py``).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("case_id", ID, sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("expert", sa.String(255), nullable=False),
        sa.Column("claimed_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
    )
    op.create_index("ix_claims_expert", "claims", ["expert"])


def downgrade() -> None:
    op.drop_index("ix_claims_expert", table_name="claims")
    op.drop_table("claims")
