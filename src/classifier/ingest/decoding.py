"""Bytes to text for crawled pages: BOM, then a declared charset, then detection, else UTF-8.

Russian and Kazakh sites still serve windows-1251, koi8-r, cp866, kz1048 and mac-cyrillic, often
undeclared and sometimes declared wrongly. A charset declared in the HTTP header or a meta tag is used
whenever the bytes decode under it, unless another Cyrillic charset makes the page read far more like
Russian or Kazakh. Whether a text reads like Russian or Kazakh is measured on case-folded letters
(letter-pair frequencies of real text, ``letter_pairs.json``), so a page written in capitals reads as
well as one in lower case; the case pattern of words (``зАКЛАДКИ`` is no word) and characters that prose
never has (box drawing, Serbian letters in a Russian word) count against a reading.

Hand-written because no detector on PyPI does this (measured on 450 real Russian and Kazakh texts):
chardet 7 and 5 read windows-1251, koi8-r and kz1048 pages written in capitals wrongly every time,
and uchardet (cchardet) knows no kz1048 and reads cp866 capitals wrongly. charset-normalizer is kept
for pages that are not Cyrillic at all.
"""

from __future__ import annotations

import codecs
import json
import re
import warnings
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import AnyStr

import numpy as np
from charset_normalizer import from_bytes

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-:.]+)", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_UTF16_SAMPLE = 2000

# Single-byte Cyrillic charsets seen on Russian and Kazakh sites, and how much less likely each is than
# windows-1251 before the page is read (a log-probability: the evidence a reading must add to win).
# Texts that decode alike, or nearly, go to the common one.
CYRILLIC_CANDIDATES = {
    "windows-1251": 0.0,
    "kz1048": 0.5,  # windows-1251 with Kazakh letters instead of Serbian and Macedonian ones
    "koi8-r": 1.0,
    "cp866": 2.0,
    "mac-cyrillic": 4.0,  # windows-1251's lower case, with capitals where windows-1251 has punctuation
    "iso8859-5": 4.0,
}
# A declared charset gives way only to a reading this much better per letter, on at least this many
# letters. A wrong Cyrillic charset reads 2-5 worse than the right one (see benchmarks/decoding.py).
OVERRULE_MARGIN = 1.5
OVERRULE_MIN_LETTERS = 12
# Detection without a declaration trusts a Cyrillic reading only above this (log-probability per letter):
# Western pages (accented Latin letters read as Cyrillic ones inside Latin words) read far below it under
# every Cyrillic charset, and go to charset-normalizer.
DETECTION_FLOOR = -8.0
# Reading a page: the non-ASCII runs of its first bytes, with one byte either side, up to this many bytes.
_SAMPLE_SCAN_BYTES = 200_000
_SAMPLE_BYTES = 8_000
_NON_ASCII_RUN = re.compile(rb"[\x80-\xff]+")
_NON_ASCII_TEXT_RUN = re.compile("[^\x00-\x7f]+")

# Characters a reading is scored on: the letters, a word boundary (anything ASCII but Latin letters, and
# the typographic punctuation Russian pages use), Latin letters, junk (any other character), and marks
# that open or close a phrase: like a boundary, except glued to the wrong side of a word.
_PAIRS = json.loads((Path(__file__).with_name("letter_pairs.json")).read_text(encoding="utf-8"))
_ALPHABET: str = _PAIRS["alphabet"]
_BOUNDARY = len(_ALPHABET)
_LATIN = _BOUNDARY + 1
_JUNK = _BOUNDARY + 2
_OPENING, _CLOSING = _BOUNDARY + 3, _BOUNDARY + 4
_PUNCTUATION = "№“‘•·\xa0°×₸©"
_OPENING_MARKS = "«„"  # never right after a letter
_CLOSING_MARKS = "»…–—”’"  # never right before a letter: Russian sets dashes apart with spaces
_MIXED_SCRIPT_LOGP = -6.0  # a Latin letter next to a Cyrillic one (look-alike spelling, or a wrong reading)
_GLUED_MARK_LOGP = -6.0  # "слово«", "»слово", "—слово": capitals of windows-1251 read as mac-cyrillic
_JUNK_LOGP = -10.0
_CASE_FLIP_PENALTY = 8.0  # a lower-case letter followed by a capital inside a word
_MARK_LOGP = -8.0  # a non-ASCII punctuation mark: a reading cannot gain by turning letters into marks
_LOWER, _UPPER, _MARK = 1, 2, 3  # letter case or a non-ASCII mark, in the two high bits of a symbol's code


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    method: str  # bom | ascii | header | meta | utf-8 | detected | fallback


@dataclass(frozen=True)
class Reading:
    """How well a text reads as Russian or Kazakh: its log-probability, per letter (``score``) and in all
    (``total``), and how many letters it has."""

    score: float
    total: float
    letters: int


def charset_from_content_type(value: str | None) -> str | None:
    if not value:
        return None
    match = _HEADER_CHARSET.search(value)
    return match.group(1) if match else None


