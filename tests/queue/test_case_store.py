"""The case store as its callers use it: one round trip through every part (``queue/store.py``)."""

from __future__ import annotations

from classifier.queue import CaseStore, export_cases
from scored_rows import scored


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
    (exported,) = export_cases(store)
    # its copy is in its shop, but no expert decided it: it is not for blocking
    assert exported["urls"] == ["https://mirror.kz/a"]
    assert exported["shop_id"] == cases[2]["shop_id"] == case["shop_id"]
    assert [c["url"] for c in store.cluster("k1")] == ["https://mirror.kz/a", "https://shop.kz/a"]
    # Idempotent on this database too.
    assert store.add_scored(rows) == 0
    assert len(store.cases()) == 4
