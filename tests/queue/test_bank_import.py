"""Issue 18, item 4: seeding the bank of shops with the resources a unit has already decided
(``queue/bank_import.py``, ``classifier bank import``), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from classifier.cli import main
from classifier.cli.arguments import BANK_IMPORT_HELP
from classifier.common.config import Settings, load_settings
from classifier.queue import CaseStore
from classifier.queue.bank_import import ImportSummary, import_bank_file
from classifier.queue.bank_lines import IMPORT_COLUMNS
from classifier.queue.schema import (
    bank_keys_table,
    bank_signatures_table,
    cases_table,
    decisions_table,
    runs_table,
    scores_table,
)
from classifier.score.duplicates import MinHasher, band_keys
from classifier.text.normalize import normalize_text
from scored_rows import scored
from shop_pages import HARMLESS, MOVED, SHOP, SHOP_HANDLE, score_pages, write_pages

WALLET = "0x" + "0" * 39 + "1"
LINES: list[dict[str, Any]] = [
    {
        "url": "https://snezhok.example/",
        "decision": "confirmed",
        "date": "2024-03-01",
        "handles": SHOP_HANDLE,
        "phones": "+7 700 000 00 01",
        "text": SHOP,
        "category": "sale",
    },
    {  # the shop's bot: it names the shop's handle too, so it is the same shop
        "url": "t.me/snezhok_bot_example",
        "decision": "confirmed",
        "date": "02.03.2024",
        "handles": "t.me/snezhok_bot_example, @Snezhok_Shop_Example",
    },
    {"url": "https://kittens.example/post/1", "decision": "rejected", "date": "2024-03-02", "text": HARMLESS},
    {"url": "https://wallet-shop.example/", "decision": "confirmed", "date": "2024-03-03", "wallets": WALLET},
]


@pytest.fixture()
def settings() -> Settings:
    return load_settings()


def write_csv(path: Path, lines: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(IMPORT_COLUMNS))
        writer.writeheader()
        writer.writerows(lines)
    return path


def write_jsonl(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    return path


def bank_keys(store: CaseStore) -> dict[str, set[str]]:
    """url -> the case's bank keys."""
    k, c = bank_keys_table.c, cases_table.c
    found: dict[str, set[str]] = {}
    with store.engine.connect() as conn:
        for url, key in conn.execute(select(c.url, k.match_key).join(cases_table, c.id == k.case_id)):
            found.setdefault(url, set()).add(key)
    return found