def sniff_meta_charset(payload: bytes) -> str | None:
    match = _META_CHARSET.search(payload[:4096])
    return match.group(1).decode("ascii", "replace") if match else None


def decode_html(payload: bytes, declared: str | None = None) -> Decoded:
    """Decode a page: BOM, then the declared (HTTP) charset, then the meta charset, then detection."""
    for bom, encoding in _BOMS:
        if payload.startswith(bom):
            return Decoded(payload.decode(encoding, errors="replace"), encoding, "bom")
    utf16 = _utf16_without_bom(payload)
    if utf16:  # before the ASCII test: UTF-16 of Latin and Cyrillic text is all bytes below 0x80
        return Decoded(payload.decode(utf16, errors="replace"), utf16, "detected")
    if payload.isascii():
        return Decoded(payload.decode("ascii"), "ascii", "ascii")
    page = _Page(payload)
    for method, label in (("header", declared), ("meta", sniff_meta_charset(payload))):
        encoding = _codec_name(label)
        text = _try(payload, encoding) if encoding else None
        if text is None:  # no declaration, an unknown charset, or bytes that are invalid in it
            continue
        if encoding == "utf-8":  # strict UTF-8 that decodes is as strong as evidence gets
            return Decoded(text, encoding, method)
        if not _overruled(page.reading_of(text, encoding), page.readings):
            return Decoded(text, encoding, method)
    if page.utf8 is not None:
        return Decoded(page.utf8, "utf-8", "utf-8")
    return _detect(payload, page.readings)


def reads_as_text(text: str) -> Reading:
    """How much ``text`` reads like Russian or Kazakh, whatever its letter case: about -3 per letter for
    real text, -5 or worse for the same text decoded with a wrong Cyrillic charset."""
    codes = np.frombuffer(f" {text} ".translate(_symbol_codes()).encode("latin-1"), dtype=np.uint8)
    symbols, case = codes & 63, codes >> 6
    counted = (symbols < _BOUNDARY) | (symbols == _JUNK)
    marks = int(np.count_nonzero(case == _MARK))
    weight = int(np.count_nonzero(counted)) + marks
    if weight == 0:
        return Reading(0.0, 0.0, 0)
    pairs = counted[:-1] | counted[1:]
    first, second = symbols[:-1][pairs], symbols[1:][pairs]
    logp = max(float(table[first, second].sum()) for table in _pair_tables())
    in_word = (symbols[:-1] < _BOUNDARY) & (symbols[1:] < _BOUNDARY)
    flips = int(np.count_nonzero(in_word & (case[:-1] == _LOWER) & (case[1:] == _UPPER)))
    # capitals, then a lower-case letter in the same word ("МОр"): cp866 capitals read as mac-cyrillic
    # turn Ё into р. Abbreviations with an ending (ВУЗа) do it too, so it costs half a flip
    caps_run = in_word[:-1] & in_word[1:] & (case[:-2] == _UPPER) & (case[1:-1] == _UPPER)
    flips_down = int(np.count_nonzero(caps_run & (case[2:] == _LOWER)))
    letters = int(np.count_nonzero(symbols < _BOUNDARY))
    total = logp - _CASE_FLIP_PENALTY * (flips + flips_down / 2) + _MARK_LOGP * marks
    return Reading(total / weight, total, letters)


