"""The case store against real databases: every test of its behaviour runs on an SQLite file and on a
PostgreSQL server (``tests/databases.py``: skipped locally without one, required in CI).

The few SQLite-only tests say so; concurrent writers are in ``test_concurrency.py``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from classifier import queue
from classifier.queue import CaseStore, StaleCaseError, case_key, write_export
from classifier.queue.views import QueueFilter, dashboard, facets, find_cases
from databases import backend_params, copy_database, fresh_database


def scored(
    record_id: str,
    url: str = "",
    *,
    run_id: str = "run-1",
    score: float | None = 0.9,
    priority: float = 0.9,
    status: str = "ok",
    scored_at: str = "2024-05-01T10:00:00+00:00",
    cluster_id: str = "",
    **overrides: Any,
) -> dict[str, Any]:
    """A scored row with every field of the scoring contract (score/rows.py SCORED_FIELDS)."""
    error = status == "error"
    row = {
        "rank": 1,
        "id": record_id,
        "url": url,
        "domain": url.split("/")[2] if url.count("/") >= 2 else "",
        "title": f"title {record_id}",
        "excerpt": f"excerpt {record_id}",
        "score": None if error else score,
        "label": None if error else int((score or 0) >= 0.5),
        "category": None if error else "sale",
        "category_probability": None if error else 0.8,
        "priority": 0.0 if error else priority,
        "language": "ru",
        "evidence": [] if error else [{"term": "закладки", "weight": 1.5, "sentence": "Закладки по городу"}],
        "contacts": {
            "telegram": ["@shop"],
            "phone": [],
            "whatsapp": [],
            "email": [],
            "onion": [],
            "wallet": [],
            "card": [],
        },
        "cluster_id": cluster_id or f"c-{record_id}",
        "cluster_size": 1,
        "source_kind": "warc",
        "source": "crawl.warc.gz:0",
        "fetched_at": "2024-04-30T08:00:00+00:00",
        "model_name": "drug-ad-classifier",
        "model_version": "3",
        "run_id": run_id,
        "scored_at": scored_at,
        "status": status,
        "error": "extraction failed: empty page" if error else "",
    }
    row.update(overrides)
    return row


def utc_now() -> datetime:
    return datetime.now(UTC)


def test_scored_helper_has_every_contract_field() -> None:
    from classifier.score.rows import SCORED_FIELDS

    assert set(scored("r")) == set(SCORED_FIELDS)


@pytest.fixture(scope="session", params=backend_params())
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def empty_store(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Per backend, the tables as a new store creates them: each test gets a copy (cheaper than creating
    them again on PostgreSQL)."""
    with fresh_database(backend, tmp_path_factory.mktemp("queue-template")) as url:
        CaseStore(url).close()
        yield url


@pytest.fixture()
def db_url(empty_store: str, tmp_path: Path) -> Iterator[str]:
    with copy_database(empty_store, tmp_path) as url:
        yield url


@pytest.fixture()
def store(db_url: str) -> Iterator[CaseStore]:
    with CaseStore(db_url) as store:  # closed before the database is dropped
        yield store


# --- case keys ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "key"),
    [
        (
            "HTTPS://WWW.Example.COM:443/Path/?utm_source=tg&q=1&UTM_Medium=x#top",
            "https://example.com/Path?q=1",
        ),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com/", "http://example.com/"),
        ("http://example.com:8080/a/", "http://example.com:8080/a"),
        ("https://example.com/a?b=2&a=1&fbclid=X", "https://example.com/a?b=2&a=1"),
        ("https://user:secret@shop.kz/x", "https://shop.kz/x"),
        ("https://t.me/s/DrugShop", "https://t.me/drugshop"),
        ("https://T.me/drugshop/", "https://t.me/drugshop"),
        ("t.me/DRUGSHOP?before=120", "https://t.me/drugshop"),
        ("https://telegram.me/s/DrugShop/15", "https://t.me/drugshop/15"),
        ("https://t.me/+AbCdEf123", "https://t.me/+AbCdEf123"),  # invite hashes are case-sensitive
        ("", "record:rec-1"),
        ("   ", "record:rec-1"),
    ],
)
def test_case_key_canonicalises_urls(url: str, key: str) -> None:
    assert case_key(url, "rec-1") == key