def table_sizes(store: CaseStore) -> dict[str, int]:
    tables = (cases_table, bank_keys_table, bank_signatures_table, decisions_table, scores_table, runs_table)
    with store.engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_import_makes_audited_decided_cases_whose_identifiers_and_text_join_the_bank(
    store: CaseStore, settings: Settings, tmp_path: Path, kind: str
) -> None:
    path = (write_csv if kind == "csv" else write_jsonl)(tmp_path / f"blocked.{kind}", LINES)
    summary = import_bank_file(store, path, settings, "aigerim")
    first = 2 if kind == "csv" else 1  # a CSV file's line 1 is its header
    assert summary.errors == [] and summary.already == []
    assert summary.imported == list(range(first, first + 4)) and summary.lines == 4
    assert summary.decisions == {"confirmed": 3, "rejected": 1} and summary.shops == 3

    cases = {c["url"]: c for c in store.cases()}
    shop, bot = cases["https://snezhok.example/"], cases["t.me/snezhok_bot_example"]
    kittens, wallet = cases["https://kittens.example/post/1"], cases["https://wallet-shop.example/"]
    assert [c["status"] for c in (shop, bot, kittens, wallet)] == [
        "confirmed",
        "confirmed",
        "rejected",
        "confirmed",
    ]
    assert shop["shop_id"] == bot["shop_id"] != kittens["shop_id"] != wallet["shop_id"]
    assert shop["first_seen"] == "2024-03-01T00:00:00+00:00" and bot["first_seen"].startswith("2024-03-02")
    assert shop["language"] == "ru" and shop["contacts"]["phone"] == ["+77000000001"]

    keys = bank_keys(store)
    # identifiers as scoring writes them; phones only where score.link_contacts lists them
    assert {k for k in keys[shop["url"]] if k.startswith("c:")} == {f"c:telegram:{SHOP_HANDLE}"}
    assert {k for k in keys[bot["url"]] if k.startswith("c:")} == {
        "c:telegram:@snezhok_bot_example",
        f"c:telegram:{SHOP_HANDLE}",
    }
    assert keys[wallet["url"]] == {f"c:wallet:{WALLET}"}
    # the text's band keys and signature are the ones scoring makes of the same text
    hasher = MinHasher(settings.score.minhash_permutations, settings.score.shingle_words)
    signature, _ = hasher.sketch(normalize_text(SHOP))
    assert set(band_keys(signature, settings.score.lsh_bands)) <= keys[shop["url"]]
    s = bank_signatures_table.c
    with store.engine.connect() as conn:
        stored = conn.execute(select(s.signature).where(s.case_id == shop["id"])).scalar_one()
    assert np.array_equal(np.frombuffer(stored, dtype="<u4"), signature)

    # each line is an expert decision with its audit entry, naming the file and the line
    for case, line in ((shop, first), (bot, first + 1), (kittens, first + 2), (wallet, first + 3)):
        (decision,) = store.case(case["id"])["decisions"]
        assert decision["expert"] == "aigerim" and f"line {line}: blocked.{kind}" in decision["comment"]
    assert store.case(shop["id"])["decisions"][0]["category"] == "sale"
    audited = store.audit_log(action="decision")
    assert sorted(e["case_id"] for e in audited) == sorted(c["id"] for c in (shop, bot, kittens, wallet))
    assert {e["actor"] for e in audited} == {"aigerim"}


def test_importing_the_same_file_again_changes_nothing(
    store: CaseStore, settings: Settings, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "blocked.csv", LINES)
    first = import_bank_file(store, path, settings, "aigerim")
    sizes, cases, runs = table_sizes(store), store.cases(), store.runs()
    copy = write_csv(tmp_path / "blocked-copy.csv", LINES)  # the same content under another name
    for again in (
        import_bank_file(store, path, settings, "aigerim"),
        import_bank_file(store, copy, settings, "b"),
    ):
        assert again.run_id == first.run_id and again.imported == [] and again.errors == []
        assert again.already == first.imported
    assert table_sizes(store) == sizes and store.cases() == cases and store.runs() == runs
    assert len(store.audit_log(action="decision")) == 4


