"""The case page's text with the model's evidence marked, as plain segments for the template to escape.

The evidence names words as the model read them: lower-cased and de-obfuscated ("закладки" for
"ЗАКЛАДКИ" or "3aкладки"), contacts as placeholders (``_tg_``). So each word of the original text is
normalised the same way before it is compared, and placeholders mark the contacts they stand for.
Nothing here produces markup: the template wraps marked segments, and Jinja escapes every character.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from classifier.text.contacts import PATTERNS
from classifier.text.normalize import PLACEHOLDERS, normalize_text
from classifier.text.words import tokenize

# Python's \w covers Cyrillic, Kazakh and the styled "math" letters sellers use; digits and
# look-alike symbols inside a word (3aклaдки) stay part of it.
_WORD = re.compile(r"[\w@$€]+(?:[.\-'’][\w]+)*")
_PLACEHOLDER_KINDS: dict[str, list[str]] = {}
for _kind, _token in PLACEHOLDERS.items():
    _PLACEHOLDER_KINDS.setdefault(_token.strip(), []).append(_kind)


@dataclass(frozen=True)
class Segment:
    text: str
    sentence: bool = False  # inside a sentence the evidence quotes
    term: str = ""  # the evidence word this span is (as the model read it), "" for other text


@lru_cache(maxsize=50_000)
def _word_tokens(word: str) -> frozenset[str]:
    return frozenset(tokenize(normalize_text(word, placeholders=False).lower()))


def _term_spans(text: str, terms: set[str]) -> Iterable[tuple[int, int, str]]:
    placeholders = terms & set(_PLACEHOLDER_KINDS)
    for term in placeholders:
        for kind in _PLACEHOLDER_KINDS[term]:
            for match in PATTERNS[kind].finditer(text):
                yield match.start(), match.end(), term
    words = terms - placeholders
    if not words:
        return
    for match in _WORD.finditer(text):
        found = _word_tokens(match.group()) & words
        if found:
            yield match.start(), match.end(), min(found)


def _sentence_spans(text: str, sentences: Iterable[str]) -> Iterable[tuple[int, int]]:
    for sentence in {s for s in sentences if s and len(s) >= 8}:
        start = text.find(sentence)
        while start != -1:
            yield start, start + len(sentence)
            start = text.find(sentence, start + len(sentence))


def _marks_words(evidence: Mapping[str, Any]) -> bool:
    weight = evidence.get("weight", 1)
    positive = not isinstance(weight, int | float) or weight > 0
    return positive and evidence.get("kind", "word") in ("word", "cue")


def highlight(text: str, evidence: Iterable[Mapping[str, Any]], sentences: bool = True) -> list[Segment]:
    """``text`` cut into segments, each flagged as evidence word, evidence sentence, or neither."""
    # reasons for a violation, found in the text; page signals ("цены: 2") are no words to mark
    evidence = [e for e in evidence if isinstance(e, Mapping) and _marks_words(e)]
    terms = {str(e.get("term") or "").lower() for e in evidence} - {""}
    n = len(text)
    in_sentence = bytearray(n)
    if sentences:
        for start, end in _sentence_spans(text, (str(e.get("sentence") or "") for e in evidence)):
            in_sentence[start:end] = b"\x01" * (end - start)
    term_at: list[str] = [""] * n if terms else []
    for start, end, term in _term_spans(text, terms):
        for i in range(start, end):
            term_at[i] = term_at[i] or term
    segments: list[Segment] = []
    start = 0
    for i in range(1, n + 1):
        if i == n or in_sentence[i] != in_sentence[start] or (term_at and term_at[i] != term_at[start]):
            segments.append(
                Segment(text[start:i], bool(in_sentence[start]), term_at[start] if term_at else "")
            )
            start = i
    return segments
