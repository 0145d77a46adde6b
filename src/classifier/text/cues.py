"""Cue features: what an expert checks on a page, counted from a reviewed lexicon, and their pairs.

A violation is a drug *and* an offer of it (price, weight, stash delivery, contact, a call to buy or to
work), or praise of use. A linear model over n-grams adds evidence word by word and cannot express
"and": a legal honey shop has prices and a Telegram handle, a police report has drug names. So besides
each cue group's count, the model gets one feature per pair of groups found within a few words of
each other (``PAIRS``): "drug near price" is what a listing is, whatever its register.

The lexicon (``cue_lexicon.yaml``) is written for experts to read and extend; evidence names the
cues found ("наркотик: мефедрон · цена: 9000 ₸ · тайник: клад").
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from classifier.text.lexicon import (  # noqa: F401 (Lexicon and parse_lexicon: old pickles, tests)
    Lexicon,
    default_lexicon,
    parse_lexicon,
    word_group,
)

# Numbers with a currency or a weight: the patterns the meta features count (features.py), here with
# their positions. A number is at most 20 more digits and marks (see features._PRICE on why).
PATTERNS = {
    "price": re.compile(r"\d[\d\s.,]{0,20}\s?(?:₸|тг|тңг|тенге|теңге|тыс|мың|к\b|usdt|\$|btc|долл|руб)"),
    "weight": re.compile(r"\d[\d.,]{0,20}\s?(?:г|гр|грамм\w*|кг|g|шт|таб\w*|марк\w*)\b"),
}
PATTERN_LABELS = {"price": "цена", "weight": "вес"}
WINDOW = 12  # words: two cues this close belong to one statement (a listing line, a job offer)
_REMEMBERED_TEXTS = 4096  # more than a scoring chunk (score.chunk_size), whose evidence finds them again
_REMEMBERED_CHARS = 20_000_000  # and a bound on the memory the remembered texts keep alive

# Pairs of groups that make an offer, a job or praise of use, and the stance pairs that unmake one
PAIRS = (
    ("drug", "price"),
    ("drug", "weight"),
    ("drug", "delivery"),
    ("drug", "offer"),
    ("drug", "contact"),
    ("slang", "price"),
    ("slang", "weight"),
    ("slang", "delivery"),
    ("slang", "offer"),
    ("slang", "contact"),
    ("euphemism", "price"),
    ("euphemism", "weight"),
    ("euphemism", "delivery"),
    ("delivery", "price"),
    ("delivery", "contact"),
    ("delivery", "offer"),
    ("weight", "price"),
    ("recruit", "pay"),
    ("recruit", "drug_job"),
    ("recruit", "delivery"),
    ("recruit", "drug"),
    ("drug_job", "pay"),
    ("drug_job", "contact"),
    ("use", "drug"),
    ("use", "slang"),
    ("warning", "drug"),
    ("warning", "slang"),
    ("warning", "delivery"),
    ("warning", "offer"),
)
_PARTS = re.compile(r"[-/]")
_WORD = re.compile(r"[^\W\d]+(?:[-/][^\W\d]+)*|\d+(?:[-/][^\W\d]+)?|_[a-z]+_")


def _word_matches(word: str, entry: str) -> bool:
    return word.startswith(entry[:-1]) if entry.endswith("*") else word == entry


@dataclass(frozen=True)
class Cue:
    group: str
    text: str  # as found in the normalised text
    position: int  # word index


class CueFinder:
    """Finds the lexicon's cues and the price / weight patterns in normalised text, with positions."""

    def __init__(self, lexicon: Lexicon | None = None):
        self.lexicon = lexicon or default_lexicon()
        self._word_groups: dict[str, str | None] = {}
        self._longest = max((len(p) for p in self.lexicon.prefixes), default=0)
        self._phrase_starts: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        # phrases by their first word, whole or a beginning (``меф*``): a new word looks up its own
        # beginnings instead of testing every phrase
        self._phrases_by_word: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        self._phrases_by_prefix: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for words, group in self.lexicon.phrases:
            first = words[0]
            index = self._phrases_by_prefix if first.endswith("*") else self._phrases_by_word
            index.setdefault(first.removesuffix("*"), []).append((words, group))
        self._longest_phrase_prefix = max(map(len, self._phrases_by_prefix), default=0)
        self._phrase_order = {phrase: i for i, phrase in enumerate(self.lexicon.phrases)}
        self._found: dict[str, tuple[Cue, ...]] = {}
        self._remembered_chars = 0

    def phrases_from(self, word: str) -> list[tuple[tuple[str, ...], str]]:
        """The phrases whose first word ``word`` is, in lexicon order (cached: words repeat)."""
        found = self._phrase_starts.get(word)
        if found is None:
            found = list(self._phrases_by_word.get(word, ()))
            for end in range(1, min(len(word), self._longest_phrase_prefix) + 1):
                found.extend(self._phrases_by_prefix.get(word[:end], ()))
            found.sort(key=self._phrase_order.__getitem__)
            if len(self._phrase_starts) > 200_000:
                self._phrase_starts.clear()
            self._phrase_starts[word] = found
        return found

    def group_of(self, word: str) -> str | None:
        found = self._word_groups.get(word, "")
        if found != "":
            return found
        group = word_group(self.lexicon, word, self._longest)
        if len(self._word_groups) > 200_000:
            self._word_groups.clear()
        self._word_groups[word] = group
        return group

    def forget(self) -> None:
        """Drop the remembered texts: ``CueFeatures.transform`` starts each batch afresh."""
        self._found.clear()
        self._remembered_chars = 0

    def find(self, norm: str) -> tuple[Cue, ...]:
        """The cues of a text, remembered until the next batch: scoring finds them for the features,
        then again for the same batch's evidence."""
        found = self._found.get(norm)
        if found is None:
            found = tuple(self._find(norm))
            self._remembered_chars += len(norm)
            if len(self._found) >= _REMEMBERED_TEXTS or self._remembered_chars > _REMEMBERED_CHARS:
                self._found.clear()
                self._remembered_chars = len(norm)
            self._found[norm] = found
        return found

    def _find(self, norm: str) -> list[Cue]:
        starts, cues, words = [], [], []
        for index, match in enumerate(_WORD.finditer(norm)):
            starts.append(match.start())
            word = match.group()
            words.append(word)
            group = self.group_of(word)
            if group is not None:
                cues.append(Cue(group, word, index))
            if "-" in word or "/" in word:  # курьер-кладмен, закладка/магнит: each part counts too
                for part in _PARTS.split(word):
                    found = self.group_of(part)
                    if found is not None and found != group:
                        cues.append(Cue(found, part, index))
        # Phrases word by word: one regex alternation of them all cost 20x the rest of the search
        for index, word in enumerate(words):
            for phrase, group in self.phrases_from(word):
                following = words[index + 1 : index + len(phrase)]
                if len(following) == len(phrase) - 1 and all(map(_word_matches, following, phrase[1:])):
                    cues.append(Cue(group, " ".join(words[index : index + len(phrase)]), index))
        for name, pattern in PATTERNS.items():
            for match in pattern.finditer(norm):
                cues.append(Cue(name, match.group().strip(), bisect.bisect_right(starts, match.start()) - 1))
        return cues


