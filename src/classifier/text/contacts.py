"""Contacts found in page text and links: the handles, phones and wallets experts pass on.

Pure functions. Patterns are shared with :mod:`classifier.text.normalize`, which replaces the same
spans with placeholder tokens.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

import phonenumbers

# Order matters where spans overlap: onion before URL, Telegram links before URLs, e-mail before handle.
PATTERNS: dict[str, re.Pattern[str]] = {
    "onion": re.compile(r"\b[a-z2-7]{16,56}\.onion(?:\.invalid)?\b", re.IGNORECASE),
    "telegram": re.compile(
        r"(?:https?://)?(?:t\.me|telegram\.me|telegram\.dog)/(?:s/|joinchat/|\+)?[A-Za-z0-9_+\-]{3,64}"
        r"|tg://resolve\?domain=[A-Za-z0-9_]{3,64}",
        re.IGNORECASE,
    ),
    "whatsapp": re.compile(
        r"(?:https?://)?(?:wa\.me/|api\.whatsapp\.com/send\?phone=)\+?\d{10,15}", re.IGNORECASE
    ),
    # bounded parts (RFC 5321 sizes): unbounded ones made a long run like "a.a.a..." quadratic (90 s per 100k)
    "email": re.compile(r"\b[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9.\-]{1,253}\.[A-Za-z]{2,63}\b"),
    "url": re.compile(r"\b(?:https?://|www\.)[^\s<>\"'«»]+", re.IGNORECASE),
    "handle": re.compile(r"(?<![\w@.])@[A-Za-z][A-Za-z0-9_]{3,31}\b"),
    # not inside a longer number, but a "+" starts a new one: phones glued together ("…45-67+7 701 …") are
    # two, and normalising twice changes nothing (after the first is a token, the second stands alone)
    # (the look-behinds come after the first character, "8(?<![\d+]8)" for "(?<![\d+])8": a pattern that
    # starts with a character lets the regex engine skip ahead to it, five times as fast on a page)
    "phone": re.compile(
        r"(?:8(?<![\d+]8)|\+(?<!\+\+)7)[\s\-(]*\d{3}[\s\-)]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}(?!\d)"
    ),
    "wallet": re.compile(
        r"\b(?:bc1[ac-hj-np-z02-9]{11,71}|[13][a-km-zA-HJ-NP-Z1-9]{25,34}|T[A-Za-z0-9]{33}|0x[a-fA-F0-9]{40})\b"
    ),
    "card": re.compile(
        r"\d(?<!\d\d)\d{3}[ \-]?(?:\d{4}[ \-]?){2}\d{4}(?!\d)|\*{4}[ \-]?(?:\*{4}[ \-]?){0,2}\d{4}\b"
    ),
}

# A pattern runs only on a text that holds its clue (casefolded): most pages have no onion address,
# wallet or WhatsApp link, and scanning every page with every pattern was most of the time contacts
# took. Each clue is something every match contains (".on": re's ignore-case also matches "ı" as "i").
_DIGIT_RUN = re.compile(r"\d{3}[\s\-)]*\d{3}")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]{25}")
CLUES: dict[str, Callable[[str], bool]] = {
    "onion": lambda t: ".on" in t,
    "telegram": lambda t: "t.me" in t or "telegram." in t or "tg:" in t,
    "whatsapp": lambda t: "wa.me" in t or "whatsapp" in t,
    "email": lambda t: "@" in t,
    "url": lambda t: "http" in t or "www." in t,
    "handle": lambda t: "@" in t,
    "phone": lambda t: _DIGIT_RUN.search(t) is not None,
    "wallet": lambda t: _ALNUM_RUN.search(t) is not None,
    "card": lambda t: "****" in t or _DIGIT_RUN.search(t) is not None,
}

CONTACT_FIELDS = ("telegram", "whatsapp", "phone", "email", "onion", "wallet", "card")


# Kazakhstan and Russia share +7: numbers written the local way ("8 7xx ...") read as Kazakh ones
PHONE_REGION = "KZ"


@functools.lru_cache(maxsize=4096)  # a page repeats its number; phonenumbers takes ~20 µs a parse
def normalise_phone(raw: str) -> str:
    """A phone number in E.164 ("+77000000001"), as ``phonenumbers`` reads it from Kazakhstan."""
    try:
        number = phonenumbers.parse(raw, PHONE_REGION)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # Fallback: phonenumbers raises on strings without enough digits or with an unknown country code,
    # and reads numbers outside every allocated range its own way (to it "8 (108) 525-42-69" dials
    # abroad through the old prefix 8~10, Hong Kong's 852). Such a number on a page is still a contact
    # experts pass on, so it keeps its digits as written, the trunk prefix 8 of an 11-digit number read
    # as +7: for +7 numbers this is what E.164 gives, and the same string always gives the same value.
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 11 and digits[0] in "78":
        digits = "7" + digits[1:]
    return "+" + digits


def whatsapp_phone(link: str) -> str:
    """The phone of a WhatsApp link (wa.me/77000000001, api.whatsapp.com/send?phone=...) in E.164."""
    digits = re.sub(r"\D", "", link.split("=")[-1].split("/")[-1])
    # wa.me takes the number international without "+"; "8" and ten digits is the local form some
    # pages write there anyway
    return normalise_phone(digits if len(digits) == 11 and digits[0] == "8" else "+" + digits)


def _telegram_name(raw: str) -> str:
    name = re.split(r"[/=]", raw.rstrip("/"))[-1].lstrip("+")
    return "@" + name.lower()


def find_contacts(texts: Iterable[str], links: Iterable[str] = ()) -> dict[str, list[str]]:
    """Contacts in page texts and link targets, de-duplicated, in order of first appearance."""
    found: dict[str, dict[str, None]] = {name: {} for name in CONTACT_FIELDS}
    blob = "\n".join(t for t in texts if t) + "\n" + "\n".join(links)
    folded = blob.casefold()

    def matches(name: str) -> Iterable[re.Match[str]]:
        return PATTERNS[name].finditer(blob) if CLUES[name](folded) else ()

    for match in matches("telegram"):
        found["telegram"][_telegram_name(match.group())] = None
    for match in matches("handle"):
        found["telegram"][match.group().lower()] = None
    for match in matches("whatsapp"):
        found["whatsapp"][whatsapp_phone(match.group())] = None
    for match in matches("phone"):
        found["phone"][normalise_phone(match.group())] = None
    for name in ("email", "onion", "wallet", "card"):
        for match in matches(name):
            found[name][match.group()] = None
    return {name: list(values) for name, values in found.items()}


def count_contacts(contacts: dict[str, list[str]]) -> int:
    return sum(len(v) for v in contacts.values())