class _Page:
    """A page's bytes and what decoding works out from them, each at most once: its non-ASCII sample,
    its strict UTF-8 text, and the readings of the candidate charsets."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    @cached_property
    def sample(self) -> bytes:
        return _sample(self.payload)

    @cached_property
    def utf8(self) -> str | None:
        return _utf8(self.payload)

    @cached_property
    def readings(self) -> dict[str, Reading]:
        """Each Cyrillic charset's reading, and UTF-8's where the bytes are valid UTF-8 (a UTF-8 page
        declared windows-1251 is a common mistake, and strictly valid UTF-8 is never Cyrillic by chance)."""
        readings = {
            encoding: reads_as_text(self.sample.decode(encoding, "replace"))
            for encoding in CYRILLIC_CANDIDATES
        }
        if self.utf8 is not None:
            readings["utf-8"] = reads_as_text(_sample(self.utf8))
        return readings

    def reading_of(self, text: str, encoding: str) -> Reading:
        """A declared charset's reading, of the same sample as the candidates' where it is single-byte."""
        if _single_byte(encoding):
            return reads_as_text(self.sample.decode(encoding, "replace"))
        return reads_as_text(_sample(text))


def _overruled(declared: Reading, readings: dict[str, Reading]) -> bool:
    best = readings[_best(readings)]
    return best.letters >= OVERRULE_MIN_LETTERS and best.score - declared.score > OVERRULE_MARGIN


def _best(readings: dict[str, Reading]) -> str:
    return max(
        readings, key=lambda encoding: readings[encoding].total - CYRILLIC_CANDIDATES.get(encoding, 0.0)
    )


def _detect(payload: bytes, readings: dict[str, Reading]) -> Decoded:
    best = _best(readings)
    if readings[best].letters and readings[best].score > DETECTION_FLOOR:
        return Decoded(payload.decode(best, errors="replace"), best, "detected")
    guess = from_bytes(payload[:50000]).best()
    if guess is not None and guess.encoding:
        encoding = _codec_name(guess.encoding) or "utf-8"
        return Decoded(payload.decode(encoding, errors="replace"), encoding, "detected")
    return Decoded(payload.decode("utf-8", errors="replace"), "utf-8", "fallback")


def _sample(data: AnyStr) -> AnyStr:
    """The non-ASCII runs of a page's first bytes or characters (its letters, in any single-byte Cyrillic
    charset) with one on either side: markup and Latin text say nothing about which charset it is."""
    pattern, space = (_NON_ASCII_RUN, b" ") if isinstance(data, bytes) else (_NON_ASCII_TEXT_RUN, " ")
    runs, size = [], 0
    for match in pattern.finditer(data, 0, _SAMPLE_SCAN_BYTES):
        runs.append(data[max(0, match.start() - 1) : match.end() + 1])
        size += len(runs[-1])
        if size >= _SAMPLE_BYTES:
            break
    return space.join(runs)


@cache
def _symbol_codes() -> dict[int, int]:
    """str.translate table: each character to its symbol (low six bits) and letter case (high two)."""

    class Table(dict):
        def __missing__(self, key: int) -> int:
            return _JUNK

    table = Table()
    for code in range(128):
        char = chr(code)
        table[code] = _LATIN if char.isalpha() else _BOUNDARY
        if char.isalpha():
            table[code] |= (_UPPER if char.isupper() else _LOWER) << 6
    for marks, symbol in ((_PUNCTUATION, _BOUNDARY), (_OPENING_MARKS, _OPENING), (_CLOSING_MARKS, _CLOSING)):
        table.update((ord(mark), symbol | _MARK << 6) for mark in marks)
    for index, letter in enumerate(_ALPHABET):
        table[ord(letter)] = index | _LOWER << 6
        for upper in {letter.upper()} - {letter}:
            table[ord(upper)] = index | _UPPER << 6
    return table


@cache
def _pair_tables() -> tuple[np.ndarray, ...]:
    """Log-probability of each symbol given the one before it, for Russian and for Kazakh."""
    size = _CLOSING + 1
    tables = []
    for language in ("ru", "kk"):
        counts = np.asarray(_PAIRS[language], dtype=float) + 0.5
        table = np.zeros((size, size))
        table[: _BOUNDARY + 1, : _BOUNDARY + 1] = np.log(counts / counts.sum(axis=1, keepdims=True))
        for mark in (_OPENING, _CLOSING):
            table[mark, :], table[:, mark] = table[_BOUNDARY, :], table[:, _BOUNDARY]
        table[:_BOUNDARY, _OPENING] = table[_CLOSING, :_BOUNDARY] = _GLUED_MARK_LOGP
        table[:_BOUNDARY, _LATIN] = table[_LATIN, :_BOUNDARY] = _MIXED_SCRIPT_LOGP
        table[_JUNK, :] = table[:, _JUNK] = _JUNK_LOGP
        tables.append(table)
    return tuple(tables)


@cache
def _single_byte(encoding: str) -> bool:
    """An ASCII-compatible charset of one byte a character, whose reading of a byte sample is comparable."""
    try:
        with warnings.catch_warnings():  # 'unicode_escape' and the like warn about the bytes they read
            warnings.simplefilter("ignore")
            return bytes(range(128)).decode(encoding) == bytes(range(128)).decode("ascii") and (
                len(bytes(range(128, 256)).decode(encoding, "replace")) == 128
            )
    except (UnicodeError, LookupError):
        return False


def _codec_name(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    if label in ("utf8", "unicode-1-1-utf-8"):
        label = "utf-8"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _try(payload: bytes, encoding: str) -> str | None:
    try:
        with warnings.catch_warnings():  # 'unicode_escape' and the like warn about the bytes they read
            warnings.simplefilter("ignore")
            return payload.decode(encoding)
    except (UnicodeError, LookupError):  # UnicodeError: codecs such as 'undefined' and 'idna' refuse bytes
        return None


def _utf16_without_bom(payload: bytes) -> str | None:
    """UTF-16 declared as something else, or not at all: Latin and Cyrillic text has high bytes 0x00
    (markup, spaces) and 0x04 (Cyrillic), and low bytes that are almost never NUL."""
    sample = payload[: _UTF16_SAMPLE - _UTF16_SAMPLE % 2]
    if len(sample) < 16 or sample.count(0) < len(sample) // 16:
        return None
    for encoding, high, low in (
        ("utf-16-le", sample[1::2], sample[0::2]),
        ("utf-16-be", sample[0::2], sample[1::2]),
    ):
        if high.count(0) + high.count(4) > 0.9 * len(high) and low.count(0) < 0.05 * len(low):
            return encoding
    return None


def _utf8(payload: bytes) -> str | None:
    """Strict UTF-8, forgiving only a character cut in half at the end (a truncated page)."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(payload) - 3 and exc.reason == "unexpected end of data":
            return payload[: exc.start].decode("utf-8", errors="strict")
        return None