def test_case_key_keeps_very_long_urls_indexable() -> None:
    long_a = "https://example.com/" + "я" * 2000
    key = case_key(long_a, "r")
    assert len(key.encode()) <= queue.MAX_KEY_BYTES + 100
    assert key != case_key(long_a + "b", "r")
    assert key == case_key(long_a + "/", "r")


# --- writing ------------------------------------------------------------------------------------------


def test_round_trip_creates_cases_scores_and_runs(store: CaseStore) -> None:
    """The core round trip: run, rows, cases, history, decision, export."""
    store.start_run("run-1", model_name="drug-ad-classifier", model_version="3", inputs={"paths": ["a.warc"]})
    rows = [
        scored("r1", "https://shop.kz/a", priority=0.5, cluster_id="k1"),
        scored("r2", "https://mirror.kz/a", priority=0.7, cluster_id="k1"),
        scored("r3", "", priority=0.9, title="NUL\x00 in a crawled title"),  # PostgreSQL rejects NUL in text
        scored("r4", "https://broken.kz/", status="error"),
    ]
    assert store.add_scored(rows) == 4
    store.finish_run("run-1", {"rows": 4, "errors": 1})

    cases = store.cases()
    assert [c["url"] for c in cases] == ["", "https://mirror.kz/a", "https://shop.kz/a", "https://broken.kz/"]
    assert cases[0]["case_key"] == "record:r3" and cases[0]["title"] == "NUL in a crawled title"
    assert cases[1]["evidence"][0]["term"] == "закладки"
    assert cases[1]["contacts"]["telegram"] == ["@shop"]
    assert all(c["status"] == "new" and c["report_count"] == 1 for c in cases)
    assert cases[1]["first_seen"] == "2024-05-01T10:00:00+00:00"

    (run,) = store.runs()
    assert run["inputs"] == {"paths": ["a.warc"]} and run["summary"] == {"rows": 4, "errors": 1}
    assert run["finished_at"] is not None

    case = store.case(cases[1]["id"])
    assert case is not None and [s["record_id"] for s in case["scores"]] == ["r2"]
    assert case["scores"][0]["scored_at"] == "2024-05-01T10:00:00+00:00"
    store.record_decision(case["id"], "confirmed", "expert-1", "сайт продаёт")
    assert store.counts() == {"new": 3, "confirmed": 1, "rejected": 0, "unsure": 0, "pending": 0}
    (exported,) = store.export_cases()
    assert exported["urls"] == ["https://mirror.kz/a", "https://shop.kz/a"]
    assert [c["url"] for c in store.cluster("k1")] == ["https://mirror.kz/a", "https://shop.kz/a"]
    # Idempotent on this database too.
    assert store.add_scored(rows) == 0
    assert len(store.cases()) == 4


def test_start_run_is_idempotent(store: CaseStore) -> None:
    store.start_run("run-1", model_name="m", model_version="1", inputs={}, started_at="2024-05-01T10:00:00Z")
    store.start_run("run-1", model_name="m", model_version="1", inputs={}, started_at="2024-05-02T10:00:00Z")
    (run,) = store.runs()
    assert run["started_at"] == "2024-05-01T10:00:00+00:00"  # a resumed run keeps its start


def test_rows_of_an_unregistered_run_still_store(store: CaseStore) -> None:
    assert store.add_scored([scored("r1", "https://a.kz/", run_id="orphan")]) == 1
    assert [r["run_id"] for r in store.runs()] == ["orphan"]


def test_rereporting_updates_the_case_and_keeps_history_first_seen_and_decision(store: CaseStore) -> None:
    store.add_scored([scored("r1", "https://shop.kz/a", score=0.6, priority=0.6)])
    (case,) = store.cases()
    store.record_decision(case["id"], "confirmed", "expert-1")

    later = scored(
        "r2",
        "https://www.shop.kz/a/?utm_source=vk",
        run_id="run-2",
        score=0.95,
        priority=0.97,
        scored_at="2024-06-01T10:00:00+00:00",
        category="recruitment",
        cluster_id="k9",
    )
    assert store.add_scored([later]) == 1

    (case,) = store.cases()
    assert case["score"] == 0.95 and case["priority"] == 0.97 and case["category"] == "recruitment"
    assert case["url"] == "https://www.shop.kz/a/?utm_source=vk" and case["cluster_id"] == "k9"
    assert case["first_seen"] == "2024-05-01T10:00:00+00:00"
    assert case["last_seen"] == "2024-06-01T10:00:00+00:00"
    assert case["report_count"] == 2 and case["last_run_id"] == "run-2"
    assert case["status"] == "confirmed"
    detail = store.case(case["id"])
    assert detail is not None
    assert [(s["run_id"], s["score"]) for s in detail["scores"]] == [("run-1", 0.6), ("run-2", 0.95)]
    assert [d["decision"] for d in detail["decisions"]] == ["confirmed"]


