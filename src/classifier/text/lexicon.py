"""The reviewed cue lexicon (``cue_lexicon.yaml``): what an expert names as evidence, by group.

Cue features (``cues.py``) count its entries; normalisation asks it which word a masked one stands for
(``м*ф`` -> ``меф``). It lives apart from the features so that normalising text needs no scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files
from typing import Any

import yaml

MASK = "*"
_MAX_MASKS = 3  # more hidden letters leave too many words that fit


@dataclass(frozen=True)
class Lexicon:
    labels: dict[str, str]  # group -> what experts call it
    words: dict[str, str]  # whole word -> group
    prefixes: dict[str, str]  # word beginning -> group
    phrases: tuple[tuple[tuple[str, ...], str], ...]  # (words, each maybe ending in *), group

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(self.labels)


def parse_lexicon(raw: dict[str, Any]) -> Lexicon:
    labels, words, prefixes, phrases = {}, {}, {}, []
    for group, spec in raw.items():
        labels[group] = str(spec["label"])
        for entry in spec["entries"]:
            entry = str(entry).casefold()
            if " " in entry:
                phrases.append((tuple(entry.split()), group))
            elif entry.endswith("*"):
                prefixes.setdefault(entry[:-1], group)
            else:
                words.setdefault(entry, group)
    return Lexicon(labels, words, prefixes, tuple(phrases))


def word_group(lexicon: Lexicon, word: str, longest_prefix: int) -> str | None:
    """A word's group: the whole word's, else its longest beginning's (мефедрон before меф…)."""
    group = lexicon.words.get(word)
    if group is None:
        for end in range(min(len(word), longest_prefix), 1, -1):
            group = lexicon.prefixes.get(word[:end])
            if group is not None:
                break
    return group


@cache
def default_lexicon() -> Lexicon:
    text = files("classifier.text").joinpath("cue_lexicon.yaml").read_text(encoding="utf-8")
    return parse_lexicon(yaml.safe_load(text))


def _fits(masked: str, known: str) -> bool:
    return all(m in (MASK, k) for m, k in zip(masked, known, strict=False))


@lru_cache(maxsize=4096)
def fill_masks(masked: str) -> str | None:
    """The word a masked lexicon word stands for (``м*ф`` -> ``меф``, ``з*кладки`` -> ``закладки``).

    Each ``*`` hides one letter. A word is filled only when every entry that fits fills it the same way:
    ``х*й`` and other masked words the lexicon does not hold stay as written.
    """
    masks = masked.count(MASK)
    known = len(masked) - masks
    if not 0 < masks <= _MAX_MASKS or known < max(2, masks + 1):
        return None
    lexicon = default_lexicon()
    fills = {word for word in lexicon.words if len(word) == len(masked) and _fits(masked, word)}
    for prefix in lexicon.prefixes:
        # the prefix must cover every mask: a letter hidden after it is not known
        if len(prefix) <= len(masked) and MASK not in masked[len(prefix) :] and _fits(masked, prefix):
            fills.add(prefix + masked[len(prefix) :])
    return fills.pop() if len(fills) == 1 else None


@cache
def _longest_default_prefix() -> int:
    return max(map(len, default_lexicon().prefixes), default=0)


@lru_cache(maxsize=4096)
def in_lexicon(word: str) -> bool:
    """Whether a word is a lexicon entry or starts with one of its beginnings (закладки: закладк*)."""
    return word_group(default_lexicon(), word, _longest_default_prefix()) is not None
