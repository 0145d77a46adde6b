"""The hand-written corpus texts (corpus/written/): well-formed, fake contacts, apart from the challenge set."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import replace
from importlib import resources
from pathlib import Path

import pytest

from classifier.common.config import CorpusSettings
from classifier.corpus.pages import iter_pages
from classifier.corpus.written import BY_AUTHOR, load_written
from classifier.text.contacts import find_contacts

WRITTEN = Path(str(resources.files("classifier.corpus") / "written"))
CHALLENGE = Path(__file__).resolve().parents[2] / "data" / "challenge" / "challenge.jsonl"


def _rows() -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(WRITTEN.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return _rows()


def test_every_text_loads_and_both_labels_are_in_every_language(rows: list[dict]) -> None:
    texts = load_written()
    assert len(texts) == len(rows) >= 500
    assert len({r["text"] for r in rows}) == len(rows)
    counts = Counter((t.family.label, t.family.lang) for t in texts)
    assert min(counts[(label, lang)] for label in (0, 1) for lang in ("ru", "kk", "mixed")) >= 20


def test_pairs_are_one_violation_and_one_not_in_one_group(rows: list[dict]) -> None:
    pairs: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if row.get("pair"):
            pairs[row["pair"]].append(row)
    assert pairs
    for pair, members in pairs.items():
        assert sorted(m["label"] for m in members) == [0, 1], pair
        assert len({m["group"] for m in members}) == 1, pair


def test_contacts_are_fake(rows: list[dict]) -> None:
    for row in rows:
        text = row["title"] + "\n" + row["text"]
        for handle in find_contacts(text).get("telegram", []):
            assert handle.lower().rstrip("/").endswith("_example"), (row["group"], handle)
        for phone in re.findall(r"(?:\+7|\b8)[\s\-(]*\d{3}[\s\-)]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}", text):
            assert re.fullmatch(r"[78]700000000\d", re.sub(r"\D", "", phone)), (row["group"], phone)
        for domain in re.findall(r"\b((?:[a-z0-9\-]+\.)+[a-z]{2,})\b", text.lower()):
            if not re.fullmatch(r"(?:\d+\.)+\d+|t\.me|[a-z]\.[a-z]", domain):
                assert domain.endswith((".example", ".invalid")), (row["group"], domain)
        for card in re.findall(r"\b\d{4}[ \-]?\d{4}[ \-]?\d{4}[ \-]?\d{4}\b", text):
            assert set(re.sub(r"\D", "", card)[4:12]) == {"0"}, (row["group"], card)


def _shingles(text: str, size: int = 5) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + size]) for i in range(max(1, len(words) - size + 1))}


def test_no_written_text_repeats_a_challenge_text(rows: list[dict]) -> None:
    """The challenge set judges what these texts teach: their authors never saw it, and it shows."""
    challenge = [json.loads(line) for line in CHALLENGE.read_text(encoding="utf-8").splitlines()]
    index: dict[tuple[str, ...], set[int]] = defaultdict(set)
    for number, row in enumerate(challenge):
        for shingle in _shingles(row["text"]):
            index[shingle].add(number)
    for row in rows:
        own = _shingles(row["text"])
        shared = Counter(n for s in own for n in index.get(s, ()))
        for number, count in shared.items():
            smaller = min(len(own), len(_shingles(challenge[number]["text"])))
            assert count / smaller < 0.5, (row["group"], challenge[number]["id"])


def test_a_share_of_the_corpus_is_written_and_its_disguise_is_the_authors() -> None:
    pages = [page for page, origin in iter_pages(CorpusSettings(), 400, seed=5) if origin is None]
    written = [p for p in pages if p.labels["family"].startswith("written_")]
    assert 0.59 < len(written) / len(pages) < 0.81  # written_share 0.70
    by_family: dict[str, list] = {}
    for text in load_written():
        by_family.setdefault(text.family.name, []).append(text)

    def source(page) -> tuple:
        """(the written text, whether the page shows it whole); a preview keeps opening and last line."""
        for text in by_family[page.labels["family"]]:
            if text.blocks == page.blocks:
                return text, True
            head, last = page.blocks[:-1], page.blocks[-1]
            if text.blocks[: len(head)] == head and text.blocks[-1] == last and len(text.blocks) > 2:
                return text, False
        raise AssertionError(f"no written text behind {page.url}")

    by_author = [p for p in written if p.labels["obfuscations"] == BY_AUTHOR]
    assert by_author and all(source(p)[0].disguised for p in by_author)
    plain = [p for p in written if not p.labels["obfuscations"]]
    previews = [p for p in plain if not source(p)[1]]
    assert previews and all(p.labels["label"] == 0 for p in previews)  # only legal texts are cut
    none = [p for p, _ in iter_pages(replace(CorpusSettings(), written_share=0.0), 100, seed=5)]
    assert not any(p.labels["family"].startswith("written_") for p in none)
