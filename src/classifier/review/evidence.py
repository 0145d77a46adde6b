"""The model's evidence in words an expert reads: what each reason names, as the page wrote it, and
how strongly it pushes the score.

The evidence names what the model read (``highlight``): ``emoji_snowflake``, ``_tg_``, ``00к``. The
case page shows instead the emoji as on the page with what it stands for («❄️ (снег: так обозначают
кокаин)»), the contacts behind a placeholder («контакт в Telegram: @shop»), a number as written
(«14к»), a disguised word as written with how it reads («3aкладки (читается как «закладки»)»), and a
cue as its group and the page's words («цена: 14к»). Plain text only: the template escapes it.

A reason's weight is its part of the model's score: the parts and the model's base add up to the
log-odds of a violation (``modeling/explanations.py``), so +0,7 roughly doubles the odds and −0,7
halves them. The page gives it with a decimal comma and in words (``strength``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from classifier.review import texts
from classifier.review.highlight import Found, Term, marks_words, term_of
from classifier.text.emoji import EMOJI_TOKENS

# What each emoji token stands for. Drug emoji (emoji.DRUG_EMOJI) say which drug sellers mean by
# them (../shared/DOMAIN.md); the rest get a neutral name: on a legal page 🔥 is just a fire.
EMOJI_MEANING = {
    "snowflake": "снег: так обозначают кокаин",
    "leaf": "лист: так обозначают марихуану",
    "crystal": "кристалл: так обозначают «соль» (альфа-PVP) и метамфетамин",
    "pill": "таблетка, конфета: так обозначают экстази (MDMA)",
    "mushroom": "гриб: так обозначают псилоцибиновые грибы",
    "stamp": "билет, радуга: так обозначают ЛСД («марки»)",
    "speed": "молния, ракета: так обозначают амфетамин («скорость»)",
    "hash": "шоколад: так обозначают гашиш",
    "heroin": "лошадь, коричневый круг: так обозначают героин",
    "spice": "вихрь, сухие листья: так обозначают спайс (курительные смеси)",
    "honey": "мёд: одно из эмодзи, которыми обозначают наркотики",
    "cat": "кошка: так обозначают мефедрон («мяу»)",
    "parcel": "посылка",
    "magnet": "магнит",
    "pin": "метка на карте",
    "money": "деньги",
    "fire": "огонь",
    "check": "галочка",
    "car": "машина",
    "runner": "бегущий человек",
    "adult": "18+",
    "syringe": "шприц",
    "nose": "нос",
}
# The first emoji of each token, shown when the page's own is not in the shown text (the title's)
_EMOJI_OF: dict[str, str] = {}
for _emoji, _name in EMOJI_TOKENS.items():
    _EMOJI_OF.setdefault(_name, _emoji + ("\ufe0f" if _emoji <= "\u27bf" else ""))
SHOWN_FORMS = 3  # ways of writing one term, contacts behind one placeholder: more is "и ещё N"
LONGEST_FORM = 60  # characters of one form (a phrase, a spelled-out run) in the list
STRONG, NOTABLE = 1.0, 0.3  # |weight| in log-odds: ×2,7 the odds and more is strong, ×1,35 notable
WEIGHT_HINT = (
    "Вклад — насколько признак сдвигает оценку модели: «+» к нарушению, «−» против. "
    "Вклады складываются (в логарифме шансов): +0,7 примерно вдвое повышает шансы нарушения, "
    "−0,7 вдвое снижает. Сильный признак — вклад от 1, заметный — от 0,3, слабый — меньше."
)


@dataclass(frozen=True)
class Reason:
    words: str  # what the reason names, in the expert's words and the page's
    weight: str  # signed, with a decimal comma: "+0,80", "−2,10"
    strength: str  # "сильный признак" ...
    sentence: str
    marked: bool  # a reason for a violation that names words: marked in the text (highlight)
    missing: bool  # ... but not found in the shown text nor in its images' (an excerpt, or the title)
    image: int = 0  # the first image whose text has it, when the page's own text does not
    sentence_image: int = 0  # the image the sentence was read in, when it is not in the page's text


@dataclass(frozen=True)
class Reasons:
    reasons_for: list[Reason]
    against: list[Reason]
    titles: dict[str, str]  # Segment.term -> what a marked span is, for its tooltip
    found: Found  # where the terms occur, for highlight

    @property
    def hint(self) -> str:
        return WEIGHT_HINT


def reasons(text: str, evidence: Iterable[Any], images: Sequence[tuple[int, str]] = ()) -> Reasons:
    """The case's evidence, reasons for and against (each strongest first, as the model gave them);
    ``images``: (number, text read) of the page's images, where a reason absent from the text may be."""
    items = [e for e in evidence if isinstance(e, Mapping) and _number(e.get("weight")) is not None]
    terms = {id(e): term_of(e) for e in items}
    wanted = {t for t in terms.values() if t is not None}
    found = Found(text, wanted)
    in_images = [(number, Found(image_text, wanted)) for number, image_text in images]
    for_, against, titles = [], [], {}
    for e in items:
        term, weight = terms[id(e)], _number(e.get("weight")) or 0.0
        if not weight:
            continue
        marked = marks_words(e)
        sentence = str(e.get("sentence") or "")
        in_text = term is not None and bool(found.spans.get(term))
        image = 0 if in_text or term is None else _first_image(term, in_images)
        reason = Reason(
            words=describe(e, term, found if in_text or not image else dict(in_images)[image]),
            weight=signed(weight),
            strength=strength(weight),
            sentence=sentence,
            marked=marked,
            missing=marked and not in_text and not image,
            image=image,
            sentence_image=_sentence_image(sentence, text, images),
        )
        (for_ if weight > 0 else against).append(reason)
        if marked and term is not None and (term.term not in titles or e.get("kind") == "cue"):
            titles[term.term] = title(e, term)  # a cue's title says more: its group
    return Reasons(for_, against, titles, found)


