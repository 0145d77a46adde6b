"""The case page's text with the model's evidence marked, as plain segments for the template to escape.

The evidence names words as the model read them: lower-cased and de-obfuscated ("закладки" for
"ЗАКЛАДКИ" or "3aкладки", "курьер" for "К*у*р*ь*е*р"), contacts as placeholders (``_tg_``), emoji as
tokens (``emoji_snowflake``), every digit as 0 ("00к" for "14к"). So the page is read the same way,
piece by piece with each piece's place kept: contacts, emoji, spelled-out words, then words, each
normalised as the model's normalisation would. A word reason is one such token; a cue reason
(``kind: cue``) is the text the cue finder found, which may be a phrase ("за адрес", "14 000 тг") and
keeps its digits. Nothing here produces markup: the template wraps marked segments, and Jinja escapes
every character.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from classifier.text.contacts import CLUES, PATTERNS
from classifier.text.emoji import EMOJI_TOKENS
from classifier.text.normalize import PLACEHOLDERS, SPELLED, normalize_text

# Python's \w covers Cyrillic, Kazakh and the styled "math" letters sellers use; digits and
# look-alike symbols inside a word (3aклaдки, кл@дмен), and a "*" hiding a letter (м*ф), stay part of it.
_WORD = re.compile(r"[\w@$€]+(?:[.\-'’*][\w]+)*")
# The emoji the model reads as tokens, with the variation selector that often follows (❄️ is ❄ U+FE0F).
_EMOJI = re.compile("([" + "".join(re.escape(e) for e in EMOJI_TOKENS) + "])\ufe0f?")
# one script, letters only, none held three times (мееееф): normalising changes nothing
_PLAIN = re.compile(r"(?!\w*(\w)\1\1)(?:[a-z]+|[а-яёәғқңөұүһі]+)")
_TOKEN = re.compile(r"\w+")
_NONZERO_DIGIT = re.compile(r"[1-9]")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Segment:
    text: str
    sentence: bool = False  # inside a sentence the evidence quotes
    term: str = ""  # the evidence word this span is (as the model read it), "" for other text


@dataclass(frozen=True)
class Term:
    """What an evidence item names, as the page's pieces are compared with it."""

    term: str  # lower-cased, as the evidence gives it (Segment.term)
    tokens: tuple[str, ...]
    literal: bool  # digits as written (a cue's text); else by shape, every digit 1-9 read as 0


def term_of(evidence: Mapping[str, Any]) -> Term | None:
    """The words an evidence item names in the text, or None (a page signal, or not the model's words)."""
    term = str(evidence.get("term") or "").lower()
    kind = evidence.get("kind", "word")
    if kind == "word":
        # a word reason is one token of tokenize(); anything else is not a word the model read
        return Term(term, (_shape(term),), False) if _TOKEN.fullmatch(term) else None
    if kind == "cue":  # the words the cue finder found (or, found nowhere, its group's label)
        tokens = tuple(_TOKEN.findall(term))
        return Term(term, tokens, True) if tokens else None
    return None


def _shape(token: str) -> str:
    return _NONZERO_DIGIT.sub("0", token) if _DIGIT.search(token) else token


@lru_cache(maxsize=50_000)
def _word_tokens(word: str) -> tuple[str, ...]:
    folded = word.casefold()
    if _PLAIN.fullmatch(folded):  # most words: no disguise to undo, no normalisation to pay for
        return (folded,)
    return tuple(_TOKEN.findall(normalize_text(word, placeholders=False)))