def test_report_count_counts_distinct_records_not_runs(store: CaseStore) -> None:
    url = "https://shop.kz/a"
    store.add_scored([scored("r1", url, run_id="run-1")])
    store.add_scored([scored("r1", url, run_id="run-2", scored_at="2024-05-02T10:00:00+00:00")])
    (case,) = store.cases()
    assert case["report_count"] == 1  # the same record re-scored by a new run
    detail = store.case(case["id"])
    assert detail is not None and len(detail["scores"]) == 2


def test_add_scored_is_idempotent(store: CaseStore) -> None:
    rows = [scored(f"r{i}", f"https://site{i % 3}.kz/p{i}") for i in range(10)]
    assert store.add_scored(rows) == 10
    before = (store.cases(), store.counts())
    assert store.add_scored(rows) == 0
    assert store.add_scored([*rows[5:], scored("r99", "https://new.kz/")]) == 1  # a resumed run
    cases = store.cases(limit=1000)
    assert len(cases) == 11
    assert [c for c in cases if c["url"] != "https://new.kz/"] == before[0]
    total_scores = sum(len(store.case(c["id"])["scores"]) for c in cases)  # type: ignore[index]
    assert total_scores == 11


def test_error_rows_get_a_case_and_a_score_row(store: CaseStore) -> None:
    store.add_scored([scored("r1", "https://down.kz/", status="error")])
    (case,) = store.cases()
    assert case["score"] is None and case["last_status"] == "error"
    assert case["last_error"] == "extraction failed: empty page"
    detail = store.case(case["id"])
    assert detail is not None
    assert [(s["status"], s["score"]) for s in detail["scores"]] == [("error", None)]


def test_an_error_report_does_not_erase_a_known_score(store: CaseStore) -> None:
    store.add_scored([scored("r1", "https://shop.kz/", score=0.9, priority=0.9)])
    store.add_scored(
        [scored("r2", "https://shop.kz/", status="error", run_id="run-2", scored_at="2024-06-01T00:00:00Z")]
    )
    (case,) = store.cases()
    assert case["score"] == 0.9 and case["priority"] == 0.9
    assert case["last_status"] == "error" and case["last_run_id"] == "run-2"
    assert case["last_seen"] == "2024-06-01T00:00:00+00:00" and case["report_count"] == 2


def test_an_older_run_resumed_later_does_not_override_newer_values(store: CaseStore) -> None:
    store.add_scored(
        [scored("r2", "https://shop.kz/", run_id="new", score=0.8, scored_at="2024-06-01T00:00:00Z")]
    )
    store.add_scored(
        [scored("r1", "https://shop.kz/", run_id="old", score=0.3, scored_at="2024-05-01T00:00:00Z")]
    )
    (case,) = store.cases()
    assert case["score"] == 0.8 and case["last_run_id"] == "new"
    assert case["first_seen"] == "2024-05-01T00:00:00+00:00" and case["report_count"] == 2


def test_two_rows_of_one_case_in_one_batch(store: CaseStore) -> None:
    rows = [
        scored("r1", "https://t.me/s/DrugShop", score=0.7, scored_at="2024-05-01T10:00:00Z"),
        scored("r2", "https://t.me/drugshop", score=0.9, scored_at="2024-05-01T11:00:00Z"),
        scored("r1", "https://t.me/s/DrugShop", score=0.7),  # the same record twice: stored once
    ]
    assert store.add_scored(rows) == 2
    (case,) = store.cases()
    assert case["case_key"] == "https://t.me/drugshop"
    assert case["score"] == 0.9 and case["report_count"] == 2
    assert case["first_seen"] == "2024-05-01T10:00:00+00:00"
    # And an existing case reported twice in a later batch.
    later = [
        scored("r3", "https://t.me/DrugShop", run_id="run-2", score=0.2, scored_at="2024-06-01T10:00:00Z"),
        scored("r4", "https://t.me/drugshop/", run_id="run-2", score=0.4, scored_at="2024-06-01T09:00:00Z"),
    ]
    assert store.add_scored(later) == 2
    (case,) = store.cases()
    assert case["score"] == 0.2 and case["report_count"] == 4


