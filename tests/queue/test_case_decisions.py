"""Expert decisions and the audit log (``queue/decisions.py``, ``queue/audit.py``)."""

from __future__ import annotations

import pytest

from classifier.queue import CaseStore, StaleCaseError
from scored_rows import scored


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
