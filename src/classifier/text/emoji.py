"""Emoji as words: each emoji the model should read becomes a token (``emoji_leaf``), drug emoji
marked as such, the rest one generic token.
"""

from __future__ import annotations

import re

_EMOJI_RANGE = re.compile("[\u2600-\u27bf\U0001f000-\U0001faff\ufe0f\u200d]")
EMOJI_TOKENS: dict[str, str] = {
    "❄": "snowflake",
    "⛄": "snowflake",
    "☃": "snowflake",
    "🏔": "snowflake",
    "🍁": "leaf",
    "🌿": "leaf",
    "🥦": "leaf",
    "🌲": "leaf",
    "☘": "leaf",
    "🍀": "leaf",
    "💎": "crystal",
    "💠": "crystal",
    "🔷": "crystal",
    "🧂": "crystal",
    "💊": "pill",
    "🍬": "pill",
    "🍭": "pill",
    "🟣": "pill",
    "🍄": "mushroom",
    "🎟": "stamp",
    "🌈": "stamp",
    "⚡": "speed",
    "🚀": "speed",
    "🍫": "hash",
    "🟫": "hash",
    "🐎": "heroin",
    "🟤": "heroin",
    "🌪": "spice",
    "🍂": "spice",
    "🍯": "honey",
    "😺": "cat",
    "🐱": "cat",
    "📦": "parcel",
    "🧲": "magnet",
    "📍": "pin",
    "🗺": "pin",
    "💰": "money",
    "💵": "money",
    "💸": "money",
    "🤑": "money",
    "🔥": "fire",
    "✅": "check",
    "☑": "check",
    "✔": "check",
    "🚗": "car",
    "🏃": "runner",
    "🚚": "car",
    "🔞": "adult",
    "💉": "syringe",
    "🌬": "nose",
    "👃": "nose",
}
# Every key is one code point (variation selectors are dropped separately), so a character class
# finds them in one pass, where an alternation of literals would try each at every position.
_EMOJI = re.compile("[" + "".join(re.escape(e) for e in EMOJI_TOKENS) + "]")
DRUG_EMOJI = frozenset(
    (
        "snowflake",
        "leaf",
        "crystal",
        "pill",
        "mushroom",
        "stamp",
        "speed",
        "hash",
        "heroin",
        "spice",
        "cat",
        "honey",
    )
)
_OTHER_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f\u200d]")


def emoji_to_tokens(text: str, counts: dict[str, int] | None = None) -> str:
    if not _EMOJI_RANGE.search(text):
        return text

    def token(match: re.Match[str]) -> str:
        name = EMOJI_TOKENS[match.group()]
        if counts is not None:
            counts["emoji"] = counts.get("emoji", 0) + 1
            if name in DRUG_EMOJI:
                counts["drug_emoji"] = counts.get("drug_emoji", 0) + 1
        return f" emoji_{name} "

    return _OTHER_EMOJI.sub(" ", _EMOJI.sub(token, text))
