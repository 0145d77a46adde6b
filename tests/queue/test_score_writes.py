"""Scoring runs and their scored rows becoming cases and score history (``queue/writes.py``)."""

from __future__ import annotations

import pytest

from classifier.queue import CaseStore
from scored_rows import scored


def test_scored_helper_has_every_contract_field() -> None:
    from classifier.score.rows import SCORED_FIELDS

    assert set(scored("r")) == set(SCORED_FIELDS)


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
