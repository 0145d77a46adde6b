"""Case stores as released versions before Alembic left them: their tables, exactly as that code created
them (``old_schemas/*.sql``, the statements its ``metadata.create_all`` ran), and rows in them.

- ``first_store``: the first release (runs, cases, score history, decisions, audit log);
- ``before_alembic``: the review app's schema (page text, decision versions, accounts), as the code
  before the migrations left any store it opened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine

OLD_SCHEMAS = ("first_store", "before_alembic")
SCHEMA_FILES = Path(__file__).with_name("old_schemas")
SCORED_AT = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
DECIDED_AT = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)


def create_old_store(url: str, schema: str) -> None:
    """The tables of ``schema`` in the empty database at ``url``, with the rows of :func:`old_rows`."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements(SCHEMA_FILES / f"{schema}.{engine.dialect.name}.sql"):
                conn.exec_driver_sql(statement)
            tables = MetaData()
            tables.reflect(conn)
            for name, rows in old_rows(schema).items():
                conn.execute(tables.tables[name].insert(), rows)
    finally:
        engine.dispose()


def statements(path: Path) -> list[str]:
    """The SQL statements of a schema file, without its comments."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def old_rows(schema: str) -> dict[str, list[dict[str, Any]]]:
    """A run, an ad with two reports and a decision, a failed page, an audit entry; and, in the review
    app's schema, page text, a decision version, the run's threshold and an expert's account.

    The database numbers the rows, as it did for the old code (a PostgreSQL sequence would not know of
    ids given here): in an empty store, the ad is case 1 and the failed page case 2.
    """
    review_app = schema == "before_alembic"
    case = {
        "url": "https://shop.kz/ad",
        "domain": "shop.kz",
        "title": "Закладки",
        "excerpt": "Закладки по городу",
        "first_seen": SCORED_AT,
        "last_seen": SCORED_AT,
        "report_count": 2,
        "score": 0.9,
        "label": 1,
        "category": "sale",
        "category_probability": 0.8,
        "priority": 0.95,
        "language": "ru",
        "evidence": [{"term": "закладки", "weight": 1.5, "sentence": "Закладки по городу"}],
        "contacts": {"telegram": ["@shop"]},
        "cluster_id": "k1",
        "cluster_size": 1,
        "model_name": "drug-ad-classifier",
        "model_version": "3",
        "last_run_id": "run-1",
        "last_status": "ok",
        "last_error": "",
    }
    cases = [
        {**case, "case_key": "https://shop.kz/ad", "status": "confirmed"},
        {
            **case,
            "case_key": "https://down.kz/",
            "url": "https://down.kz/",
            "domain": "down.kz",
            "report_count": 1,
            **dict.fromkeys(("score", "label", "category", "category_probability", "priority")),
            "status": "new",
            "last_status": "error",
            "last_error": "extraction failed: empty page",
        },
    ]
    score = {
        "run_id": "run-1",
        "model_name": "drug-ad-classifier",
        "model_version": "3",
        "score": 0.9,
        "label": 1,
        "category": "sale",
        "cluster_id": "k1",
        "cluster_size": 1,
        "status": "ok",
        "error": "",
        "scored_at": SCORED_AT,
    }
    scores = [
        {**score, "case_id": 1, "record_id": "r1", "rank": 1},
        {**score, "case_id": 1, "record_id": "r2", "rank": 2, "score": 0.85},
        {**score, "case_id": 2, "record_id": "r3", "rank": 3, "score": None, "status": "error"},
    ]
    run = {
        "run_id": "run-1",
        "started_at": SCORED_AT,
        "model_name": "drug-ad-classifier",
        "model_version": "3",
    }
    run |= {"inputs": {"paths": ["crawl.warc.gz"]}, "summary": {"rows": 3}, "finished_at": SCORED_AT}
    decision = {"case_id": 1, "decision": "confirmed", "expert": "boris", "comment": "магазин"}
    decision |= {"decided_at": DECIDED_AT, "score": 0.9, "model_version": "3"}
    audit = {"at": DECIDED_AT, "actor": "boris", "action": "decision", "case_id": 1}
    audit |= {"detail": {"decision": "confirmed", "status": "confirmed"}}
    rows = {"runs": [run], "cases": cases, "scores": scores, "decisions": [decision], "audit_log": [audit]}
    if review_app:
        run["threshold"] = 0.6
        cases[0] |= {"text": "Закладки по городу, пиши @shop", "version": 1}
        cases[1] |= {"text": None, "version": 0}
        decision["category"] = "sale"
        rows["users"] = [
            {
                "username": "boris",
                "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
                "role": "expert",
                "active": True,
                "created_at": SCORED_AT,
                "created_by": "cli",
            }
        ]
        rows["sessions"] = [
            {
                "token_hash": "0" * 64,
                "user_id": 1,
                "csrf_token": "c" * 43,
                "created_at": DECIDED_AT,
                "expires_at": datetime(2999, 1, 1, tzinfo=UTC),
            }
        ]
    return rows