def test_of_two_reports_in_one_run_the_first_in_queue_order_wins(store: CaseStore) -> None:
    # a run hands its rows over in queue order: the first report of a resource is its strongest
    rows = [scored("r1", "https://shop.kz/", score=0.8), scored("r2", "https://shop.kz/", score=0.4)]
    store.add_scored(rows)
    store.add_scored(
        [scored("r3", "https://shop.kz/", score=0.3), scored("r4", "https://shop.kz/", score=0.2)]
    )
    (case,) = store.cases()
    assert case["score"] == 0.8 and case["report_count"] == 4


def test_rows_without_id_or_run_are_rejected(store: CaseStore) -> None:
    with pytest.raises(ValueError, match="id and a run_id"):
        store.add_scored([scored("", "https://a.kz/")])


# --- what differs between the databases ----------------------------------------------------------------


def test_nul_characters_anywhere_in_a_row_do_not_fail_the_batch(store: CaseStore) -> None:
    """Crawled pages carry NUL characters, which PostgreSQL refuses in text: they are dropped from text
    columns (JSON keeps them escaped as \\u0000, which PostgreSQL's json type accepts)."""
    nul = scored(
        "r\x001",
        "https://shop.kz/a\x00b",
        run_id="run\x00-1",
        title="ti\x00tle",
        excerpt="ex\x00cerpt",
        text="Закладки\x00 по городу",
        domain="shop\x00.kz",
        language="r\x00u",
        category="sa\x00le",
        cluster_id="k\x001",
        model_name="m\x00",
        model_version="3\x00",
        evidence=[{"term": "закладки", "weight": 1.0, "sentence": "a\x00b"}],
        contacts={"telegram": ["@a\x00b"]},
    )
    error = scored("r2", "https://down.kz/", status="error", error="fetch \x00failed")
    assert store.add_scored([nul, error]) == 2
    case = store.case(store.cases()[0]["id"])
    assert case is not None
    assert (case["url"], case["title"], case["excerpt"], case["domain"]) == (
        "https://shop.kz/ab",
        "title",
        "excerpt",
        "shop.kz",
    )
    assert (case["text"], case["language"], case["category"]) == ("Закладки по городу", "ru", "sale")
    assert (case["cluster_id"], case["model_version"]) == ("k1", "3")
    assert case["evidence"][0]["sentence"] == "a\x00b" and case["contacts"]["telegram"] == ["@a\x00b"]
    assert [(s["record_id"], s["run_id"], s["category"]) for s in case["scores"]] == [("r1", "run-1", "sale")]
    assert store.cases()[1]["last_error"] == "fetch failed"
    store.record_decision(case["id"], "confirmed", "expert-1", "ко\x00мментарий")
    assert store.case(case["id"])["decisions"][0]["comment"] == "комментарий"  # type: ignore[index]


def test_nul_characters_in_filters_and_names_match_what_was_stored(store: CaseStore) -> None:
    from classifier.queue.accounts import Accounts

    store.add_scored([scored("r1", "https://shop.kz/", title="Магазин")])
    found = find_cases(store, QueueFilter(search="маг\x00азин", language="r\x00u", category="sa\x00le"))
    assert [row["url"] for row in found.rows] == ["https://shop.kz/"] and found.total == 1
    store.log_audit("ex\x00pert", "vi\x00ew", detail={"note": "a\x00b"})
    assert [e["actor"] for e in store.audit_log(actor="ex\x00pert", action="vi\x00ew")] == ["expert"]
    assert store.count_audit(actor="ex\x00pert") == 1
    accounts = Accounts(store)
    assert accounts.authenticate("bo\x00ris", "any-password-1") is None  # a failed login, not an error
    assert store.audit_log(action="login_failed")[0]["actor"] == "boris"


