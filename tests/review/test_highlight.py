"""The case page's evidence marking: words as the model read them (disguised, spelled out, as digits),
emoji, contacts behind placeholders, cue phrases, sentences."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.review import highlight as highlight_module
from classifier.review.highlight import Segment, highlight
from classifier.text import normalize


def marked(segments: list[Segment]) -> list[tuple[str, str]]:
    return [(s.text, s.term) for s in segments if s.term]


def in_sentences(segments: list[Segment]) -> str:
    return "".join(s.text for s in segments if s.sentence)


def test_term_matches_whatever_the_case() -> None:
    segments = highlight("Есть ЗАКЛАДКИ, Закладки и закладки.", [{"term": "закладки"}])
    assert marked(segments) == [("ЗАКЛАДКИ", "закладки"), ("Закладки", "закладки"), ("закладки", "закладки")]


def test_term_matches_obfuscated_spellings() -> None:
    # a digit 3 for "з", a latin "a" for "а": the model read both as "закладки"
    segments = highlight("Свежие 3aкладки в городе", [{"term": "закладки"}])
    assert marked(segments) == [("3aкладки", "закладки")]


def test_evidence_term_is_matched_case_insensitively() -> None:
    assert marked(highlight("Свежие закладки", [{"term": "ЗАКЛАДКИ"}])) == [("закладки", "закладки")]


def test_term_marks_whole_words_only() -> None:
    text = "закладка, перезаклад и закладчик"
    assert marked(highlight(text, [{"term": "закладки"}])) == []


def test_telegram_placeholder_marks_the_handle() -> None:
    text = "Пишите @shop_example, оператор ответит"
    assert marked(highlight(text, [{"term": "_tg_"}])) == [("@shop_example", "_tg_")]


def test_phone_placeholder_marks_the_number() -> None:
    text = "звони +7 700 000 00 01 или пиши"
    assert marked(highlight(text, [{"term": "_phone_"}])) == [("+7 700 000 00 01", "_phone_")]


def test_placeholder_without_a_matching_contact_marks_nothing() -> None:
    assert marked(highlight("без контактов здесь", [{"term": "_tg_"}])) == []


def test_several_terms_are_marked_with_their_own_term() -> None:
    text = "Меф и закладки: пиши @snow_example"
    evidence = [{"term": "закладки"}, {"term": "меф"}, {"term": "_tg_"}]
    assert marked(highlight(text, evidence)) == [
        ("Меф", "меф"),
        ("закладки", "закладки"),
        ("@snow_example", "_tg_"),
    ]


def test_evidence_sentence_is_flagged() -> None:
    text = "Магазин работает. Закладки по всему городу. Гарантия веса."
    segments = highlight(text, [{"term": "закладки", "sentence": "Закладки по всему городу."}])
    assert in_sentences(segments) == "Закладки по всему городу."
    assert marked(segments) == [("Закладки", "закладки")]
    [word] = [s for s in segments if s.term]
    assert word.sentence


def test_every_occurrence_of_a_sentence_is_flagged() -> None:
    text = "Пиши в бот сейчас. Потом. Пиши в бот сейчас."
    segments = highlight(text, [{"term": "", "sentence": "Пиши в бот сейчас."}])
    assert [s.text for s in segments if s.sentence] == ["Пиши в бот сейчас."] * 2


def test_sentences_are_not_flagged_when_switched_off() -> None:
    text = "Магазин работает. Закладки по всему городу."
    segments = highlight(
        text, [{"term": "закладки", "sentence": "Закладки по всему городу."}], sentences=False
    )
    assert not any(s.sentence for s in segments)
    assert marked(segments) == [("Закладки", "закладки")]


def test_sentence_absent_from_the_text_flags_nothing() -> None:
    segments = highlight("Совсем другой текст страницы.", [{"term": "", "sentence": "Закладки по городу."}])
    assert not any(s.sentence for s in segments)


def test_very_short_sentences_are_not_flagged() -> None:
    # a short "sentence" such as "да." would light up all over the page
    segments = highlight("да. да. нет.", [{"term": "", "sentence": "да."}])
    assert not any(s.sentence for s in segments)


def test_empty_text_has_no_segments() -> None:
    assert highlight("", [{"term": "закладки", "sentence": "Закладки по городу."}]) == []


def test_text_without_evidence_is_one_plain_segment() -> None:
    assert highlight("Обычный текст новости.", []) == [Segment("Обычный текст новости.")]


def test_malformed_evidence_is_ignored() -> None:
    evidence = [None, "закладки", 3, {"term": None, "sentence": None}, {}]
    assert highlight("Закладки по городу.", evidence) == [Segment("Закладки по городу.")]


def test_markup_in_the_text_stays_plain_text() -> None:
    text = '<script>alert("закладки")</script>'
    segments = highlight(text, [{"term": "закладки"}])
    assert "".join(s.text for s in segments) == text
    assert marked(segments) == [("закладки", "закладки")]


# -- properties over random texts --

WORDS = [
    "К*у*р*ь*е*р",
    "к у р ь е р",
    "❄️",
    "🔥",
    "14к",
    "14 000 тг",
    "закладки",
    "ЗАКЛАДКИ",
    "3aкладки",
    "меф",
    "@shop_example",
    "+7 700 000 00 01",
    "ok",
    "Ж",
    "😀",
    "\u0301",
]
TERMS = ["закладки", "меф", "_tg_", "_phone_", "_url_", "ok", "", "<b>", "курьер", "emoji_snowflake", "00к"]
PIECES = st.one_of(
    st.sampled_from(WORDS), st.text(max_size=12), st.sampled_from([" ", ". ", "\n", "\t", "-"])
)
TEXTS = st.lists(PIECES, max_size=25).map("".join)


@st.composite
def text_and_evidence(draw: st.DrawFn) -> tuple[str, list[dict[str, str]]]:
    text = draw(TEXTS)
    evidence = []
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, len(text)))
        sentence = draw(st.one_of(st.just(text[start:end]), st.text(max_size=20)))
        evidence.append(
            {"term": draw(st.one_of(st.sampled_from(TERMS), st.text(max_size=8))), "sentence": sentence}
        )
    return text, evidence


@settings(max_examples=200, deadline=None)
@given(text_and_evidence(), st.booleans())
def test_segments_rebuild_the_text_exactly(case: tuple[str, list[dict[str, str]]], sentences: bool) -> None:
    text, evidence = case
    segments = highlight(text, evidence, sentences)
    assert "".join(s.text for s in segments) == text
    assert all(s.text for s in segments)
    for a, b in pairwise(segments):
        assert (a.sentence, a.term) != (b.sentence, b.term)  # neighbours differ, or they would be one segment
    terms = {e["term"].lower() for e in evidence}
    assert {s.term for s in segments if s.term} <= terms


@settings(max_examples=200, deadline=None)
@given(text_and_evidence())
def test_sentence_flags_cover_quoted_sentences_and_nothing_else(
    case: tuple[str, list[dict[str, str]]],
) -> None:
    text, evidence = case
    segments = highlight(text, evidence)
    quoted = {e["sentence"] for e in evidence if len(e["sentence"]) >= 8 and e["sentence"] in text}
    flags = "".join(("1" if s.sentence else "0") * len(s.text) for s in segments)
    covered = [False] * len(text)
    for sentence in quoted:
        start = text.find(sentence)
        assert set(flags[start : start + len(sentence)]) == {"1"}  # the first occurrence, whole
        while start != -1:
            covered[start : start + len(sentence)] = [True] * len(sentence)
            start = text.find(sentence, start + 1)
    assert all(covered[i] for i, flag in enumerate(flags) if flag == "1")  # only inside quoted sentences


def test_only_reasons_for_a_violation_are_marked_and_page_signals_never() -> None:
    text = "Полиция нашла закладки. Пишите @shop_example"
    evidence = [
        {"term": "закладки", "weight": 1.2, "sentence": "Полиция нашла закладки."},
        {"term": "полиция", "weight": -4.2, "sentence": "Полиция нашла закладки.", "cue": "предупреждение"},
        {"term": "Telegram-контакты на странице: 1", "weight": 0.8, "sentence": "", "kind": "page"},
        {"term": "пишите", "weight": 0.3, "sentence": "", "kind": "word"},
    ]
    assert marked(highlight(text, evidence)) == [("закладки", "закладки"), ("Пишите", "пишите")]
    assert in_sentences(highlight(text, evidence)) == "Полиция нашла закладки."


# -- what the model read, found where the page wrote it --


def spans(text: str, segments: list[Segment]) -> list[tuple[int, int, str]]:
    """(start, end, term) of each marked segment, checked against the text."""
    found, at = [], 0
    for s in segments:
        assert text[at : at + len(s.text)] == s.text
        if s.term:
            found.append((at, at + len(s.text), s.term))
        at += len(s.text)
    return found


def test_spelled_out_words_are_marked_whole_at_their_place() -> None:
    text = "Нужен К*у*р*ь*е*р, или к у р ь е р, или к.у.р.ь.е.р; курьерская служба нет"
    found = spans(text, highlight(text, [{"term": "курьер"}]))
    assert found == [(6, 17, "курьер"), (23, 34, "курьер"), (40, 51, "курьер")]
    assert [text[a:b] for a, b, _ in found] == ["К*у*р*ь*е*р", "к у р ь е р", "к.у.р.ь.е.р"]


def test_digits_and_symbols_for_letters_are_marked() -> None:
    text = "Ищем кл@дменов. 3AКЛAДКИ и к0кс"
    evidence = [{"term": "кладменов"}, {"term": "закладки"}, {"term": "кокс"}]
    assert spans(text, highlight(text, evidence)) == [
        (5, 14, "кладменов"),
        (16, 24, "закладки"),
        (27, 31, "кокс"),
    ]


def test_emoji_are_marked_with_their_variation_selector() -> None:
    text = "Есть ❄️ и ⛄, 🔥 скидки"
    evidence = [{"term": "emoji_snowflake", "weight": 0.8}, {"term": "emoji_fire", "weight": 0.1}]
    assert spans(text, highlight(text, evidence)) == [
        (5, 7, "emoji_snowflake"),  # ❄ and U+FE0F
        (10, 11, "emoji_snowflake"),
        (13, 14, "emoji_fire"),
    ]


def test_a_number_is_marked_by_its_shape() -> None:
    # the model reads every digit 1-9 as 0: "00к" is any two-digit number with к, not "140к" or "14 000"
    text = "Цена 14к, опт 25к, 140к, 14 000"
    assert [text[a:b] for a, b, _ in spans(text, highlight(text, [{"term": "00к"}]))] == ["14к", "25к"]


def test_a_cue_is_marked_as_a_phrase_with_its_digits() -> None:
    text = "За  адрес платим. 14 000 тг за грамм, 15 000 тг за два"
    evidence = [
        {"term": "за адрес", "weight": 0.4, "cue": "оплата труда", "kind": "cue"},
        {"term": "14 000 тг", "weight": 0.3, "cue": "цена", "kind": "cue"},
    ]
    assert spans(text, highlight(text, evidence)) == [(0, 9, "за адрес"), (18, 27, "14 000 тг")]


def test_contacts_of_a_cue_are_marked() -> None:
    text = "Пиши @shop_example или t.me/shop_example"
    evidence = [{"term": "_tg_", "weight": 0.5, "cue": "контакт", "kind": "cue"}]
    assert [text[a:b] for a, b, _ in spans(text, highlight(text, evidence))] == [
        "@shop_example",
        "t.me/shop_example",
    ]


def test_terms_absent_from_the_text_mark_nothing() -> None:
    evidence = [
        {"term": "emoji_snowflake"},
        {"term": "emoji_no_such_emoji"},
        {"term": "_wallet_"},
        {"term": "00к"},
        {"term": "за адрес", "cue": "оплата труда", "kind": "cue"},
        {"term": "наркотик", "cue": "наркотик", "kind": "cue"},
        {"term": "emoji_", "kind": "cue"},
        {"term": "...", "kind": "cue"},
    ]
    assert marked(highlight("Обычный текст без признаков: 1 2 3.", evidence)) == []


def test_a_word_reason_is_one_word_of_the_model() -> None:
    # a term that is not one token (markup, several words) is no word the model read: nothing is marked,
    # even where the page contains it, so the page's markup cannot depend on such a term
    text = "Пиши: <b>закладки</b> и обычный текст"
    evidence = [{"term": "<b>закладки</b>", "weight": 1}, {"term": "обычный текст", "weight": 1}]
    assert marked(highlight(text, evidence)) == []


def test_the_stronger_reason_names_a_span_two_share() -> None:
    text = "Оплата за адрес"
    evidence = [
        {"term": "адрес", "weight": 0.2},
        {"term": "за адрес", "weight": 0.9, "cue": "оплата труда", "kind": "cue"},
    ]
    assert marked(highlight(text, evidence)) == [("за адрес", "за адрес")]


def test_a_long_page_is_read_in_one_pass() -> None:
    # every word of a 60,000-character page read once: a quadratic scan would take minutes here
    line = "К*у*р*ь*е*р ❄️ 14к @shop_example закладки.\n"
    copies = 60_000 // len(line)
    evidence = [{"term": t} for t in ("курьер", "emoji_snowflake", "00к", "_tg_", "закладки")]
    segments = highlight(line * copies, evidence)
    assert "".join(s.text for s in segments) == line * copies
    assert len(marked(segments)) == 5 * copies


def test_spelled_out_words_are_found_as_normalisation_joins_them() -> None:
    text = "м|е|ф и zакладки, мееееф"
    evidence = [{"term": "меф"}, {"term": "закладки"}]
    assert marked(highlight(text, evidence)) == [
        ("м|е|ф", "меф"),
        ("zакладки", "закладки"),
        ("мееееф", "меф"),
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet="абвгдеёжзийклмнопрстуфхцчшщъыьэюяәғқңөұүһіАБВЁЖЗӘҒҚІabcdekmnopxyzABCEKMOPXYZ", min_size=1
    )
)
def test_a_plain_word_reads_as_normalisation_reads_it(word: str) -> None:
    # the shortcut for words of one script skips normalisation: it must read them as normalisation does
    if highlight_module._PLAIN.fullmatch(word.casefold()):
        normalised = normalize.normalize_text(word, placeholders=False)
        assert highlight_module._word_tokens(word) == tuple(normalised.split())


def test_a_weight_no_float_holds_is_no_weight() -> None:
    """Stored evidence is JSON, and JSON integers have no bound (the fuzz test found 10**300)."""
    from classifier.review.evidence import reasons

    huge = 10**400
    evidence = [{"term": "закладки", "weight": huge}, {"term": "меф", "weight": -huge}, {"term": "тайник"}]
    assert "".join(s.text for s in highlight("закладки и меф", evidence)) == "закладки и меф"
    shown = reasons("закладки и меф", evidence)
    assert shown.reasons_for == [] and shown.against == []