def test_bad_lines_are_reported_with_their_reasons_and_the_others_imported(
    store: CaseStore, settings: Settings, tmp_path: Path
) -> None:
    good = {"url": "https://good.example/", "decision": "confirmed", "date": "2024-03-01"}
    lines = [
        good,  # line 2
        {**good, "url": "https://a.example/", "decision": "blocked"},
        {**good, "url": ""},
        {**good, "url": "https://b.example/", "date": "вчера"},
        {**good, "url": "https://c.example/", "handles": "@ok_example, not/a handle!"},
        {**good, "url": "https://d.example/", "wallets": "my-wallet"},
        {**good, "url": "https://e.example/", "decision": "rejected", "category": "sale"},
        {**good, "url": "https://f.example/", "phones": "12"},
        {**good, "url": "https://g.example/", "category": "weapons"},
        {**good, "url": "https://h.example/", "date": "2999-01-01"},
        {**good, "url": "https://i.example/", "handles": "@i_example"},  # line 12
    ]
    path = write_csv(tmp_path / "blocked.csv", lines)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("https://j.example/,,,,,confirmed,2024-03-01,,extra\n")  # line 13: one cell too many
    summary = import_bank_file(store, path, settings, "aigerim")
    assert summary.imported == [2, 12] and summary.lines == 12
    reasons = dict(summary.errors)
    assert list(reasons) == [*range(3, 12), 13]
    for line, words in {
        3: "decision must be confirmed or rejected, not 'blocked'",
        4: "no url",
        5: "date must be like 2024-03-01",
        6: "'not/a' is not a Telegram name",
        7: "wallet 'my-wallet' is not",
        8: "category names a confirmed violation",
        9: "phone '12' has too few digits",
        10: "category must be one of sale, recruitment, propaganda",
        11: "in the future",
        13: "9 cells but 8 columns",
    }.items():
        assert words in reasons[line], (line, reasons[line])
    assert sorted(c["url"] for c in store.cases()) == ["https://good.example/", "https://i.example/"]

    jsonl = tmp_path / "blocked.jsonl"
    jsonl.write_text(
        "\n".join(
            [
                json.dumps(
                    {**good, "url": "https://k.example/", "handles": ["@k_example", "t.me/k_bot_example"]}
                ),
                "{not json",
                json.dumps(["a", "list"]),
                json.dumps({**good, "url": "https://l.example/", "handle": "@l_example"}),
                json.dumps({**good, "url": ["https://m.example/"]}),
                "",  # an empty line is no resource
                json.dumps({**good, "url": "https://n.example/", "phones": [77000000002]}),
            ]
        ),
        encoding="utf-8",
    )
    summary = import_bank_file(store, jsonl, settings, "aigerim")
    assert summary.imported == [1, 7]
    reasons = dict(summary.errors)
    assert "not JSON" in reasons[2] and "a JSON object is expected" in reasons[3]
    assert "unknown field 'handle'" in reasons[4] and "the columns are url, decision" in reasons[4]
    assert "url must be text" in reasons[5]
    k = next(c for c in store.cases() if c["url"] == "https://k.example/")
    assert k["contacts"]["telegram"] == ["@k_example", "@k_bot_example"]