def test_search_ignores_case_in_cyrillic_and_kazakh_and_takes_wildcards_literally(store: CaseStore) -> None:
    # SQLite's lower() knows A-Z only (the store gives it Python's); PostgreSQL's follows the locale
    store.add_scored(
        [
            scored("r1", "https://a.kz/", title="Жұмыс бар: 100% курьер_ам", excerpt=""),
            scored("r2", "https://b.kz/", title="Жумыс и 100 курьерам", excerpt=""),
        ]
    )

    def found(query: str) -> list[str]:
        return [row["url"] for row in find_cases(store, QueueFilter(search=query)).rows]

    assert found("ЖҰМЫС") == ["https://a.kz/"] and found("жумыс") == ["https://b.kz/"]
    assert found("КУРЬЕР") == ["https://a.kz/", "https://b.kz/"]
    assert found("0%") == found("р_а") == found("_") == ["https://a.kz/"]
    assert found("\\") == found("0%%") == []


def test_times_with_any_offset_are_compared_and_returned_in_utc(store: CaseStore) -> None:
    # wall-clock order differs from the real order: 12:00+05:00 is 07:00Z, 10:30+03:00 is 07:30Z
    store.start_run("run-1", model_name="m", model_version="1", started_at="2024-05-01T12:00:00+05:00")
    store.add_scored([scored("r1", "https://shop.kz/", score=0.3, scored_at="2024-05-01T12:00:00+05:00")])
    store.add_scored(
        [scored("r2", "https://shop.kz/", run_id="run-2", score=0.8, scored_at="2024-05-01T08:00:00")]
    )  # no offset: UTC
    store.add_scored(
        [scored("r3", "https://shop.kz/", run_id="run-3", score=0.1, scored_at="2024-05-01T10:30:00+03:00")]
    )
    (case,) = store.cases()
    assert (case["score"], case["last_run_id"]) == (0.8, "run-2")  # the newest report, in real time
    assert case["first_seen"] == "2024-05-01T07:00:00+00:00"
    assert case["last_seen"] == "2024-05-01T08:00:00+00:00"
    history = store.case(case["id"])["scores"]  # type: ignore[index]
    assert [(s["record_id"], s["scored_at"]) for s in history] == [
        ("r1", "2024-05-01T07:00:00+00:00"),
        ("r3", "2024-05-01T07:30:00+00:00"),
        ("r2", "2024-05-01T08:00:00+00:00"),
    ]
    assert store.runs()[-1]["started_at"] == "2024-05-01T07:00:00+00:00"
    decided = store.record_decision(case["id"], "unsure", "expert-1")
    assert decided["decided_at"].endswith("+00:00")
    assert store.count_audit(since=utc_now() - timedelta(minutes=5)) == 1
    assert store.count_audit(since=utc_now() + timedelta(minutes=5)) == 0


def test_url_paths_keep_their_case_and_hosts_do_not(store: CaseStore) -> None:
    store.add_scored(
        [
            scored("r1", "https://Shop.kz/Path"),
            scored("r2", "https://shop.kz/path"),
            scored("r3", "https://SHOP.KZ/Path"),
        ]
    )
    by_key = {c["case_key"]: c["report_count"] for c in store.cases()}
    assert by_key == {"https://shop.kz/Path": 2, "https://shop.kz/path": 1}


def test_ties_are_ordered_the_same_way_on_every_database(store: CaseStore) -> None:
    categories = {
        "t3": None,
        "t1": "sale",
        "t2": None,
        "t4": "recruitment",
        "t5": "sale",
        "t6": "recruitment",
    }
    store.add_scored(
        [
            scored(record, f"https://{record}.kz/", score=0.5, priority=0.5, category=category)
            for record, category in categories.items()
        ]
        + [scored("late", "https://late.kz/", score=0.9, priority=None, language="kk")]
    )
    cases = store.cases()
    ties = [c["id"] for c in cases[:6]]
    assert ties == sorted(ties)  # equal priority and score: the oldest case first
    assert cases[-1]["url"] == "https://late.kz/"  # no priority: after every case with one
    assert facets(store) == {"languages": ["kk", "ru"], "categories": ["recruitment", "sale"]}
    # the backlog by category: most cases first, equal counts by name, uncategorised last (SQLite sorts
    # NULL first, PostgreSQL last, unless told)
    backlog = [(row["category"], row["n"]) for row in dashboard(store)["backlog"]]
    assert backlog == [("sale", 3), ("recruitment", 2), (None, 2)]


