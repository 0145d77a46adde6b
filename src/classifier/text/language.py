"""The language of a text: Russian, Kazakh, or mixed. Kazakh's own letters and common words decide
between the two, which a general detector (lingua) often confuses on short texts.
"""

from __future__ import annotations

import re
from functools import cache

from classifier.common.surrogates import without_surrogates
from classifier.text.normalize import replace_contacts

# the block's letters: U+0482-U+0489 are a sign and combining marks, not letters
_CYRILLIC_LETTER = re.compile(r"[\u0400-\u0481\u048a-\u04ff]")
_CYRILLIC_WORD = re.compile(r"[\u0400-\u04ff]+")
_SEGMENT = re.compile(r"[^.!?\n]+")

KAZAKH_LETTERS = frozenset("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
_KAZAKH_LETTER = re.compile(f"[{''.join(sorted(KAZAKH_LETTERS))}]")
_KAZAKH_WORDS = frozenset(
    [
        "және",
        "мен",
        "бен",
        "пен",
        "деп",
        "бұл",
        "үшін",
        "жоқ",
        "бар",
        "осы",
        "сол",
        "бір",
        "екі",
        "болып",
        "бойынша",
        "туралы",
        "керек",
        "емес",
        "тез",
        "жаз",
        "сатамыз",
    ]
)


def kazakh_share(text: str) -> float:
    """Share of Cyrillic letters in segments that read as Kazakh (by its own letters or words).

    Short segments (price lines, menu items: fewer than four words) are left out when there are
    sentences to judge by: Kazakh ads list Russian street names, which does not make them Russian.
    """
    counted = [(0, 0), (0, 0)]  # (kazakh letters, all letters) for short and for full segments
    for segment in _SEGMENT.findall(text):
        words = _CYRILLIC_WORD.findall(segment.lower())
        letters = sum(map(len, words))
        if not letters:
            continue
        kazakh = _KAZAKH_LETTER.search(segment) is not None or any(w in _KAZAKH_WORDS for w in words)
        full = len(words) >= 4
        kk, total = counted[full]
        counted[full] = (kk + letters * kazakh, total + letters)
    kk, total = counted[1] if counted[1][1] else counted[0]
    return kk / total if total else 0.0


@cache
def _lingua_detector():  # built on first use: it loads language models
    from lingua import Language, LanguageDetectorBuilder

    languages = [Language.RUSSIAN, Language.KAZAKH, Language.ENGLISH]
    return LanguageDetectorBuilder.from_languages(*languages).build()


_TOKENS = re.compile(r"\b(?:emoji)?_[a-z]+_?\b")


def detect_language(text: str) -> str:
    """``ru``, ``kk``, ``mixed`` or ``other``: Kazakh letters decide; lingua settles the unclear cases."""
    text = _TOKENS.sub(" ", replace_contacts(text[:5000].casefold()))  # contact clues are lower-case
    letters = sum(map(str.isalpha, text))  # counted in C: this runs on every page
    if not letters:
        return "other"
    if len(_CYRILLIC_LETTER.findall(text)) / letters < 0.5:
        return "other"
    share = kazakh_share(text)
    if 0.25 <= share <= 0.75:
        return "mixed"
    if share > 0.75:
        return "kk"
    if share == 0 and letters >= 80:
        return "ru"
    # lingua (Rust) takes valid Unicode only: a lone surrogate (a JSON row's "\ud800" escape) would raise
    found = _lingua_detector().detect_language_of(without_surrogates(text[:1000]))
    if found is not None and found.name == "KAZAKH":
        return "mixed" if share > 0 else "kk"
    return "ru"
