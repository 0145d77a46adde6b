"""A shop as experts see it (``queue/shops.py``): its pages a list page at a time, undecided first, its
identifiers and decisions, and why each page is in it; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from classifier.queue import CaseStore, shops
from scored_rows import scored

SIGNATURE = np.arange(1000, 1128, dtype=np.uint32)


def _signature(changed: int) -> bytes:
    """A MinHash signature that agrees with SIGNATURE on all but ``changed`` of its 128 values."""
    values = SIGNATURE.copy()
    values[:changed] += 5000
    return values.tobytes()


def _row(name: str, run_id: str = "run-1", **values: Any) -> dict[str, Any]:
    return scored(name, f"https://{name}.example/", run_id=run_id, **values)


@pytest.fixture()
def shop(store: CaseStore) -> dict[str, int]:
    """One shop, linked in every way the bank knows, across two runs; and a case of another shop."""
    store.add_scored(
        [
            # one duplicate group of run 1: the shop and a copy of its text; a handle on the first
            _row(
                "shop",
                cluster_id="g-1",
                bank_keys=["c:telegram:@snow_example", "b0:aa", "b1:bb"],
                signature=_signature(0),
                shingles=40,
                priority=0.5,
            ),
            _row(
                "copy",
                cluster_id="g-1",
                bank_keys=["b0:aa", "b1:bb"],
                signature=_signature(10),
                shingles=40,
                priority=0.9,
            ),
            _row("kittens", cluster_id="g-2", bank_keys=["c:telegram:@kitten_example"]),
        ]
    )
    ids = {c["url"].split("//")[1].split(".")[0]: c["id"] for c in store.cases()}
    shop_id = ids["shop"]
    # run 2: the handle on a new site, and a page sharing a band key with a text that is no copy
    store.add_scored(
        [
            _row(
                "moved",
                "run-2",
                cluster_id="g-3",
                bank_keys=["c:telegram:@snow_example"],
                linked_shops=[shop_id],
            ),
            _row(
                "unlike",
                "run-2",
                cluster_id="g-4",
                bank_keys=["b0:aa", "c:wallet:tx_example"],
                signature=_signature(100),
                shingles=40,
                linked_shops=[shop_id],
            ),
        ]
    )
    ids = {c["url"].split("//")[1].split(".")[0]: c["id"] for c in store.cases()}
    return {**ids, "shop_id": shop_id}


def test_the_shop_says_why_each_page_is_in_it(store: CaseStore, shop: dict[str, int]) -> None:
    found = store.shop(shop["shop_id"])
    assert found is not None
    assert (found["size"], found["status"], found["undecided"]) == (4, "undecided", 4)
    assert found["identifiers"] == {"c:telegram:@snow_example": 2, "c:wallet:tx_example": 1}
    assert found["identifiers_total"] == 2
    links = {case["id"]: case["links"] for case in found["cases"]}
    assert set(links) == {shop["shop"], shop["copy"], shop["moved"], shop["unlike"]}
    handle = {"kind": "identifier", "key": "c:telegram:@snow_example", "what": "telegram @snow_example"}
    assert links[shop["shop"]] == [
        {**handle, "others": 1, "case_id": shop["moved"]},
        {"kind": "text", "case_id": shop["copy"], "similarity": 0.92},
        {"kind": "group", "run_id": "run-1", "others": 1, "case_id": shop["copy"]},
    ]
    assert links[shop["copy"]] == [
        {"kind": "text", "case_id": shop["shop"], "similarity": 0.92},
        {"kind": "group", "run_id": "run-1", "others": 1, "case_id": shop["shop"]},
    ]
    assert links[shop["moved"]] == [{**handle, "others": 1, "case_id": shop["shop"]}]
    # a band key in common, but the texts are no copies (22% alike), and its wallet is on no other page
    assert links[shop["unlike"]] == []
    assert store.shop(shop["kittens"])["cases"][0]["links"] == []  # type: ignore[index]
    assert store.shop(shop["copy"]) is None  # a case, but no shop is named after it


def test_the_pages_come_a_list_page_at_a_time_undecided_first(store: CaseStore, shop: dict[str, int]) -> None:
    store.record_decision(shop["shop"], "confirmed", "anna", category="sale")
    store.record_decision(shop["unlike"], "rejected", "vera")
    first = store.shop(shop["shop_id"], limit=2)
    second = store.shop(shop["shop_id"], limit=2, offset=2)
    assert first is not None and second is not None
    assert (first["status"], first["undecided"], first["category"]) == ("confirmed", 2, "sale")
    assert first["counts"] == {"confirmed": 1, "rejected": 1, "new": 2}
    # undecided first, then in review order (the copy's priority is the higher)
    assert [c["id"] for c in first["cases"]] == [shop["copy"], shop["moved"]]
    assert {c["id"] for c in second["cases"]} == {shop["shop"], shop["unlike"]}
    assert all(c["links"] for c in first["cases"])  # the reasons of each list page
    assert [bool(c["links"]) for c in second["cases"]] == [False, True]  # unlike (priority 0.9), shop
    assert [(d["case_id"], d["decision"], d["expert"]) for d in first["decisions"]] == [
        (shop["unlike"], "rejected", "vera"),
        (shop["shop"], "confirmed", "anna"),
    ]
    assert first["decisions_total"] == 2
    assert first["first_seen"] == "2024-05-01T10:00:00+00:00"


def test_identifiers_and_decisions_are_capped_and_say_how_many_there_are(
    store: CaseStore, shop: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    store.record_decision(shop["shop"], "unsure", "anna")
    store.record_decision(shop["shop"], "confirmed", "anna")
    monkeypatch.setattr(shops, "IDENTIFIER_LIMIT", 1)
    monkeypatch.setattr(shops, "DECISION_LIMIT", 1)
    found = store.shop(shop["shop_id"])
    assert found is not None
    assert (found["identifiers"], found["identifiers_total"]) == ({"c:telegram:@snow_example": 2}, 2)
    assert ([d["decision"] for d in found["decisions"]], found["decisions_total"]) == (["confirmed"], 2)


def test_summaries_give_each_shops_size_and_status(store: CaseStore, shop: dict[str, int]) -> None:
    store.record_decision(shop["kittens"], "rejected", "vera")
    found = store.shop_summaries([shop["shop_id"], shop["kittens"], None, 10**9])
    assert found == {
        shop["shop_id"]: {"shop_id": shop["shop_id"], "size": 4, "status": "undecided"},
        shop["kittens"]: {"shop_id": shop["kittens"], "size": 1, "status": "rejected"},
    }
    assert store.shop_summaries([]) == {}
