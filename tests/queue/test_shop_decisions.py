"""Decisions that name a shop (issue 18, item 5): a case confirmed as a mirror of a confirmed shop, and the
undecided pages of a shop decided at once, each its own audited decision; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from classifier.queue import CaseStore, StaleCaseError
from classifier.queue.audit import AuditTrail
from scored_rows import scored


def _shop(store: CaseStore, prefix: str, n: int, **values: Any) -> list[int]:
    """``n`` pages of one duplicate group of a run: one shop; their case ids, in order."""
    rows = [
        scored(f"{prefix}{i}", f"https://{prefix}{i}.example/", cluster_id=f"g-{prefix}", **values)
        for i in range(n)
    ]
    store.add_scored(rows)
    by_url = {c["url"]: c["id"] for c in store.cases(limit=1000)}
    return [by_url[f"https://{prefix}{i}.example/"] for i in range(n)]


def _shop_of(store: CaseStore, case_id: int) -> int:
    case = store.case(case_id)
    assert case is not None
    return case["shop_id"]


def _unchanged(store: CaseStore, case_id: int, version: int = 0) -> None:
    case = store.case(case_id)
    assert case is not None and (case["status"], case["version"], case["decisions"]) == ("new", version, [])


def test_a_page_of_a_confirmed_shop_is_confirmed_as_its_mirror(store: CaseStore) -> None:
    first, mirror, _ = _shop(store, "snow", 3)
    shop = _shop_of(store, first)
    assert shop == first and _shop_of(store, mirror) == shop  # named after its earliest case
    store.record_decision(first, "confirmed", "anna", category="recruitment")

    decision = store.record_decision(mirror, "confirmed", "boris", expected_version=0, shop_id=shop)
    assert (decision["shop_id"], decision["status"]) == (shop, "confirmed")
    assert decision["category"] == "recruitment"  # the shop's, as experts named it, not the model's
    case = store.case(mirror)
    assert case is not None and case["status"] == "confirmed"
    assert [(d["expert"], d["shop_id"]) for d in case["decisions"]] == [("boris", shop)]
    entry = store.audit_log(1, action="decision")[0]
    assert (entry["actor"], entry["case_id"]) == ("boris", mirror)
    assert (entry["detail"]["shop_id"], entry["detail"]["how"]) == (shop, "mirror")
    # a decision on the case alone names no shop, as before
    first_decision = store.case(first)["decisions"][0]  # type: ignore[index]
    assert first_decision["shop_id"] is None
    assert "shop_id" not in store.audit_log(10, action="decision")[-1]["detail"]


def test_a_mirror_confirmation_is_refused_outside_a_confirmed_shop(store: CaseStore) -> None:
    first, mirror = _shop(store, "snow", 2)
    (other,) = _shop(store, "kitten", 1)
    shop = _shop_of(store, first)
    with pytest.raises(ValueError, match=f"shop {shop} is not confirmed"):
        store.record_decision(mirror, "confirmed", "boris", expected_version=0, shop_id=shop)
    _unchanged(store, mirror)
    store.record_decision(first, "confirmed", "anna")
    for case_id, shop_id in ((other, shop), (mirror, other), (mirror, 10**12), (mirror, -1)):
        with pytest.raises(ValueError, match=f"case {case_id} is not a page of shop {shop_id}"):
            store.record_decision(case_id, "confirmed", "boris", expected_version=0, shop_id=shop_id)
        _unchanged(store, case_id)
    assert len(store.audit_log(100, action="decision")) == 1


def test_a_mirror_confirmation_on_an_outdated_page_is_refused(store: CaseStore) -> None:
    first, mirror = _shop(store, "snow", 2)
    shop = _shop_of(store, first)
    store.record_decision(first, "confirmed", "anna")
    store.record_decision(mirror, "rejected", "vera", expected_version=0)
    with pytest.raises(StaleCaseError, match="decided by vera \\(rejected\\)"):
        store.record_decision(mirror, "confirmed", "boris", expected_version=0, shop_id=shop)
    case = store.case(mirror)
    assert case is not None and (case["status"], case["version"], len(case["decisions"])) == (
        "rejected",
        1,
        1,
    )


def test_a_mirror_confirmation_counts_once_when_two_experts_must_confirm(db_url: str) -> None:
    with CaseStore(db_url, confirmations_required=2) as store:
        first, mirror, third = _shop(store, "snow", 3)
        shop = _shop_of(store, first)
        store.record_decision(first, "confirmed", "anna")
        store.record_decision(first, "confirmed", "vera")  # now the shop is confirmed
        assert store.record_decision(mirror, "confirmed", "boris", shop_id=shop)["status"] == "pending"
        with pytest.raises(ValueError, match="boris has already confirmed"):
            store.record_decision(mirror, "confirmed", "boris", shop_id=shop)
        result = store.decide_shop(shop, "confirmed", "boris")
        assert [d["case_id"] for d in result["decided"]] == [third]
        assert result["skipped"] == [{"case_id": mirror, "reason": "already_confirmed", "status": "pending"}]
        result = store.decide_shop(shop, "confirmed", "anna")
        assert {d["case_id"]: d["status"] for d in result["decided"]} == {
            mirror: "confirmed",
            third: "confirmed",
        }


def test_a_decision_on_a_shop_decides_each_undecided_page_and_skips_the_others(store: CaseStore) -> None:
    first, unsure, shown, meanwhile, late = _shop(store, "snow", 5)
    (other,) = _shop(store, "kitten", 1)
    shop = _shop_of(store, first)
    store.record_decision(first, "confirmed", "anna", category="sale")
    store.record_decision(unsure, "unsure", "vera")
    # the page the expert saw: every page with its version; then vera decides one of them on its own
    versions = {first: 1, unsure: 1, shown: 0, meanwhile: 0, other: 0, 10**9: 0}
    store.record_decision(meanwhile, "rejected", "vera", expected_version=0)

    result = store.decide_shop(shop, "confirmed", "boris", "все зеркала", versions=versions)
    assert result["shop_id"] == shop and result["decision"] == "confirmed"
    assert [(d["case_id"], d["status"], d["shop_id"]) for d in result["decided"]] == [
        (shown, "confirmed", shop)
    ]
    assert sorted(result["skipped"], key=lambda s: s["case_id"]) == sorted(
        [
            {"case_id": first, "reason": "decided", "status": "confirmed"},
            {"case_id": unsure, "reason": "decided", "status": "unsure"},
            {
                "case_id": meanwhile,
                "reason": "changed",
                "status": "rejected",
                "expert": "vera",
                "decision": "rejected",
            },
            {"case_id": other, "reason": "other_shop"},
            {"case_id": 10**9, "reason": "unknown"},
        ],
        key=lambda s: s["case_id"],
    )
    # late was not on the page the expert saw: left for the next look
    statuses = {case_id: store.case(case_id)["status"] for case_id in (unsure, meanwhile, late, other)}  # type: ignore[index]
    assert statuses == {unsure: "unsure", meanwhile: "rejected", late: "new", other: "new"}
    decided = store.case(shown)
    assert decided is not None and decided["version"] == 1
    assert [(d["expert"], d["comment"], d["category"], d["shop_id"]) for d in decided["decisions"]] == [
        ("boris", "все зеркала", "sale", shop)
    ]
    (entry,) = [e for e in store.audit_log(100, action="decision") if e["case_id"] == shown]
    assert entry["actor"] == "boris"
    assert (entry["detail"]["shop_id"], entry["detail"]["how"], entry["detail"]["previous_status"]) == (
        shop,
        "shop",
        "new",
    )


def test_a_decision_on_a_whole_shop_decides_every_new_and_pending_page(store: CaseStore) -> None:
    pages = _shop(store, "snow", 4)
    shop = _shop_of(store, pages[0])
    store.record_decision(pages[1], "unsure", "vera")
    with pytest.raises(ValueError, match=f"shop {shop} is not confirmed"):
        store.decide_shop(shop, "confirmed", "boris")
    result = store.decide_shop(shop, "rejected", "boris")  # a rejection needs no confirmed shop
    assert sorted(d["case_id"] for d in result["decided"]) == [pages[0], pages[2], pages[3]]
    assert result["skipped"] == []  # the unsure page is no undecided one: not even considered
    audited = [e for e in store.audit_log(100, action="decision") if e["actor"] == "boris"]
    assert sorted(e["case_id"] for e in audited) == [pages[0], pages[2], pages[3]]
    assert all(e["detail"]["shop_id"] == shop and e["detail"]["decision"] == "rejected" for e in audited)
    assert store.decide_shop(shop, "rejected", "boris") == {
        "shop_id": shop,
        "decision": "rejected",
        "decided": [],
        "skipped": [],
    }


def test_a_decision_on_an_unknown_shop_or_a_bad_one_is_refused(store: CaseStore) -> None:
    (page,) = _shop(store, "snow", 1)
    for shop_id in (page + 1000, 0, -5, 2**63, 10**30):
        with pytest.raises(ValueError, match="unknown shop"):
            store.decide_shop(shop_id, "rejected", "boris")
    with pytest.raises(ValueError, match="decision must be"):
        store.decide_shop(page, "blocked", "boris")
    with pytest.raises(ValueError, match="expert"):
        store.decide_shop(page, "rejected", " ")
    with pytest.raises(ValueError, match="category must be"):
        store.decide_shop(page, "rejected", "boris", category="weapons")
    _unchanged(store, page)


def test_a_decision_on_a_shop_is_written_whole_or_not_at_all(
    store: CaseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages = _shop(store, "snow", 3)
    shop = _shop_of(store, pages[0])
    written: list[int | None] = []
    write = AuditTrail.write

    def fail_on_the_third(
        self: AuditTrail, conn: Any, actor: str, action: str, case_id: Any, detail: Any
    ) -> None:
        written.append(case_id)
        if len(written) == 3:
            raise RuntimeError("the database went away")
        write(self, conn, actor, action, case_id, detail)

    monkeypatch.setattr(AuditTrail, "write", fail_on_the_third)
    with pytest.raises(RuntimeError, match="went away"):
        store.decide_shop(shop, "rejected", "boris")
    for page in pages:
        _unchanged(store, page)
    assert store.audit_log(100) == []