def test_a_file_that_cannot_be_read_as_a_whole_is_refused_and_nothing_imported(
    store: CaseStore, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "blocked.csv"
    path.write_text("url,handle,decision,date\nhttps://a.example/,@a_example,confirmed,2024-03-01\n")
    with pytest.raises(ValueError, match=r"unknown columns 'handle'.*the columns are url, decision"):
        import_bank_file(store, path, settings, "aigerim")
    path.write_text("url,decision\nhttps://a.example/,confirmed\n")
    with pytest.raises(ValueError, match="no column date"):
        import_bank_file(store, path, settings, "aigerim")
    with pytest.raises(ValueError, match=r"\.csv or \.jsonl"):
        import_bank_file(store, write_csv(tmp_path / "blocked.txt", LINES), settings, "aigerim")
    path.write_bytes("url,decision,date\nhttps://а.example/,confirmed,2024-03-01\n".encode("cp1251"))
    with pytest.raises(ValueError, match="not UTF-8"):
        import_bank_file(store, path, settings, "aigerim")
    with pytest.raises(ValueError, match="--expert"):
        import_bank_file(store, write_csv(tmp_path / "ok.csv", LINES), settings, " ")
    assert store.cases() == [] and store.runs() == []


def test_an_imported_line_joins_the_shop_of_a_case_already_in_the_bank_and_keeps_its_score(
    store: CaseStore, settings: Settings, tmp_path: Path
) -> None:
    store.add_scored(
        [
            scored("r1", "https://snezhok-old.example/", bank_keys=[f"c:telegram:{SHOP_HANDLE}"], score=0.91),
            scored("r2", "https://kittens.example/post/1", score=0.12, scored_at="2024-02-01T00:00:00+00:00"),
        ]
    )
    old = {c["url"]: c for c in store.cases()}
    summary: ImportSummary = import_bank_file(
        store, write_csv(tmp_path / "blocked.csv", LINES), settings, "a"
    )
    assert summary.known_shops == 1  # the old page's shop, through the handle
    cases = {c["url"]: c for c in store.cases()}
    shop_id = old["https://snezhok-old.example/"]["shop_id"]
    assert (
        cases["https://snezhok.example/"]["shop_id"]
        == shop_id
        == cases["t.me/snezhok_bot_example"]["shop_id"]
    )
    # the page the model scored keeps what the model said of it; the import adds its decision and text
    kittens = store.case(cases["https://kittens.example/post/1"]["id"])
    assert (
        kittens["score"] == 0.12 and kittens["evidence"] == old["https://kittens.example/post/1"]["evidence"]
    )
    assert kittens["title"] == "title r2" and kittens["text"] == HARMLESS and kittens["status"] == "rejected"
    assert len(kittens["scores"]) == 2


def test_the_command_prints_every_line_and_audits_the_import(db_url: str, tmp_path: Path, capsys) -> None:
    lines = [*LINES, {"url": "https://x.example/", "decision": "maybe", "date": "2024-03-01"}]
    path = write_csv(tmp_path / "blocked.csv", lines)
    assert main(["bank", "import", str(path), "--expert", "aigerim", "--db", db_url]) == 1
    out = capsys.readouterr().out
    assert "5 lines" in out and "imported               4 (3 confirmed, 1 rejected)" in out
    assert "line 6: decision must be confirmed or rejected, not 'maybe'" in out
    assert main(["bank", "import", str(path), "--expert", "a", "--db", db_url]) == 1
    out = capsys.readouterr().out
    assert "imported               0" in out and "already imported       4" in out
    with CaseStore(db_url) as store:
        (entry, _) = store.audit_log(action="bank_import")
        assert entry["actor"] == "a" and entry["detail"]["already_imported"] == 4
    bad = tmp_path / "bad.csv"
    bad.write_text("url;decision;date\n", encoding="utf-8")
    assert main(["bank", "import", str(bad), "--expert", "a", "--db", db_url]) == 2
    assert "the columns are url, decision" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bank", "import", str(path), "--db", db_url])  # --expert is required
    assert "--expert" in capsys.readouterr().err
    assert all(column in BANK_IMPORT_HELP for column in IMPORT_COLUMNS)


def test_a_later_scoring_run_recognises_an_imported_shop(
    db_url: str, exported_model: Path, tmp_path: Path
) -> None:
    settings = load_settings()
    with CaseStore(db_url) as store:
        import_bank_file(store, write_csv(tmp_path / "blocked.csv", LINES), settings, "aigerim")
        imported = {c["url"]: c for c in store.cases()}
    pages = [
        ("https://snezhok-new.example/", MOVED),  # the handle only
        (
            "https://snezhok-mirror.example/",
            SHOP.replace(SHOP_HANDLE, "@snezhok_new_example"),
        ),  # the text only
        ("https://kittens-copy.example/", HARMLESS),
    ]
    queue = score_pages(
        [write_pages(tmp_path / "run.jsonl", pages)], db_url, exported_model, tmp_path / "run"
    )
    rows = {row["url"]: row for row in queue.to_dict("records")}
    shop_id = imported["https://snezhok.example/"]["shop_id"]
    moved, copy = rows["https://snezhok-new.example/"], rows["https://snezhok-mirror.example/"]
    assert (moved["shop_id"], moved["known_status"], moved["match"]) == (
        shop_id,
        "confirmed",
        f"telegram {SHOP_HANDLE}",
    )
    assert (copy["shop_id"], copy["known_status"]) == (shop_id, "confirmed") and copy["match"].startswith(
        "text "
    )
    kittens = rows["https://kittens-copy.example/"]
    assert (kittens["shop_id"], kittens["known_status"]) == (
        imported["https://kittens.example/post/1"]["shop_id"],
        "rejected",
    )
    with CaseStore(db_url) as store:
        shop = store.shop(shop_id)
    assert {c["url"] for c in shop["cases"]} >= {"https://snezhok.example/", "https://snezhok-new.example/"}
    assert shop["status"] == "confirmed"
