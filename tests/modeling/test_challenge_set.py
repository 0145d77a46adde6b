"""The challenge set (data/challenge/): well-formed, as large as issue 15 asks, fake contacts only."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from classifier.text.contacts import find_contacts

CHALLENGE = Path(__file__).resolve().parents[2] / "data" / "challenge" / "challenge.jsonl"
FIELDS = {"id", "text", "label", "category", "lang", "register", "disguised", "hard_negative"}
FIELDS |= {"pair_id", "pair_kind", "author"}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [json.loads(line) for line in CHALLENGE.read_text(encoding="utf-8").splitlines()]


def test_every_row_is_complete_and_consistent(rows: list[dict]) -> None:
    assert len(rows) >= 400
    assert len({r["id"] for r in rows}) == len(rows)
    assert len({r["text"] for r in rows}) == len(rows)
    for row in rows:
        assert set(row) == FIELDS, row["id"]
        assert row["label"] in (0, 1) and row["lang"] in ("ru", "kk", "mixed") and row["text"].strip()
        assert (row["category"] == "none") == (row["label"] == 0), row["id"]
        assert row["category"] in ("sale", "recruitment", "propaganda", "none")
        assert not (row["hard_negative"] and row["label"] == 1), row["id"]
    counts = Counter((r["label"], r["lang"]) for r in rows)
    assert min(counts.values()) >= 30  # both classes in every language


def test_at_least_100_minimal_pairs_each_one_violation_and_one_not(rows: list[dict]) -> None:
    pairs: dict[str, list[dict]] = {}
    for row in rows:
        if row["pair_id"]:
            pairs.setdefault(row["pair_id"], []).append(row)
    assert len(pairs) >= 100
    for pair_id, members in pairs.items():
        assert sorted(m["label"] for m in members) == [0, 1], pair_id
        assert {m["pair_kind"] for m in members} in ({"goods"}, {"stance"}), pair_id
        assert len({m["lang"] for m in members}) == 1, pair_id


def test_contacts_are_fake(rows: list[dict]) -> None:
    for row in rows:
        text, contacts = row["text"], find_contacts(row["text"])
        for handle in contacts.get("telegram", []):
            assert handle.lower().rstrip("/").endswith("_example"), (row["id"], handle)
        for phone in re.findall(r"(?:\+7|\b8)[\s\-(]*\d{3}[\s\-)]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}", text):
            assert re.fullmatch(r"[78]700000000\d", re.sub(r"\D", "", phone)), (row["id"], phone)
        for domain in re.findall(r"\b((?:[a-z0-9\-]+\.)+[a-z]{2,})\b", text.lower()):
            if "." in domain and not re.fullmatch(r"(?:\d+\.)+\d+|t\.me|[a-z]\.[a-z]", domain):
                assert domain.endswith((".example", ".invalid")), (row["id"], domain)
        for card in re.findall(r"\b\d{4}[ \-]?\d{4}[ \-]?\d{4}[ \-]?\d{4}\b", text):
            assert set(re.sub(r"\D", "", card)[4:12]) == {"0"}, (row["id"], card)