# --- reading ------------------------------------------------------------------------------------------


def test_cases_are_ordered_by_priority_with_errors_last(store: CaseStore) -> None:
    store.add_scored(
        [
            scored("err", "https://err.kz/", status="error"),
            scored("low", "https://low.kz/", score=0.3, priority=0.1),
            scored("high", "https://high.kz/", score=0.9, priority=0.95),
            scored("mid", "https://mid.kz/", score=0.6, priority=0.5),
            scored("none", "https://none.kz/", score=0.6, priority=None),
        ]
    )
    order = [c["title"] for c in store.cases()]
    assert order == ["title high", "title mid", "title low", "title none", "title err"]
    assert [c["title"] for c in store.cases(limit=2, offset=1)] == ["title mid", "title low"]
    high = store.cases()[0]["id"]
    store.record_decision(high, "rejected", "expert-1")
    assert [c["title"] for c in store.cases(status="rejected")] == ["title high"]
    assert len(store.cases(status="new")) == 4


def test_unknown_case_reads_as_none(store: CaseStore) -> None:
    assert store.case(12345) is None
    assert store.cluster("") == []


# --- decisions and audit ------------------------------------------------------------------------------


def test_record_decision_sets_status_and_writes_decision_and_audit(store: CaseStore) -> None:
    store.add_scored([scored("r1", "https://shop.kz/", score=0.87)])
    (case,) = store.cases()
    decision = store.record_decision(case["id"], "unsure", "expert-1", "нужна проверка")
    assert decision["decision"] == "unsure" and decision["score"] == 0.87 and decision["model_version"] == "3"
    decision = store.record_decision(case["id"], "confirmed", "expert-2")

    detail = store.case(case["id"])
    assert detail is not None and detail["status"] == "confirmed"
    assert [(d["decision"], d["expert"]) for d in detail["decisions"]] == [
        ("unsure", "expert-1"),
        ("confirmed", "expert-2"),
    ]
    store.log_audit("expert-2", "export", detail={"rows": 1})
    log = store.audit_log()
    assert [(e["actor"], e["action"], e["case_id"]) for e in log] == [
        ("expert-2", "export", None),
        ("expert-2", "decision", case["id"]),
        ("expert-1", "decision", case["id"]),
    ]
    assert log[1]["detail"] == {
        "decision": "confirmed",
        "status": "confirmed",
        "previous_status": "unsure",
        "category": "sale",
        "comment": "",
        "score": 0.87,
        "model_version": "3",
    }
    assert log[2]["detail"]["comment"] == "нужна проверка"
    assert len(store.audit_log(limit=1)) == 1


def test_bad_decisions_are_refused(store: CaseStore) -> None:
    store.add_scored([scored("r1", "https://shop.kz/")])
    (case,) = store.cases()
    with pytest.raises(ValueError, match="confirmed, rejected, unsure"):
        store.record_decision(case["id"], "blocked", "expert-1")
    with pytest.raises(ValueError, match="unknown case"):
        store.record_decision(999, "confirmed", "expert-1")
    with pytest.raises(ValueError, match="expert"):
        store.record_decision(case["id"], "confirmed", " ")
    assert store.counts()["new"] == 1 and store.audit_log() == []


def test_a_decision_on_an_outdated_version_is_refused_and_says_who_came_first(store: CaseStore) -> None:
    store.add_scored([scored("r1", "https://shop.kz/")])
    case_id = store.cases()[0]["id"]
    store.record_decision(case_id, "rejected", "expert-1", expected_version=0)
    with pytest.raises(StaleCaseError) as refused:
        store.record_decision(case_id, "confirmed", "expert-2", expected_version=0)
    assert str(refused.value) == (
        f"case {case_id} was decided by expert-1 (rejected) while you were deciding: reload it and decide again"
    )
    assert (refused.value.case_id, refused.value.expert, refused.value.decision) == (
        case_id,
        "expert-1",
        "rejected",
    )
    # versions no page showed, beyond PostgreSQL's 32-bit column too: refused the same way, not an error
    for version in (-1, 5, 2**31, 2**40, -(2**31) - 1):
        with pytest.raises(StaleCaseError, match="while you were deciding"):
            store.record_decision(case_id, "confirmed", "expert-2", expected_version=version)
    case = store.case(case_id)
    assert case is not None and (case["status"], case["version"], len(case["decisions"])) == (
        "rejected",
        1,
        1,
    )
    assert len(store.audit_log(action="decision")) == 1
    store.record_decision(case_id, "confirmed", "expert-2", expected_version=1)  # from the reloaded page
    assert store.case(case_id)["status"] == "confirmed"  # type: ignore[index]


