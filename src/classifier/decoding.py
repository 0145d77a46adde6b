"""Bytes to text for crawled pages: declared charset if it reads as text, else detection, else UTF-8.

Russian sites still serve windows-1251 and koi8-r, often undeclared or wrongly declared. A declared
charset is trusted only when the text it gives looks like real text: windows-1251 bytes read as
koi8-r (and the reverse) give mostly upper-case Cyrillic, which real text never is.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-:.]+)", re.IGNORECASE)
# Single-byte Cyrillic encodings seen on Russian and Kazakh sites, most common first.
CYRILLIC_CANDIDATES = ("windows-1251", "koi8-r", "kz1048", "cp866", "iso8859-5", "mac-cyrillic")
_LOWER_RE = re.compile("[а-яёәғқңөұүһі]")
_UPPER_RE = re.compile("[А-ЯЁӘҒҚҢӨҰҮҺІ]")
_PUNCT_RE = re.compile("[«»—–…№“”„’‘•·€™°±×\xa0]")
_NON_ASCII_RE = re.compile("[^\x00-\x7f]")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_UTF16_SAMPLE = 2000


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    method: str  # bom | ascii | header | meta | utf-8 | detected | fallback


def charset_from_content_type(value: str | None) -> str | None:
    if not value:
        return None
    match = _HEADER_CHARSET.search(value)
    return match.group(1) if match else None


def sniff_meta_charset(payload: bytes) -> str | None:
    match = _META_CHARSET.search(payload[:4096])
    return match.group(1).decode("ascii", "replace") if match else None


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


def plausibility(text: str) -> float:
    """How much the non-ASCII characters of ``text`` look like Russian or Kazakh prose (-2 .. 1)."""
    lower = len(_LOWER_RE.findall(text))
    upper = len(_UPPER_RE.findall(text))
    other = len(_NON_ASCII_RE.findall(text)) - lower - upper - len(_PUNCT_RE.findall(text))
    total = lower + upper + other
    if total == 0:
        return 1.0
    return (lower + 0.3 * upper - 2 * other) / total


def _try(payload: bytes, encoding: str) -> str | None:
    try:
        return payload.decode(encoding)
    except (UnicodeError, LookupError):  # UnicodeError: codecs such as 'undefined' and 'idna' refuse bytes
        return None


def _looks_right(text: str) -> bool:
    return plausibility(text[:20000]) > 0.5


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
    for method, label in (("header", declared), ("meta", sniff_meta_charset(payload))):
        encoding = _codec_name(label)
        if encoding:
            text = _try(payload, encoding)
            # strict UTF-8 that decodes is trusted; single-byte charsets decode anything, so check them
            if text is not None and (encoding == "utf-8" or _looks_right(text)):
                return Decoded(text, encoding, method)
    text = _utf8(payload)
    if text is not None:
        return Decoded(text, "utf-8", "utf-8")
    return _detect(payload)


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


def _detect(payload: bytes) -> Decoded:
    sample = payload[:50000]
    best: tuple[float, str] | None = None
    for encoding in CYRILLIC_CANDIDATES:
        text = _try(sample, encoding)
        if text is None:
            continue
        score = plausibility(text)
        if best is None or score > best[0] + 1e-9:
            best = (score, encoding)
    if best and best[0] > 0.5:
        return Decoded(payload.decode(best[1], errors="replace"), best[1], "detected")
    guess = from_bytes(sample).best()
    if guess is not None and guess.encoding:
        encoding = _codec_name(guess.encoding) or "utf-8"
        return Decoded(payload.decode(encoding, errors="replace"), encoding, "detected")
    return Decoded(payload.decode("utf-8", errors="replace"), "utf-8", "fallback")
