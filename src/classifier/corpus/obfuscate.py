"""Seller-style disguises applied to generated text, so the model learns to see through them.

Each kind is a separate function so that evaluation can hold whole kinds out of training and measure
recall on disguises the model has never seen.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from functools import cache

from classifier.corpus.slot_values import load_vocab

_CYR_TO_LATIN = {
    "а": "a",
    "е": "e",
    "о": "o",
    "р": "p",
    "с": "c",
    "х": "x",
    "у": "y",
    "к": "k",
    "А": "A",
    "В": "B",
    "Е": "E",
    "К": "K",
    "М": "M",
    "Н": "H",
    "О": "O",
    "Р": "P",
    "С": "C",
    "Т": "T",
    "Х": "X",
    "і": "i",
}
_CYR_TO_DIGIT = {"о": "0", "О": "0", "з": "3", "З": "3", "ч": "4", "б": "6", "в": "8", "а": "@", "и": "u"}
_MISSPELL_SWAPS = {"о": "а", "а": "о", "е": "и", "и": "е", "ф": "фф", "с": "сс", "к": "кк", "л": "лл"}
_INVISIBLES = ("\u200b", "\u00ad", "\u200c", "\u2060")
_SEPARATORS = (".", " ", "-", "_", "*", "·")
_WORD = re.compile(r"[А-Яа-яЁёӘәҒғҚқҢңӨөҰұҮүҺһІі]{3,}")
_SALE_WORDS = (
    "закладк",
    "заклад",
    "клад",
    "кладмен",
    "закладчик",
    "товар",
    "магазин",
    "оператор",
    "доставк",
    "прикоп",
    "магнит",
    "тайник",
    "оптом",
    "розниц",
    "купить",
    "продаю",
    "продам",
    "наличи",
    "курьер",
    "работ",
    "есірткі",
    "тауар",
    "сатамыз",
    "сатылады",
    "жеткізу",
    "жасырын",
    "бот",
    "гарант",
    "перезаклад",
)


def _bold_math(char: str) -> str:
    """Mathematical bold Latin: NFKC turns it back into plain Latin."""
    if "A" <= char <= "Z":
        return chr(0x1D400 + ord(char) - ord("A"))
    if "a" <= char <= "z":
        return chr(0x1D41A + ord(char) - ord("a"))
    return char


def lookalike(word: str, rng: random.Random) -> str:
    chars = [(_CYR_TO_LATIN.get(c, c) if rng.random() < 0.6 else c) for c in word]
    return "".join(chars)


def digits(word: str, rng: random.Random) -> str:
    positions = [i for i, c in enumerate(word) if c in _CYR_TO_DIGIT]
    if not positions:
        return word
    chars = list(word)
    for i in rng.sample(positions, k=max(1, len(positions) // 2)):
        chars[i] = _CYR_TO_DIGIT[chars[i]]
    return "".join(chars)


def separators(word: str, rng: random.Random) -> str:
    return rng.choice(_SEPARATORS).join(word)


def stylised(word: str, rng: random.Random) -> str:
    upper = rng.random() < 0.5
    return "".join(_bold_math(_CYR_TO_LATIN.get(c.upper() if upper else c, c)) for c in word)


def misspelling(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word))
    action = rng.random()
    if action < 0.3:
        return word[:i] + word[i + 1 :]
    if action < 0.6 and word[i].lower() in _MISSPELL_SWAPS:
        return word[:i] + _MISSPELL_SWAPS[word[i].lower()] + word[i + 1 :]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def invisible(word: str, rng: random.Random) -> str:
    mark = rng.choice(_INVISIBLES)
    i = rng.randrange(1, len(word))
    return word[:i] + mark + word[i:]


def emoji(word: str, rng: random.Random) -> str:
    code = _emoji_for(word.lower())
    if code is None:
        return word
    return code if rng.random() < 0.5 else f"{word} {code}"


@cache
def _slang_emoji() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for drug in load_vocab()["drugs"]:
        for name in drug["slang"] + drug["formal"]:
            table[name.lower()] = tuple(drug["emoji"])
    return table


def _emoji_for(word: str) -> str | None:
    for name, codes in _slang_emoji().items():
        if len(name) >= 3 and word.startswith(name[:4]):
            return codes[0]
    return None


@cache
def sensitive_stems() -> tuple[str, ...]:
    """Word beginnings sellers disguise: drug names and the words of the trade."""
    stems = {name.lower()[:5] for name in _slang_emoji() if " " not in name and len(name) >= 3}
    stems.update(_SALE_WORDS)
    return tuple(sorted(stems))


KINDS: dict[str, Callable[[str, random.Random], str]] = {
    "lookalike": lookalike,
    "digits": digits,
    "separators": separators,
    "stylised": stylised,
    "misspelling": misspelling,
    "invisible": invisible,
    "emoji": emoji,
}


def obfuscate(text: str, rng: random.Random, kinds: Sequence[str], rate: float = 0.85) -> str:
    """Disguise the trade words of ``text`` (and a few others) with the given kinds."""
    functions = [KINDS[k] for k in kinds]
    stems = sensitive_stems()

    def disguise(match: re.Match[str]) -> str:
        word = match.group()
        chance = rate if word.lower().startswith(stems) else 0.06
        if rng.random() >= chance:
            return word
        return rng.choice(functions)(word, rng)

    return _WORD.sub(disguise, text)