# --- export -------------------------------------------------------------------------------------------


@pytest.fixture()
def exported(store: CaseStore) -> list[dict[str, Any]]:
    """Three mirrors of one ad (one rejected by an expert), a single site, and an unreviewed case."""
    store.add_scored(
        [
            scored("a", "https://shop.kz/ad", priority=0.9, cluster_id="k1"),
            scored("b", "https://mirror1.kz/ad", priority=0.8, cluster_id="k1"),
            scored("c", "https://mirror2.kz/ad", priority=0.7, cluster_id="k1"),
            scored("d", "https://alone.kz/", priority=0.6, cluster_id="k2"),
            scored("e", "https://other.kz/", priority=0.5, cluster_id="k3"),
        ]
    )
    ids = {c["url"]: c["id"] for c in store.cases()}
    store.record_decision(ids["https://shop.kz/ad"], "confirmed", "expert-1")
    store.record_decision(ids["https://mirror1.kz/ad"], "confirmed", "expert-2")
    store.record_decision(ids["https://mirror2.kz/ad"], "rejected", "expert-2")
    store.record_decision(ids["https://alone.kz/"], "unsure", "expert-1")
    store.record_decision(ids["https://alone.kz/"], "confirmed", "expert-3")
    return store.export_cases()


def test_export_cases_lists_confirmed_cases_with_cluster_urls(exported: list[dict[str, Any]]) -> None:
    assert [tuple(row) for row in exported] == [queue.EXPORT_FIELDS] * 3
    shop, mirror, alone = exported
    assert shop["urls"] == ["https://shop.kz/ad", "https://mirror1.kz/ad"]  # the rejected mirror is left out
    assert mirror["urls"] == ["https://mirror1.kz/ad", "https://shop.kz/ad"]  # its own URL first
    assert alone["urls"] == ["https://alone.kz/"]
    assert alone["decision"] == "confirmed" and alone["expert"] == "expert-3"  # the latest decision
    assert shop["contacts"]["telegram"] == ["@shop"] and shop["model_version"] == "3"
    assert shop["domain"] == "shop.kz" and shop["category"] == "sale" and shop["score"] == 0.9
    assert shop["decided_at"].endswith("+00:00")


def test_write_export_csv_and_json(exported: list[dict[str, Any]], tmp_path: Path) -> None:
    csv_path = write_export(exported, tmp_path / "out" / "blocklist.csv")
    with csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(queue.EXPORT_FIELDS)
    assert rows[0]["urls"] == "https://shop.kz/ad https://mirror1.kz/ad"
    assert json.loads(rows[0]["contacts"])["telegram"] == ["@shop"]
    assert rows[2]["decision"] == "confirmed" and float(rows[2]["score"]) == 0.9

    json_path = write_export(exported, tmp_path / "blocklist.json")
    assert json.loads(json_path.read_text(encoding="utf-8")) == exported

    with pytest.raises(ValueError, match=r"\.csv, \.json"):
        write_export(exported, tmp_path / "blocklist.xlsx")


# --- the store itself ---------------------------------------------------------------------------------


def test_url_hides_the_password(store: CaseStore, backend: str) -> None:
    url = "postgresql+psycopg://police:s3cret@db.local:5432/queue"
    assert queue.masked_url(url) == "postgresql+psycopg://police:***@db.local:5432/queue"
    assert store.dialect == backend and store.url.startswith(backend)
    if backend == "sqlite":
        assert store.url.endswith("queue.db")
    else:  # the test server's real password
        assert store.engine.url.password and store.engine.url.password not in store.url
        assert ":***@" in store.url
    assert repr(store) == f"CaseStore({store.url!r})"


