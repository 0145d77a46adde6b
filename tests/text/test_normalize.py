from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.text.language import detect_language, kazakh_share
from classifier.text.lexicon import fill_masks
from classifier.text.normalize import normalize_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("MEФ", "меф"),  # Latin look-alikes inside a Cyrillic word
        ("мeф", "меф"),
        ("3акладки", "закладки"),  # digits for letters
        ("к0кс", "кокс"),
        ("с.о.л.ь", "соль"),  # spelled out
        ("м-е-ф", "меф"),
        ("за\u200bкладка", "закладка"),  # zero-width space
        ("со\u00adль", "соль"),  # soft hyphen
        ("𝐌𝐄ф", "меф"),  # stylised letters
        ("м|е|ф", "меф"),  # spelled out with a bar
        ("zакладки", "закладки"),  # a Latin letter for its sound
        ("меfедрон", "мефедрон"),
        ("кр1сталл", "кристалл"),  # 1 between letters: и in Russian, і in Kazakh
        ("ес1рткі", "есірткі"),
        ("мееееф", "меф"),  # a held letter
        ("ооочень", "очень"),
        ("з4кл4дки", "закладки"),  # 4 for а where that makes a lexicon word
        ("г4ш", "гаш"),
        ("а@а0@а", "аоаа"),  # a digit read as a letter makes the next symbol a letter too
        ("м*ф", "меф"),  # a "*" hiding a letter of a lexicon word
        ("з*кладки", "закладки"),
        ("м*ф*др*н", "мефедрон"),
        ("соль и м е ф", "соль и меф"),  # a one-letter word before spelled letters stays a word
        ("м е ф и соль", "меф и соль"),
    ],
)
def test_disguises_are_undone(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_numbers_with_units_stay() -> None:
    assert normalize_text("10кг 5г 2024г 15к 3шт") == "10кг 5г 2024г 15к 3шт"
    # a digit glued to a longer unit, or 1 opening or closing a word, is still a number
    assert normalize_text("3грамма 8штук 1грамм 4часа 1г") == "3грамма 8штук 1грамм 4часа 1г"


def test_what_only_looks_disguised_stays() -> None:
    # ООО is a company form, not a held letter; Latin words are not Cyrillic words with Latin letters
    assert normalize_text("ООО «Ромашка», Wi-Fi, iPhone 15") == "ооо «ромашка», wi-fi, iphone 15"


def test_masks_the_lexicon_cannot_fill_stay() -> None:
    # a word the lexicon does not hold, a footnote mark, emphasis, two marks for one letter
    assert normalize_text("х*й знает, цена* *акция* м**ф") == "х*й знает, цена* *акция* м**ф"
    # spelled letters that make no lexicon word are joined whole, as before
    assert normalize_text("п р и в е т") == "привет"
    assert normalize_text("4асы") == "часы"  # 4 for ч by sound, where а makes no lexicon word


def test_a_mask_is_filled_only_when_one_word_fits() -> None:
    assert fill_masks("к*кс") == "кокс"
    assert fill_masks("закл*дк*") is None  # a letter hidden after the lexicon's beginning закладк*
    assert fill_masks("м*ф*д*о*а") is None  # four hidden letters: too many words could fit
    assert fill_masks("**ф") is None  # one known letter


def test_contacts_become_tokens() -> None:
    text = normalize_text("пиши @shop_example или https://x.example/a +7 700 000 00 01 t.me/abc_example")
    assert text == "пиши _tg_ или _url_ _phone_ _tg_"


def test_emoji_become_tokens() -> None:
    assert normalize_text("❄️🍁💎") == "emoji_snowflake emoji_leaf emoji_crystal"


def test_placeholders_can_be_off() -> None:
    assert "@shop_example" in normalize_text("@shop_example", placeholders=False)


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_normalisation_is_idempotent_and_total(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


ALPHABET = st.sampled_from([*list("аеоркмсхуз0346 .-_@*MEPKOXCaeopxc🍁❄️\u200b\xadқәі158t/"), "t.me/", "www."])


@given(st.lists(ALPHABET, max_size=60).map("".join))
@settings(max_examples=500, deadline=None)
def test_idempotent_on_adversarial_alphabet(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        (
            "Сегодня в Алматы прошёл дождь, на дорогах образовались пробки. Водителей просят быть осторожнее.",
            "ru",
        ),
        (
            "Бүгін Алматыда жаңбыр жауды, жолдарда кептеліс пайда болды. Жүргізушілерден сақ болу сұралады.",
            "kk",
        ),
        (
            "Сәлем, бүгін тауар келді, бағасы арзан. Пишите в личку, доставка по городу быстро и надёжно.",
            "mixed",
        ),
        ("The weather in Almaty was rainy today and traffic jams formed on the roads.", "other"),
        ("", "other"),
    ],
)
def test_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_kazakh_share_bounds() -> None:
    assert kazakh_share("Бүгін жаңбыр жауды.") == 1.0
    assert kazakh_share("Сегодня дождь.") == 0.0


@given(st.text(max_size=200))
@settings(max_examples=100, deadline=None)
def test_language_never_raises(text: str) -> None:
    assert detect_language(text) in ("ru", "kk", "mixed", "other")