# With ``stance``, a pair near a warning word (a seizure report, a warning that quotes a price list)
# counts apart from the same pair with no warning close: the one "and not" that tells a report from
# an offer, which neither a linear model nor a plain pair can express.
_STANCE_PAIRS = tuple(pair for pair in PAIRS if "warning" not in pair)
WARNED = "warned:"


def cue_feature_names(lexicon: Lexicon | None = None, stance: bool = False) -> tuple[str, ...]:
    groups = (lexicon or default_lexicon()).groups + tuple(PATTERNS)
    warned = tuple(f"cue={WARNED}{a}+{b}" for a, b in _STANCE_PAIRS) if stance else ()
    return (*(f"cue={g}" for g in groups), *(f"cue={a}+{b}" for a, b in PAIRS), *warned)


def cue_vector(cues: Sequence[Cue], groups: tuple[str, ...], stance: bool = False) -> list[float]:
    """log(1 + count) per group, then 1.0 for each pair of groups within ``WINDOW`` words.

    With ``stance`` a pair counts only where no warning word is within ``WINDOW`` words of it, and
    the pairs that have one come as features of their own (``warned:``)."""
    positions: dict[str, list[int]] = {}
    for cue in cues:
        positions.setdefault(cue.group, []).append(cue.position)
    counts = [math.log1p(len(positions.get(g, ()))) for g in groups]
    if not stance:
        return counts + [float(bool(_near(positions.get(a), positions.get(b)))) for a, b in PAIRS]
    warnings = positions.get("warning")
    plain, warned = [], {}
    for a, b in PAIRS:
        near = _near(positions.get(a), positions.get(b))
        if "warning" in (a, b) or not warnings:
            plain.append(float(bool(near)))
            warned[(a, b)] = 0.0
            continue
        close = [p for p in near if _near([p], warnings)]
        plain.append(float(len(close) < len(near)))
        warned[(a, b)] = float(bool(close))
    return counts + plain + [warned[pair] for pair in _STANCE_PAIRS]


