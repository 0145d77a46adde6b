"""Reading cases back: the review order, one case, duplicate groups (``queue/reads.py``)."""

from __future__ import annotations

from classifier.queue import CaseStore
from scored_rows import scored


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
