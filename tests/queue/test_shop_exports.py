"""Issue 18: a page that only quotes a shop's handle is never exported for blocking with the shop.

The case the issue found: a shop and a pharmacy page that quotes the shop's Telegram handle (warning of
fraud) are scored together, so the machine puts them in one duplicate group and one shop; experts
confirm the shop only. ``export-cases`` must list the shop's URL and identifiers, never the pharmacy's.
On SQLite and PostgreSQL, with a real scoring run.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from classifier.cli import main
from classifier.queue import CaseStore
from shop_pages import PHARMACY, SHOP, SHOP_HANDLE, score_pages, write_pages

SHOP_URL, PHARMACY_URL = "https://snezhok.example/", "https://apteka.example/warning"


def test_a_page_that_quotes_a_shops_handle_is_never_exported_with_the_shop(
    db_url: str, exported_model: Path, tmp_path: Path
) -> None:
    pages = write_pages(tmp_path / "pages.jsonl", [(SHOP_URL, SHOP), (PHARMACY_URL, PHARMACY)])
    queue = score_pages([pages], db_url, exported_model, tmp_path / "run")
    assert queue["cluster_id"].nunique() == 1, "the premise: scoring groups the two pages by the handle"
    with CaseStore(db_url) as store:
        cases = {c["url"]: c for c in store.cases()}
        shop, pharmacy = cases[SHOP_URL], cases[PHARMACY_URL]
        assert shop["shop_id"] == pharmacy["shop_id"], "the premise: the machine puts them in one shop"
        store.record_decision(shop["id"], "confirmed", "aigerim", "shop with a stash-drop menu")

    for name in ("blocklist.json", "blocklist.csv"):
        out = tmp_path / name
        assert main(["export-cases", "--status", "confirmed", "--out", str(out), "--db", db_url]) == 0
        assert PHARMACY_URL not in out.read_text(encoding="utf-8")
        assert "@apteka_help_example" not in out.read_text(encoding="utf-8")  # the pharmacy's own handle
    (exported,) = json.loads((tmp_path / "blocklist.json").read_text(encoding="utf-8"))
    assert (exported["case_id"], exported["shop_id"]) == (shop["id"], shop["shop_id"])
    assert exported["url"] == SHOP_URL and exported["urls"] == [SHOP_URL]
    assert exported["identifiers"] == {"telegram": [SHOP_HANDLE]}
    with (tmp_path / "blocklist.csv").open(encoding="utf-8", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["urls"] == SHOP_URL and json.loads(row["identifiers"]) == {"telegram": [SHOP_HANDLE]}

    # once an expert confirms the pharmacy page too (a mistake, but theirs), it is theirs to export
    with CaseStore(db_url) as store:
        store.record_decision(pharmacy["id"], "confirmed", "aigerim")
    main(["export-cases", "--out", str(tmp_path / "after.json"), "--db", db_url])
    rows = json.loads((tmp_path / "after.json").read_text(encoding="utf-8"))
    assert {tuple(r["urls"]) for r in rows} == {(SHOP_URL, PHARMACY_URL), (PHARMACY_URL, SHOP_URL)}
