"""Issue 18: a shop experts confirmed in one run is recognised in later runs, on both databases.

Two real scoring runs with the session's trained model into one case store: run 1 holds a shop and a
harmless page; experts confirm the shop and reject the page. Run 2 re-posts them among fresh pages:
the shop on a new domain in a notice the model does not flag (same handle), the shop's text with a new
handle, and a copy of the rejected page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from classifier.common.config import load_settings
from classifier.corpus.build import generate_corpus
from classifier.queue import CaseStore
from shop_pages import HARMLESS, MOVED, SHOP, score_pages, write_pages


@pytest.fixture(scope="module")
def filler(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Fresh demo pages for each run: the shops must stand out among many."""
    runs = []
    for seed in (31, 32):
        folder = tmp_path_factory.mktemp(f"filler-{seed}")
        generate_corpus(folder, load_settings().corpus, n=120, seed=seed)
        runs.append(str(folder / "pages.warc.gz"))
    return runs[0], runs[1]


@pytest.fixture()
def two_runs(db_url: str, exported_model: Path, filler: tuple[str, str], tmp_path: Path) -> dict[str, Any]:
    first = write_pages(
        tmp_path / "run1.jsonl",
        [("https://snezhok.example/", SHOP), ("https://kittens.example/post/1", HARMLESS)],
    )
    queue1 = score_pages([filler[0], first], db_url, exported_model, tmp_path / "run1")
    with CaseStore(db_url) as store:
        by_url = {c["url"]: c for c in store.cases(limit=1000)}
        shop, kittens = by_url["https://snezhok.example/"], by_url["https://kittens.example/post/1"]
        store.record_decision(shop["id"], "confirmed", "aigerim", category="sale")
        store.record_decision(kittens["id"], "rejected", "aigerim")
    second = write_pages(
        tmp_path / "run2.jsonl",
        [
            ("https://snezhok-new.example/", MOVED),
            (
                "https://snezhok-mirror.example/",
                SHOP.replace("@snezhok_shop_example", "@snezhok_new_example"),
            ),
            ("https://kittens-copy.example/", HARMLESS),
        ],
    )
    queue2 = score_pages([filler[1], second], db_url, exported_model, tmp_path / "run2")
    return {"queue1": queue1, "queue2": queue2, "shop": shop, "kittens": kittens}


def _row(queue: pd.DataFrame, url: str) -> dict[str, Any]:
    return queue[queue["url"] == url].iloc[0].to_dict()


def test_mirrors_of_a_confirmed_shop_lead_the_next_run_even_when_the_model_misses_them(
    two_runs: dict[str, Any],
) -> None:
    queue, shop_id = two_runs["queue2"], two_runs["shop"]["id"]
    moved = _row(queue, "https://snezhok-new.example/")
    assert moved["label"] == 0, "the premise: the model alone does not flag the notice"
    copy = _row(queue, "https://snezhok-mirror.example/")
    first_five_percent = max(1, len(queue) * 5 // 100)
    for row, how in ((moved, "telegram @snezhok_shop_example"), (copy, "text ")):
        assert row["rank"] <= first_five_percent, (row["rank"], len(queue))
        assert (row["shop_id"], row["known_status"]) == (shop_id, "confirmed")
        assert row["match"].startswith(how), row["match"]
    # in run 1 nothing was known yet
    assert two_runs["queue1"]["known_status"].isna().all()


def test_a_copy_of_a_rejected_page_is_shown_as_such_and_not_raised(two_runs: dict[str, Any]) -> None:
    queue = two_runs["queue2"]
    copy = _row(queue, "https://kittens-copy.example/")
    assert (copy["shop_id"], copy["known_status"]) == (two_runs["kittens"]["id"], "rejected")
    assert copy["match"].startswith("t")  # its handle or its text
    unknown = queue[queue["known_status"].isna() & queue["score"].notna()]
    # its priority follows the same formula as pages nobody decided: no higher than its score allows
    assert copy["priority"] <= unknown["priority"].max()
    assert copy["priority"] < _row(queue, "https://snezhok-new.example/")["priority"]


def test_the_shop_gathers_its_pages_across_runs(two_runs: dict[str, Any], db_url: str) -> None:
    with CaseStore(db_url) as store:
        shop = store.shop(two_runs["shop"]["id"])
        kittens = store.shop(two_runs["kittens"]["id"])
    assert shop is not None and kittens is not None
    assert {c["url"] for c in shop["cases"]} >= {
        "https://snezhok.example/",
        "https://snezhok-new.example/",
        "https://snezhok-mirror.example/",
    }
    assert shop["status"] == "confirmed" and "c:telegram:@snezhok_shop_example" in shop["identifiers"]
    assert "https://kittens.example/post/1" not in {c["url"] for c in shop["cases"]}
    assert kittens["status"] == "rejected"
    assert {c["url"] for c in kittens["cases"]} == {
        "https://kittens.example/post/1",
        "https://kittens-copy.example/",
    }


def _bank_row(record_id: str, run_id: str, keys: list[str], **values: Any) -> dict[str, Any]:
    from scored_rows import scored

    return scored(record_id, f"https://{record_id}.example/", run_id=run_id, bank_keys=keys, **values)


def test_a_page_that_links_two_shops_merges_them_into_the_earlier(store: CaseStore) -> None:
    store.add_scored([_bank_row("a", "run-1", ["c:telegram:@a_example"], cluster_id="g-a")])
    store.add_scored([_bank_row("b", "run-2", ["c:telegram:@b_example"], cluster_id="g-b")])
    by_url = {c["url"]: c["id"] for c in store.cases()}
    a, b = by_url["https://a.example/"], by_url["https://b.example/"]
    assert store.shop(a)["cases"][0]["id"] == a and store.shop(b)["cases"][0]["id"] == b  # two shops
    hits = store.lookup(["c:telegram:@a_example", "c:telegram:@b_example"], max_cases_per_key=10)
    assert {(h.key, h.shop_id) for h in hits} == {("c:telegram:@a_example", a), ("c:telegram:@b_example", b)}
    store.add_scored([_bank_row("both", "run-3", ["c:telegram:@a_example"], linked_shops=[b, a])])
    merged = store.shop(min(a, b))
    assert merged is not None and store.shop(max(a, b)) is None
    assert {c["url"] for c in merged["cases"]} == {
        "https://a.example/",
        "https://b.example/",
        "https://both.example/",
    }
    assert set(merged["identifiers"]) == {"c:telegram:@a_example", "c:telegram:@b_example"}


def test_a_duplicate_group_split_across_batches_is_one_shop(store: CaseStore) -> None:
    store.add_scored([_bank_row("first", "run-1", [], cluster_id="g-1")])
    store.add_scored([_bank_row("second", "run-1", [], cluster_id="g-1")])
    store.add_scored([_bank_row("other", "run-1", [], cluster_id="g-2")])
    shops = {c["url"]: (store.case(c["id"]) or {})["shop_id"] for c in store.cases()}
    assert (
        shops["https://first.example/"] == shops["https://second.example/"] != shops["https://other.example/"]
    )


def test_a_public_contact_links_nothing(store: CaseStore) -> None:
    store.add_scored(
        [_bank_row(f"p{i}", "run-1", ["c:telegram:@hotline_example"], cluster_id=f"g-{i}") for i in range(4)]
    )
    assert len(store.lookup(["c:telegram:@hotline_example"], max_cases_per_key=4)) == 4
    assert store.lookup(["c:telegram:@hotline_example"], max_cases_per_key=3) == []