def test_sqlite_store_creates_its_directory_and_enables_wal(tmp_path: Path) -> None:
    # SQLite only: a file path and pragmas
    path = tmp_path / "nested" / "dir" / "queue.db"
    with CaseStore(f"sqlite:///{path}") as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert path.exists()
    with CaseStore(f"sqlite:///{path}") as store:  # reopening an existing store
        assert store.counts()["new"] == 0


def test_the_default_store_is_the_project_queue_db() -> None:
    assert str(queue.store.QUEUE_DB).endswith("data/queue.db")


def test_an_unreachable_database_is_a_clear_error_without_the_password() -> None:
    # without the optional driver: how to install it; with it: the connection failure (port 1 is closed)
    with pytest.raises(ValueError, match=r"psycopg is not installed|cannot open the case store") as error:
        CaseStore("postgresql+psycopg://expert:secret@127.0.0.1:1/cases")
    assert "secret" not in str(error.value)


def test_export_labels_gives_decided_cases_as_training_rows(store: CaseStore) -> None:
    from classifier.queue import export_labels

    store.add_scored(
        [
            scored("a", "https://a.example/", score=0.95, text="Закладки по городу, пиши @a_example"),
            scored(
                "b", "https://b.example/", score=0.2, category="none", text="Меф в наличии, пиши @b_example"
            ),
            scored("c", "https://c.example/", score=0.7, text="Новости: задержан курьер"),
            scored("d", "https://d.example/", score=0.6),  # no text kept: the excerpt stands in
            scored("e", "https://e.example/", score=0.9),
        ]
    )
    ids = {c["url"].split("//")[1][0]: c["id"] for c in store.cases()}
    store.record_decision(ids["a"], "confirmed", "expert-1", category="propaganda")
    store.record_decision(ids["b"], "confirmed", "expert-1")  # a violation the model missed
    store.record_decision(ids["c"], "rejected", "expert-2")
    store.record_decision(ids["d"], "confirmed", "expert-2")
    store.record_decision(ids["e"], "unsure", "expert-2")  # not an answer: not exported

    rows = {r["url"]: r for r in export_labels(store)}
    assert set(rows) == {
        "https://a.example/",
        "https://b.example/",
        "https://c.example/",
        "https://d.example/",
    }
    a, b, c, d = (rows[f"https://{k}.example/"] for k in "abcd")
    assert (a["label"], a["category"], a["text"]) == (1, "propaganda", "Закладки по городу, пиши @a_example")
    assert (b["label"], b["category"]) == (1, "sale")  # the model said "none"; a violation needs a category
    assert (c["label"], c["category"]) == (0, "none")
    assert d["text"] == "excerpt d"
    assert {r["source"] for r in rows.values()} == {"expert"}
    assert a["family"] == "expert:c-a" and a["expert"] == "expert-1" and a["model_version"] == "3"
    assert c["hard_negative"] and not a["hard_negative"]  # flagged by the model, cleared by an expert
    assert export_labels(store, since="2999-01-01") == []
    with pytest.raises(ValueError, match="ISO date"):
        export_labels(store, since="yesterday")


def test_an_older_store_gains_the_new_columns_and_tables_and_keeps_its_data(db_url: str) -> None:
    with CaseStore(db_url) as store:
        store.add_scored([scored("a", "https://a.example/")])
        case_id = store.cases()[0]["id"]
        store.record_decision(case_id, "unsure", "expert-1")
        with store.engine.begin() as conn:  # what a store written by the previous version lacks
            for table, column in (("cases", "text"), ("cases", "version"), ("runs", "threshold")):
                conn.execute(text(f'ALTER TABLE {table} DROP COLUMN "{column}"'))
            conn.execute(text("DROP TABLE sessions"))
            conn.execute(text("DROP TABLE users"))
            conn.execute(text("DROP INDEX ix_audit_actor_action_time"))
    with CaseStore(db_url) as store:
        case = store.case(case_id)
        assert case is not None and case["version"] == 0 and case["text"] is None
        assert [d["decision"] for d in case["decisions"]] == ["unsure"]
        store.record_decision(case_id, "confirmed", "expert-2", expected_version=0)
        with store.engine.connect() as conn:
            found = inspect(conn)
            assert {"users", "sessions"} <= set(found.get_table_names())
            assert "ix_audit_actor_action_time" in {i["name"] for i in found.get_indexes("audit_log")}
        assert store.case(case_id)["version"] == 1  # type: ignore[index]
