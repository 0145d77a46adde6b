"""The bank of shops: each case's identifiers and text band keys, its MinHash signature, its shop; and
the shop a decision was made for (``decisions.shop_id``: a case confirmed as a mirror of a confirmed
shop, or decided with the shop's other pages at once).

Cases stored before the bank each start as a shop of their own (``shop_id = id``), and their stored
contacts become identifiers, so that an old confirmed shop is recognised by its handles from the first
run after the upgrade; their text is matched once a run stores them again.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
IDENTIFIER_KINDS = ("telegram", "wallet", "onion")  # score.link_contacts by default
BATCH = 1000


def upgrade() -> None:
    op.add_column("cases", sa.Column("shop_id", ID))
    op.create_index("ix_cases_shop", "cases", ["shop_id", "status"])
    op.add_column("decisions", sa.Column("shop_id", ID))
    op.create_index("ix_decisions_shop", "decisions", ["shop_id"])
    op.create_table(
        "bank_keys",
        sa.Column("match_key", sa.String(200), primary_key=True),
        sa.Column("case_id", ID, sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_bank_keys_case", "bank_keys", ["case_id"])
    op.create_table(
        "bank_signatures",
        sa.Column("case_id", ID, sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("shingles", sa.Integer, nullable=False),
    )
    conn = op.get_bind()
    conn.execute(sa.text("UPDATE cases SET shop_id = id"))
    _identifiers_from_contacts(conn)


def _identifiers_from_contacts(conn: sa.Connection) -> None:
    """Old cases' stored contacts become their identifier keys (as ``text.contacts`` wrote them)."""
    keys = sa.table("bank_keys", sa.column("match_key"), sa.column("case_id"))
    rows = conn.execute(sa.text("SELECT id, contacts FROM cases WHERE contacts IS NOT NULL"))
    pending: list[dict[str, object]] = []
    for case_id, contacts in rows:
        found = json.loads(contacts) if isinstance(contacts, str) else contacts
        if not isinstance(found, dict):
            continue
        values = {
            _key(kind, str(value)) for kind in IDENTIFIER_KINDS for value in found.get(kind) or () if value
        }
        pending += [{"match_key": key, "case_id": case_id} for key in sorted(values)]
        if len(pending) >= BATCH:
            conn.execute(keys.insert(), pending)
            pending = []
    if pending:
        conn.execute(keys.insert(), pending)


def _key(kind: str, value: str) -> str:
    """As ``text.identifiers`` made keys when this revision was written (copied: a revision must not
    change when the code does): base58 wallets keep their case, everything else is lower-cased."""
    keep_case = kind == "wallet" and not value.lower().startswith(("bc1", "0x"))
    return f"c:{kind}:{value if keep_case else value.lower()}"[:200]


def downgrade() -> None:
    op.drop_table("bank_signatures")
    op.drop_table("bank_keys")
    op.drop_index("ix_decisions_shop", table_name="decisions")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("shop_id")
    op.drop_index("ix_cases_shop", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("shop_id")