def _near(first: list[int] | None, second: list[int] | None) -> list[int]:
    """The positions in ``first`` with a position of ``second`` within ``WINDOW`` words."""
    if not first or not second:
        return []
    ordered = sorted(second)
    found = []
    for position in first:
        at = bisect.bisect_left(ordered, position - WINDOW)
        if at < len(ordered) and ordered[at] <= position + WINDOW:
            found.append(position)
    return found


class CueFeatures(BaseEstimator, TransformerMixin):
    """Normalised texts -> cue counts and near pairs, a sparse block scaled by ``weight``."""

    def __init__(self, weight: float = 1.0, stance: bool = False):
        self.weight = weight
        self.stance = stance

    def fit(self, texts: Any, y: Any = None) -> CueFeatures:
        self.lexicon_ = default_lexicon()  # kept with the model: a later lexicon edit changes no model
        return self

    def finder(self) -> CueFinder:
        """The finder of the fitted lexicon, kept with its word caches across batches."""
        if getattr(self, "_finder_obj", None) is None:
            self._finder_obj = CueFinder(getattr(self, "lexicon_", None))
        return self._finder_obj

    def transform(self, texts: Any) -> sp.csr_matrix:
        finder = self.finder()
        finder.forget()  # only this batch's texts are remembered, for its evidence
        groups = finder.lexicon.groups + tuple(PATTERNS)
        values = texts.tolist() if isinstance(texts, pd.Series) else list(texts)
        stance = getattr(self, "stance", False)  # models pickled before stance pairs existed
        rows = [cue_vector(finder.find(text), groups, stance) for text in values]
        width = len(cue_feature_names(finder.lexicon, stance))
        return sp.csr_matrix(np.asarray(rows, dtype=np.float64).reshape(len(rows), width) * self.weight)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(
            cue_feature_names(self.finder().lexicon, getattr(self, "stance", False)), dtype=object
        )

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_finder_obj"}


# Cities and regions of Kazakhstan (Russian and Kazakh stems): where a page is, never why it is a
# violation. A model trained on any corpus picks up its cities; evidence must not show them.
_PLACES = re.compile(
    r"(?:алмат|астан|нур-султан|шымкент|караганд|қарағанд|актоб|ақтөбе|тараз|павлодар|усть-каменогорск"
    r"|өскемен|семипалатинск|уральск|атырау|костана|қостанай|актау|ақтау|кызылорд|қызылорд|петропавл"
    r"|талдыкорган|талдықорған|туркестан|түркістан|экибастуз|екібастұз|темиртау|теміртау|жезказган"
    r"|жезқазған|кокшета|көкшета|конаев|қонаев|балхаш|балқаш|байконур|байқоңыр|жанаозен|жаңаөзен"
    r"|сатпаев|сәтбаев|рудн|аксу|ақсу|каскелен|қаскелең|есик|есік|талгар|талғар|капшагай|қапшағай)\w*"
    r"|семей|семее|орал|оралда|оралға"
)


def is_place_name(word: str) -> bool:
    return _PLACES.fullmatch(word) is not None


def cue_label(group: str, lexicon: Lexicon | None = None) -> str:
    return PATTERN_LABELS.get(group) or (lexicon or default_lexicon()).labels.get(group, group)
