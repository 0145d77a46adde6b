"""Hand-written pages: whole texts by independent authors, mixed into the demo corpus.

Template families teach a model their own phrasing: twenty pages of one family share a skeleton. The
texts in ``written/*.jsonl`` were each written as a whole, by helpers who saw only the domain primer and
a brief (never the generator, its families or the challenge set), in the registers and voices of the
web. A share ``corpus.written_share`` of the pages is one of them, put into a layout and encoded like
any page. Texts of one ``group`` share a theme (or form a minimal pair) and become one family, so the
family hold-out keeps them on one side.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import pandas as pd

from classifier.corpus.templates import CATEGORIES, LANGS, LAYOUTS, Family

FIELDS = ("group", "label", "category", "lang", "register", "layout", "disguised", "hard", "title", "text")
BY_AUTHOR = "by_author"  # the `obfuscations` of a page its author disguised (kinds not recorded)
FAMILY_PREFIX = "written_"  # a written page's family is this plus its group


def is_written(families: pd.Series) -> pd.Series:
    """Which rows of a labels table (by their ``family``) are written pages, not templates."""
    return families.astype(str).str.startswith(FAMILY_PREFIX)


class WrittenTextError(ValueError):
    """A line of a written-text file that is not a usable page: the message names file and line."""


@dataclass(frozen=True)
class WrittenText:
    family: Family
    title: str
    blocks: tuple[str, ...]
    disguised: bool


def parse_written(raw: dict, where: str) -> WrittenText:
    missing = [f for f in FIELDS if f not in raw]
    problems = [f"missing {', '.join(missing)}"] if missing else []
    label, category = raw.get("label"), raw.get("category")
    if label not in (0, 1):
        problems.append("label must be 0 or 1")
    elif (label == 1 and category not in CATEGORIES) or (label == 0 and category != "none"):
        problems.append(f"category {category!r} does not fit label {label}")
    if raw.get("lang") not in LANGS:
        problems.append(f"lang must be one of {LANGS}")
    if raw.get("layout") not in LAYOUTS:
        problems.append(f"layout must be one of {LAYOUTS}")
    blocks = tuple(line.strip() for line in str(raw.get("text", "")).split("\n") if line.strip())
    if not blocks:
        problems.append("empty text")
    if problems:
        raise WrittenTextError(f"{where}: " + "; ".join(problems))
    family = Family(
        name=f"{FAMILY_PREFIX}{raw['group']}",
        label=label,
        category=category,
        kind=str(raw["register"]),
        hard=bool(raw["hard"]) and label == 0,
        lang=raw["lang"],
        layouts=(raw["layout"],),
        title=(),
        pools={},
        parts=(),
        source=where.split(":")[0],
    )
    return WrittenText(family, str(raw["title"]).strip(), blocks, bool(raw["disguised"]))


def load_written_from(path: Path) -> list[WrittenText]:
    texts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            texts.append(parse_written(json.loads(line), f"{path.name}:{number}"))
    return texts


@cache
def load_written() -> tuple[WrittenText, ...]:
    """Every written text shipped with the package, in file order."""
    folder = resources.files("classifier.corpus") / "written"
    if not folder.is_dir():
        return ()
    texts: list[WrittenText] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".jsonl"):
            texts.extend(load_written_from(Path(str(entry))))
    return tuple(texts)


class WrittenDeck:
    """The written texts in a seeded order, dealt one by one; a new shuffle once all are used.

    Each text appears once before any repeats, so a corpus with fewer written pages than texts has
    no copies.
    """

    def __init__(self, texts: tuple[WrittenText, ...], seed: int):
        self.texts = texts
        self.rng = random.Random(f"written:{seed}")
        self.order: list[int] = []

    def __bool__(self) -> bool:
        return bool(self.texts)

    def deal(self) -> WrittenText:
        if not self.order:
            self.order = list(range(len(self.texts)))
            self.rng.shuffle(self.order)
        return self.texts[self.order.pop()]
