"""Undo sellers' disguises. Pure functions: no I/O.

``normalize_text`` is what the model reads; the original text is kept elsewhere for display.
It is idempotent: normalising normalised text changes nothing.
"""

from __future__ import annotations

import re
import unicodedata

from classifier.text.contacts import CLUES, PATTERNS
from classifier.text.emoji import emoji_to_tokens
from classifier.text.lexicon import fill_masks, in_lexicon

_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]"
)
_COMBINING = re.compile(r"[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Words mixing Cyrillic with Latin/Greek letters or digits: the only ones look-alike repair touches.
# Matching them directly keeps the common case (plain words) inside the regex engine.
_CYR = "а-яёәғқңөұүһіїєў"
_ODD = "a-z013468α-ω"  # Latin and Greek letters, and the digits that stand for letters

# Lower-case Latin and Greek letters that stand for Cyrillic ones inside a Cyrillic word (after case
# folding): most look alike, a few sound alike.
_LOOKALIKE = str.maketrans(
    {
        "a": "а",
        "b": "в",
        "c": "с",
        "e": "е",
        "h": "н",
        "k": "к",
        "m": "м",
        "o": "о",
        "p": "р",
        "t": "т",
        "x": "х",
        "y": "у",
        "i": "і",
        "u": "и",
        "n": "п",
        "r": "г",
        # no look-alike: the letter a seller types for the sound (zакладки, меfедрон, гаsh)
        "z": "з",
        "d": "д",
        "f": "ф",
        "g": "г",
        "l": "л",
        "s": "с",
        "v": "в",
        "w": "ш",
        "j": "й",
        "α": "а",
        "β": "в",
        "ε": "е",
        "η": "п",
        "κ": "к",
        "μ": "м",
        "ο": "о",
        "ρ": "р",
        "τ": "т",
        "υ": "у",
        "χ": "х",
        "γ": "у",
    }
)
# Small capitals and other stylised letters NFKC leaves alone.
_STYLISED = str.maketrans(
    {
        "ᴀ": "a",
        "ʙ": "b",
        "ᴄ": "c",
        "ᴅ": "d",
        "ᴇ": "e",
        "ɢ": "g",
        "ʜ": "h",
        "ɪ": "i",
        "ᴊ": "j",
        "ᴋ": "k",
        "ʟ": "l",
        "ᴍ": "m",
        "ɴ": "n",
        "ᴏ": "o",
        "ᴘ": "p",
        "ʀ": "r",
        "ꜱ": "s",
        "ᴛ": "t",
        "ᴜ": "u",
        "ᴠ": "v",
        "ᴡ": "w",
        "ʏ": "y",
        "ᴢ": "z",
        "ɑ": "a",
        "ɡ": "g",
        "ꜰ": "f",
    }
)
# Digits used for letters inside Cyrillic words (3акладки, к0кс).
_DIGIT_FOR_LETTER = {"0": "о", "3": "з", "4": "ч", "6": "б", "8": "в"}
_LONE_DIGIT = re.compile(r"(?<!\d)[013468](?!\d)")
# "1" is a letter only between letters (ес1рткі, кр1сталл): before or after a word it is a number
# with its unit (1грамм, 1шт). It stands for Kazakh і in a word with Kazakh letters, else for и.
_KAZAKH_LETTERS = frozenset("әғқңөұүһі")
# A digit glued to a unit is a quantity (3грамма, 8штук, 4часа), not a letter
_UNITS = ("гр", "шт", "кг", "мг", "мл", "тыс", "тг", "тен", "руб", "мин", "час", "дн", "раз", "лет", "год")

# s.o.l.', m e f, s-o-l, m|e|f: three or more single letters joined by one repeated separator.
SPELLED = re.compile(r"(?<![^\W\d_])[^\W\d_]([.\-_*·•/ |~\\])(?:[^\W\d_]\1)+[^\W\d_](?![^\W\d_])")

PLACEHOLDERS = {
    "onion": " _onion_ ",
    "telegram": " _tg_ ",
    "whatsapp": " _whatsapp_ ",
    "email": " _email_ ",
    "url": " _url_ ",
    "handle": " _tg_ ",
    "phone": " _phone_ ",
    "wallet": " _wallet_ ",
    "card": " _card_ ",
}


def repair_mixed_words(text: str) -> tuple[str, int]:
    """Fix the words where Cyrillic meets Latin, Greek or digits; other words are left as they are.

    Boundaries are found by one fast regex scan and widened to whole words in Python: a regex that
    matches whole mixed words directly backtracks on every word of every text.
    """
    pieces, done, repaired = [], 0, 0
    for match in _MIXED_BOUNDARY.finditer(text):
        if match.start() < done:
            continue
        start, end = match.start(), match.end()
        while start > done and text[start - 1].isalnum():
            start -= 1
        while end < len(text) and text[end].isalnum():
            end += 1
        word = text[start:end]
        fixed = _fix_word(word)
        repaired += fixed != word
        pieces += [text[done:start], fixed]
        done = end
    pieces.append(text[done:])
    return "".join(pieces), repaired


def _fix_word(word: str) -> str:
    word = word.translate(_LOOKALIKE)
    if any(c.isdigit() for c in word):
        fixed = _fix_digits(word)
        # "4" is ч by sound (4ел) or а by shape (з4кладки, г4ш): а only where that makes a lexicon word
        if "4" in word and not in_lexicon(fixed):
            shaped = _fix_digits(word.replace("4", "а"))
            if in_lexicon(shaped):
                return shaped
        word = fixed
    return word


def _fix_digits(word: str) -> str:
    """Map a lone digit to a letter when it sits inside a Cyrillic word, not in a number with a unit."""

    def swap(m: re.Match[str]) -> str:
        word = m.string
        start, end = m.start(), m.end()
        before, after = word[:start], word[end:]
        inside = before[-1:].isalpha() and after[:1].isalpha()
        if m.group() == "1":
            return ("і" if _KAZAKH_LETTERS.intersection(word) else "и") if inside else "1"
        leading = not before and len(after) >= 3 and after[:3].isalpha() and not after.startswith(_UNITS)
        trailing = not after and len(before) >= 3 and before[-3:].isalpha()
        return _DIGIT_FOR_LETTER[m.group()] if inside or leading or trailing else m.group()

    # a swap can make a neighbouring digit qualify (0а0а): repeat until nothing changes
    while (fixed := _LONE_DIGIT.sub(swap, word)) != word:
        word = fixed
    return word


# Symbols standing for letters between Cyrillic ones (кл@дмен, за$лад, тов€р), or "$" opening a
# Cyrillic word ($оль). Only there: a "@" elsewhere is a handle or an e-mail, turned into a token earlier.
_SYMBOL_FOR_LETTER = {"@": "а", "$": "с", "€": "е"}
_SYMBOL_LETTER = re.compile(rf"(?<=[{_CYR}])[@$€](?=[{_CYR}])|(?<![\w@$€])\$(?=[{_CYR}]{{2}})")


def _symbol_letter(match: re.Match[str]) -> str:
    return _SYMBOL_FOR_LETTER[match.group()]


# A letter held for three or more (мееееф, ооочень): neither language writes a letter three times.
# Only inside a word: "ооо" alone is a company form (ООО «...»), not a held letter.
_HELD_LETTER = re.compile(rf"([{_CYR}])\1{{2,}}")


def _release_held(match: re.Match[str]) -> str:
    text, start, end = match.string, match.start(), match.end()
    in_word = (start > 0 and text[start - 1].isalpha()) or (end < len(text) and text[end].isalpha())
    return match.group(1) if in_word else match.group()


# A letter hidden by "*" inside a word (м*ф, з*кладки): filled only when one lexicon word fits. A "*"
# at a word's edge is a footnote or emphasis (цена*, *акция*), and "х*й" is not in the lexicon.
_MASKED = re.compile(rf"(?<![\w*])[{_CYR}]+(?:\*[{_CYR}]+)+(?![\w*])")


def _fill_masked(match: re.Match[str]) -> str:
    return fill_masks(match.group()) or match.group()


def _join_spelled(match: re.Match[str]) -> str:
    letters = match.group().split(match.group(1))
    if match.group(1) == " ":  # "соль и м е ф": a one-letter word (и, в, с) may open or close the run
        n = len(letters)
        for start, stop in ((0, n), (1, n), (0, n - 1), (1, n - 1)):
            word = "".join(letters[start:stop])
            if stop - start >= 3 and in_lexicon(word):
                return " ".join([*letters[:start], word, *letters[stop:]])
    return "".join(letters)


_STYLISED_CHARS = re.compile("[ᴀ-ᴢɑɡꜰʙʜɪʟɴʀꜱʏ]")
_MATH_LETTERS = re.compile("[\U0001d400-\U0001d7ff\uff21-\uff5a]")
_NON_BMP = re.compile("[\U00010000-\U0010ffff\uff00-\uffef]")
_MIXED_BOUNDARY = re.compile(rf"[{_CYR}][{_ODD}]|[{_ODD}][{_CYR}]")


_MAX_SYMBOL_PASSES = 8  # a bound, not a budget: a text has few symbols that digits' letters free
_MAX_CONTACT_PASSES = 8  # a bound, not a budget: each pass replaces contacts, and a text has few glued


def replace_contacts(text: str, counts: dict[str, int] | None = None) -> str:
    """URLs, Telegram links and handles, phones, e-mails, wallets -> placeholder tokens (counted).

    Glued contacts free each other (``shop@mail.ru8 701 …``: the phone's spaced token ends the
    e-mail), so passes repeat until one replaces nothing: normalisation must be idempotent.
    """
    for _ in range(_MAX_CONTACT_PASSES):
        text, replaced = _replace_contacts_once(text, counts)
        if not replaced:
            break
    return text


def _replace_contacts_once(text: str, counts: dict[str, int] | None) -> tuple[str, int]:
    replaced = 0
    for name, token in PLACEHOLDERS.items():
        if CLUES[name](text):  # a pattern runs only on texts holding its clue (casefolded, as text is)
            text, found = PATTERNS[name].subn(token, text)
            total = found
            # the same kind glued (@shop_bot@shop_bot): the spaced token frees the next one
            while found:
                text, found = PATTERNS[name].subn(token, text)
                total += found
            replaced += total
            if counts is not None and total:
                key = token.strip()
                counts[key] = counts.get(key, 0) + total
    return text, replaced


def normalize_text(text: str, placeholders: bool = True) -> str:
    """Text as the model reads it: folded case and Unicode, disguises undone, contacts as tokens."""
    return normalize_with_signals(text, placeholders)[0]


def normalize_with_signals(text: str, placeholders: bool = True) -> tuple[str, dict[str, int]]:
    """The normalised text, and counts of what normalisation found and undid on the way.

    The counts (contacts by kind, emoji, invisible characters, stylised letters, spelled-out and
    mixed-script words) are meta features for free: the model learns that disguise itself is a signal.
    """
    counts: dict[str, int] = {}
    styled = len(_MATH_LETTERS.findall(text)) if _NON_BMP.search(text) else 0
    text = unicodedata.normalize("NFKC", text)
    text = unicodedata.normalize("NFKC", text.casefold())
    text, invisible = _INVISIBLE.subn("", text)
    text = _COMBINING.sub("", text)
    if placeholders:
        text = replace_contacts(text, counts)
    text = emoji_to_tokens(text, counts)
    if _STYLISED_CHARS.search(text):
        styled += len(_STYLISED_CHARS.findall(text))
        text = text.translate(_STYLISED)
    text = " ".join(text.split())
    text, joined = SPELLED.subn(_join_spelled, text)
    if placeholders and joined:  # joining spelled-out letters can reveal a contact (w.w.w.site)
        text = replace_contacts(text, counts)
    text, mixed = repair_mixed_words(text)
    text, found = _SYMBOL_LETTER.subn(_symbol_letter, text)  # after: look-alikes are Cyrillic now
    symbols = found
    # a symbol read as a letter can leave a digit inside a Cyrillic word (0а@а -> 0ааа), and that digit
    # read as a letter can make the next symbol a letter's neighbour (а@а0@а): until neither changes
    for _ in range(_MAX_SYMBOL_PASSES):
        if not found:
            break
        text, again = repair_mixed_words(text)
        text, found = _SYMBOL_LETTER.subn(_symbol_letter, text) if again else (text, 0)
        symbols += again + found
    mixed += symbols
    text = _HELD_LETTER.sub(_release_held, text)
    if "*" in text:
        text, filled = _MASKED.subn(_fill_masked, text)
        mixed += filled
    if placeholders and (styled or mixed):  # undoing a disguise can reveal a contact (a wallet in ᴍᴇꜰ)
        text = replace_contacts(text, counts)
    counts.update(invisible=invisible, stylised=styled, spelled=joined, mixed_script=mixed)
    return " ".join(text.split()), counts