def _pieces(text: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """(start, end, tokens as the model read them) for the page's contacts, emoji, spelled-out and
    plain words, in order. Earlier kinds win where they overlap, as in normalisation: a handle is
    ``_tg_``, not a word."""
    taken = bytearray(len(text))
    pieces: list[tuple[int, int, tuple[str, ...]]] = []

    def take(start: int, end: int, tokens: tuple[str, ...]) -> None:
        if tokens and not any(taken[start:end]):
            taken[start:end] = b"\x01" * (end - start)
            pieces.append((start, end, tokens))

    folded = text.casefold()
    for kind, token in PLACEHOLDERS.items():
        if not CLUES[kind](folded):  # the clue normalisation asks for before it runs the pattern
            continue
        for match in PATTERNS[kind].finditer(text):
            take(match.start(), match.end(), (token.strip(),))
    for match in _EMOJI.finditer(text):
        take(match.start(), match.end(), ("emoji_" + EMOJI_TOKENS[match.group(1)],))
    for match in SPELLED.finditer(text):  # as normalisation joins them: word by word they are letters
        take(match.start(), match.end(), _word_tokens(match.group()))
    for match in _WORD.finditer(text):
        take(match.start(), match.end(), _word_tokens(match.group()))
    pieces.sort()
    return pieces


class Found:
    """Where each term occurs in a text: (start, end) spans of whole pieces, in order."""

    def __init__(self, text: str, terms: Iterable[Term]):
        self.text = text
        self.spans: dict[Term, list[tuple[int, int]]] = {}
        terms = set(terms)
        if not terms or not text:
            self.spans = {term: [] for term in terms}
            return
        literal, starts, ends = [], [], []
        for start, end, tokens in _pieces(text):
            for token in tokens:
                literal.append(token)
                starts.append(start)
                ends.append(end)
        lists: dict[bool, list[str]] = {False: literal}
        indexes: dict[bool, dict[str, list[int]]] = {}
        for term in terms:
            by_shape = not term.literal and any(_DIGIT.search(t) for t in term.tokens)
            if by_shape not in indexes:
                if by_shape:
                    lists[True] = [_shape(t) for t in literal]
                indexes[by_shape] = _index(lists[by_shape])
            words, n = lists[by_shape], len(term.tokens)
            self.spans[term] = [
                (starts[at], ends[at + n - 1])
                for at in indexes[by_shape].get(term.tokens[0], ())
                if n == 1 or tuple(words[at : at + n]) == term.tokens
            ]

    def forms(self, term: Term | None) -> list[str]:
        """The distinct ways the page writes ``term``, in order, spaces collapsed ("14к", "25к")."""
        seen: dict[str, str] = {}
        for start, end in self.spans.get(term, ()) if term else ():
            form = " ".join(self.text[start:end].split())
            seen.setdefault(form.casefold(), form)
        return list(seen.values())


def _index(words: list[str]) -> dict[str, list[int]]:
    positions: dict[str, list[int]] = {}
    for at, word in enumerate(words):
        positions.setdefault(word, []).append(at)
    return positions


def _sentence_spans(text: str, sentences: Iterable[str]) -> Iterable[tuple[int, int]]:
    for sentence in {s for s in sentences if s and len(s) >= 8}:
        start = text.find(sentence)
        while start != -1:
            yield start, start + len(sentence)
            start = text.find(sentence, start + len(sentence))


def marks_words(evidence: Mapping[str, Any]) -> bool:
    """A reason for a violation that names words (page signals such as "цены: 2" name none)."""
    weight = evidence.get("weight", 1)
    positive = not isinstance(weight, int | float) or weight > 0
    return positive and evidence.get("kind", "word") in ("word", "cue")


def _weight(evidence: Mapping[str, Any]) -> float:
    """A weight to order reasons by; 0 for what is none (text, or an integer too large for a float)."""
    weight = evidence.get("weight", 0)
    try:
        return float(weight) if isinstance(weight, int | float) else 0.0
    except OverflowError:
        return 0.0


def highlight(
    text: str, evidence: Iterable[Any], sentences: bool = True, found: Found | None = None
) -> list[Segment]:
    """``text`` cut into segments, each flagged as evidence word, evidence sentence, or neither.

    ``found`` is where the evidence's terms occur (``Found``), when the caller has it already."""
    evidence = sorted(  # the strongest reason first: it names a span two reasons share
        (e for e in evidence if isinstance(e, Mapping) and marks_words(e)), key=lambda e: -_weight(e)
    )
    terms = [t for t in map(term_of, evidence) if t is not None]
    if found is None or any(t not in found.spans for t in terms):
        found = Found(text, terms)
    n = len(text)
    in_sentence = bytearray(n)
    cuts = {0, n}
    if sentences:
        for start, end in _sentence_spans(text, (str(e.get("sentence") or "") for e in evidence)):
            in_sentence[start:end] = b"\x01" * (end - start)
            cuts.update((start, end))
    term_at: list[str] = [""] * n if terms else []
    for term in terms:
        for start, end in found.spans[term]:
            for i in range(start, end):
                term_at[i] = term_at[i] or term.term
            cuts.update((start, end))
    # a segment's flags change only where a span starts or ends: look there, not at every character
    segments: list[Segment] = []
    bounds = sorted(cuts)
    start = 0
    for i in bounds[1:]:
        if i == n or in_sentence[i] != in_sentence[start] or (term_at and term_at[i] != term_at[start]):
            segments.append(
                Segment(text[start:i], bool(in_sentence[start]), term_at[start] if term_at else "")
            )
            start = i
    return segments
