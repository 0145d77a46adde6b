"""The case store's tables as the code reads and writes them, and the values of its status columns.

Portable types only, so that the same schema runs on SQLite and PostgreSQL. A change here needs a
migration in ``migrations/versions`` too: that is what brings existing stores to this schema
(``tests/queue/test_migrations.py`` checks that the two agree).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from classifier.queue.keys import MAX_KEY_BYTES

DECISIONS = ("confirmed", "rejected", "unsure")
NEW = "new"  # the status of a case until an expert decides
# One confirmation of several required (``review.confirmations_required``): not yet to be blocked.
PENDING = "pending"
STATUSES = (NEW, PENDING, *DECISIONS)
ROLES = ("expert", "admin")
CATEGORIES = ("sale", "recruitment", "propaganda")  # what an expert can name a confirmed violation

# Primary keys: 64-bit on PostgreSQL (scores grow by one row per record and run), and SQLite's
# INTEGER PRIMARY KEY (the rowid alias, the only type SQLite auto-increments).
_ID = BigInteger().with_variant(Integer(), "sqlite")
_JSON = JSON(none_as_null=True)  # None is SQL NULL, not the JSON text 'null'
_TIME = DateTime(timezone=True)

metadata = MetaData()

runs_table = Table(
    "runs",
    metadata,
    Column("run_id", String(200), primary_key=True),
    Column("started_at", _TIME, nullable=False),
    Column("finished_at", _TIME),
    Column("model_name", String(255), nullable=False, default=""),
    Column("model_version", String(255), nullable=False, default=""),
    Column("inputs", _JSON),
    Column("summary", _JSON),
    # The model's operating threshold: the "uncertain" view lists the scores nearest to it.
    Column("threshold", Float),
)

cases_table = Table(
    "cases",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("case_key", String(MAX_KEY_BYTES + 24), nullable=False, unique=True),
    Column("url", Text, nullable=False, default=""),
    Column("domain", Text, nullable=False, default=""),
    Column("title", Text, nullable=False, default=""),
    Column("excerpt", Text, nullable=False, default=""),
    Column("first_seen", _TIME, nullable=False),
    Column("last_seen", _TIME, nullable=False),
    Column("report_count", Integer, nullable=False, default=0),
    Column("score", Float),
    Column("label", Integer),
    Column("category", String(32)),
    Column("category_probability", Float),
    Column("priority", Float),
    Column("language", String(32), nullable=False, default=""),
    Column("evidence", _JSON),
    Column("contacts", _JSON),
    Column("cluster_id", String(200), nullable=False, default=""),
    Column("cluster_size", Integer, nullable=False, default=1),
    Column("status", String(16), nullable=False, default=NEW),
    Column("model_name", String(255), nullable=False, default=""),
    Column("model_version", String(255), nullable=False, default=""),
    Column("last_run_id", String(200), nullable=False, default=""),
    Column("last_status", String(16), nullable=False, default="ok"),
    Column("last_error", Text, nullable=False, default=""),
    # The extracted text the model read (up to TEXT_CHARS): the case page and the training export use it.
    Column("text", Text),
    # The page's images as extraction read them (extract/image_text.py): number, URL, text or reason.
    Column("images", _JSON),
    # Bumped by every decision: a decision made on an outdated page is refused, never lost silently.
    Column("version", Integer, nullable=False, default=0, server_default=text("0")),
    # The shop (bank.py): named after its earliest case; NULL only in stores older than the bank.
    Column("shop_id", _ID),
    # A shop's cases, and its status from their statuses (bank.shop_status) from the index alone.
    Index("ix_cases_shop", "shop_id", "status"),
    # The review queue: "new cases, most urgent first", and the cluster page.
    Index("ix_cases_status_priority", "status", "priority"),
    Index("ix_cases_priority", "priority"),
    Index("ix_cases_cluster", "cluster_id"),
)

scores_table = Table(
    "scores",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("case_id", _ID, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("run_id", String(200), ForeignKey("runs.run_id"), nullable=False),
    Column("model_name", String(255), nullable=False, default=""),
    Column("model_version", String(255), nullable=False, default=""),
    Column("score", Float),
    Column("label", Integer),
    Column("category", String(32)),
    Column("category_probability", Float),
    Column("priority", Float),
    Column("rank", Integer),
    Column("cluster_id", String(200), nullable=False, default=""),
    Column("cluster_size", Integer, nullable=False, default=1),
    Column("status", String(16), nullable=False, default="ok"),
    Column("error", Text, nullable=False, default=""),
    Column("scored_at", _TIME, nullable=False),
    # A resumed run re-sends rows it may already have stored: this makes add_scored idempotent.
    UniqueConstraint("run_id", "record_id", name="uq_scores_run_record"),
    # A case's history, and COUNT(DISTINCT record_id) for report_count from the index alone.
    Index("ix_scores_case_record", "case_id", "record_id"),
)

# The bank of shops (bank.py): what each case is known by, for matching later runs' records.
bank_keys_table = Table(
    "bank_keys",
    metadata,
    # "c:telegram:@x_example" (an identifier) or "b3:…" (an LSH band of the text's MinHash signature)
    Column("match_key", String(200), primary_key=True),
    Column("case_id", _ID, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_bank_keys_case", "case_id"),
)

bank_signatures_table = Table(
    "bank_signatures",
    metadata,
    Column("case_id", _ID, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("signature", LargeBinary, nullable=False),  # uint32 MinHash values
    Column("shingles", Integer, nullable=False, default=0),  # how many shingles it summarises
)

decisions_table = Table(
    "decisions",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("case_id", _ID, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("expert", String(255), nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("decided_at", _TIME, nullable=False),
    # What the model said when the expert decided: a decision is a labelled example for retraining.
    Column("score", Float),
    Column("model_version", String(255), nullable=False, default=""),
    # The category the expert named (a confirmed violation), or the model's when they named none.
    Column("category", String(32)),
    # The shop the expert decided the case as a part of: confirmed as a mirror of a confirmed shop, or
    # decided with the shop's other undecided pages on its page. NULL: a decision on the case alone.
    Column("shop_id", _ID),
    Index("ix_decisions_case", "case_id"),
    Index("ix_decisions_shop", "shop_id"),
    Index("ix_decisions_time", "decided_at"),
)

audit_table = Table(
    "audit_log",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("at", _TIME, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(64), nullable=False),
    # No foreign key: the audit trail must outlive whatever it mentions.
    Column("case_id", _ID),
    Column("detail", _JSON),
    Index("ix_audit_case", "case_id"),
    Index("ix_audit_actor_action_time", "actor", "action", "at"),  # the login rate limit
)

users_table = Table(
    "users",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),  # argon2id, with its own salt and parameters
    Column("role", String(16), nullable=False, default="expert"),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", _TIME, nullable=False),
    Column("created_by", String(255), nullable=False, default=""),
)

sessions_table = Table(
    "sessions",
    metadata,
    # Only a hash of the cookie's token is stored: a copy of the database opens no session.
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", _ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", _TIME, nullable=False),
    Column("expires_at", _TIME, nullable=False),
    Index("ix_sessions_user", "user_id"),
)

claims_table = Table(
    "claims",
    metadata,
    # A case an expert opened through "next": the others' "next" passes it by until ``expires_at``.
    Column("case_id", _ID, ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("expert", String(255), nullable=False),
    Column("claimed_at", _TIME, nullable=False),
    Column("expires_at", _TIME, nullable=False),
    Index("ix_claims_expert", "expert"),
)
