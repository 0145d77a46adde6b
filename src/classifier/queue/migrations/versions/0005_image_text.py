"""Text in images: the case keeps what OCR read in the page's images (issue 20), for the case page and
the training export.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("images", sa.JSON(none_as_null=True)))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("images")