def _first_image(term: Term, in_images: list[tuple[int, Found]]) -> int:
    return next((number for number, found in in_images if found.spans.get(term)), 0)


def _sentence_image(sentence: str, text: str, images: Sequence[tuple[int, str]]) -> int:
    """The image a sentence of the evidence was read in (0: the page's text has it, or none does)."""
    if not sentence or sentence in text:
        return 0
    return next((number for number, image_text in images if sentence in image_text), 0)


def describe(evidence: Mapping[str, Any], term: Term | None, found: Found) -> str:
    """One reason in words: a page signal as it is, a cue as «group: the page's words», a word,
    emoji, contact or number as the page wrote it."""
    raw = str(evidence.get("term") or "")
    if term is None:  # a page signal (or no word at all): already words
        return raw
    cue = str(evidence.get("cue") or "") if evidence.get("kind") == "cue" else ""
    if _folded(cue) == _folded(term.term):  # the group's label itself (found nowhere, or a word so named)
        cue = ""
    token = term.tokens[0] if len(term.tokens) == 1 else ""
    forms = found.forms(term)
    if token.startswith("emoji_"):
        words = _emoji(token, forms)
    elif token in texts.CONTACT_KIND:
        words = _contacts(token, forms, bool(cue))
    else:
        words = _written(term, forms)
    return f"{cue}: {words}" if cue else words


def title(evidence: Mapping[str, Any], term: Term) -> str:
    """What a marked span is, short: an emoji's meaning, a contact's kind, a word as the model read it
    (after its cue's group: «наркотик: меф»)."""
    token = term.tokens[0] if len(term.tokens) == 1 else ""
    if token.startswith("emoji_"):  # the meaning says more than the cue's group («сленг»)
        return EMOJI_MEANING.get(token.removeprefix("emoji_"), "эмодзи")
    if token in texts.CONTACT_KIND:
        return texts.label(texts.PLACEHOLDER, token)
    words = f"число вида {term.term}" if _is_shape(term) else term.term
    cue = str(evidence.get("cue") or "") if evidence.get("kind") == "cue" else ""
    return f"{cue}: {words}" if cue else words


def _emoji(token: str, forms: list[str]) -> str:
    name = token.removeprefix("emoji_")
    shown = " ".join(forms[:SHOWN_FORMS]) or _EMOJI_OF.get(name, "")
    meaning = EMOJI_MEANING.get(name, "эмодзи")
    return f"{shown} ({meaning})" if shown else meaning


def _contacts(token: str, forms: list[str], in_cue: bool) -> str:
    kind = texts.CONTACT_KIND[token] if in_cue else texts.label(texts.PLACEHOLDER, token)
    if not forms:
        return kind
    shown = _listed(forms)
    return f"{kind} {shown}" if in_cue else f"{kind}: {shown}"


def _written(term: Term, forms: list[str]) -> str:
    """A word or phrase as the page writes it, with how the model reads it when that differs."""
    if not forms:
        return f"число вида {term.term} (модель не различает цифры)" if _is_shape(term) else term.term
    shown = _listed(forms)
    disguised = any(_folded(form) != _folded(term.term) for form in forms) and not _is_shape(term)
    return f"{shown} (читается как «{term.term}»)" if disguised else shown


def _is_shape(term: Term) -> bool:
    """A number the model read by its shape (every digit 1-9 as 0): "00к" stands for "14к" and "25к"."""
    return not term.literal and any(c.isdigit() for c in term.term)


def _folded(words: str) -> str:
    return " ".join(words.casefold().replace("-", " ").split())


def _listed(forms: list[str]) -> str:
    shown = ", ".join(_clip(form) for form in forms[:SHOWN_FORMS])
    return shown + (f" и ещё {len(forms) - SHOWN_FORMS}" if len(forms) > SHOWN_FORMS else "")


def _clip(words: str, longest: int = LONGEST_FORM) -> str:
    return words if len(words) <= longest else words[: longest - 1] + "…"


def _number(value: Any) -> float | None:
    """A weight, or None for what is none (a bool, a string, NaN: the template would show "nan"; an
    integer too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def signed(weight: float) -> str:
    """A weight the Russian way: sign, two decimals, a decimal comma ("+0,80", "−2,10")."""
    return ("+" if weight >= 0 else "−") + f"{abs(weight):.2f}".replace(".", ",")


def strength(weight: float) -> str:
    size = abs(weight)
    if size >= STRONG:
        return "сильный признак"
    return "заметный признак" if size >= NOTABLE else "слабый признак"
