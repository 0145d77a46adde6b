"""Strong identifiers: the contacts of a page that name a seller, as keys that can be stored.

A shop moves to a new domain or channel and keeps its Telegram handle or bot, its wallet, its .onion
address, its phone. Each such contact becomes one plain string key, ``c:<kind>:<value>``, with the value
written one way only, so that the same seller gives the same key in every page, run, process and version
of this code: duplicate grouping within a run (``score.duplicates.contact_keys``) and the bank of
earlier cases look records up by these keys, and the bank keeps them in its database.

Pure functions, on a contacts dict as :func:`classifier.text.contacts.find_contacts` returns it (or one
read back from a queue file, a case store or an imported list, whose values may be written otherwise).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from classifier.text.contacts import normalise_phone

KEY_PREFIX = "c:"
MIN_PHONE_DIGITS = 7  # fewer digits than any subscriber number: a short code or a fragment names nobody

_CASELESS_WALLET = re.compile(r"(?:bc1|0x)", re.IGNORECASE)  # bech32 and hex addresses ignore case


def telegram_name(value: str) -> str | None:
    """A Telegram name in one form: "@Shop_Example", "t.me/shop_example" or "shop_example" gives
    "@shop_example" (Telegram names ignore case)."""
    name = re.split(r"[/=]", value.strip().rstrip("/"))[-1].lstrip("@+").lower()
    return "@" + name if re.fullmatch(r"[a-z0-9_+\-]{3,64}", name) else None


def phone_number(value: str) -> str | None:
    """Any written form of a phone (or a WhatsApp number) -> E.164; None for a fragment."""
    phone = normalise_phone(value.strip())
    return phone if len(phone) > MIN_PHONE_DIGITS else None


def wallet_address(value: str) -> str | None:
    """Bech32 (bc1…) and hex (0x…) addresses ignore case and are lower-cased; base58 ones (1…, 3…, T…)
    are case-sensitive, so they keep theirs: lower-cased, the key would name another address, or none."""
    value = value.strip()
    if not value:
        return None
    return value.lower() if _CASELESS_WALLET.match(value) else value


def onion_address(value: str) -> str | None:
    value = value.strip().lower()
    return value if ".onion" in value else None


def card_number(value: str) -> str | None:
    """A full card number, as digits; a masked one ("**** 0001") names thousands of cards, so none."""
    digits = re.sub(r"[ \-]", "", value.strip())
    return digits if digits.isdigit() and 12 <= len(digits) <= 19 else None


def email_address(value: str) -> str | None:
    value = value.strip().lower()
    return value if "@" in value else None


# kind of contact -> (kind of key, its normal form). A WhatsApp number is a phone: the shop that gives
# its number on one mirror and a wa.me link on the next is one seller, so both give "c:phone:+7…".
IDENTIFIERS: dict[str, tuple[str, Callable[[str], str | None]]] = {
    "telegram": ("telegram", telegram_name),
    "wallet": ("wallet", wallet_address),
    "onion": ("onion", onion_address),
    "phone": ("phone", phone_number),
    "whatsapp": ("phone", phone_number),
    "card": ("card", card_number),
    "email": ("email", email_address),
}


def identifier_key(kind: str, value: str) -> str | None:
    """The key of one contact of a kind (``IDENTIFIERS``), or None when the value names nobody."""
    if kind not in IDENTIFIERS:
        raise ValueError(f"no identifier of kind {kind!r}: one of {', '.join(IDENTIFIERS)}")
    key_kind, normal = IDENTIFIERS[kind]
    found = normal(str(value)) if isinstance(value, str | int) else None  # an imported phone may be a number
    return f"{KEY_PREFIX}{key_kind}:{found}" if found else None


def identifier_keys(contacts: dict[str, list[str]], kinds: Iterable[str]) -> list[str]:
    """The keys of a page's contacts of the listed kinds (``score.link_contacts``), each once, in the
    order of ``kinds`` and then of the page. An unknown kind is an error (a typo would link nothing)."""
    kinds = tuple(kinds)
    unknown = [kind for kind in kinds if kind not in IDENTIFIERS]
    if unknown:
        raise ValueError(
            f"score.link_contacts: no identifier of kind {unknown[0]!r}: one of {', '.join(IDENTIFIERS)}"
        )
    keys: dict[str, None] = {}
    for kind in kinds:
        for value in contacts.get(kind) or ():
            key = identifier_key(kind, value)
            if key is not None:
                keys[key] = None
    return list(keys)
