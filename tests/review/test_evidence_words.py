"""The evidence in words (``review/evidence.py``): emoji as what they stand for, contacts behind
placeholders, numbers and disguised words as the page wrote them, cues as «group: words», weights the
Russian way with what they mean; and the case page that shows them, marked in the text, as text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text as sql

from classifier.queue import CaseStore
from classifier.review.evidence import EMOJI_MEANING, WEIGHT_HINT, Reason, reasons, signed, strength
from classifier.text.emoji import DRUG_EMOJI, EMOJI_TOKENS
from review.cases import review_rows
from review.helpers import assert_inert


def words(text: str, *evidence: dict[str, Any]) -> list[str]:
    shown = reasons(text, evidence)
    return [r.words for r in shown.reasons_for + shown.against]


def one(text: str, **evidence: Any) -> Reason:
    shown = reasons(text, [{"weight": 0.5, **evidence}])
    [reason] = shown.reasons_for + shown.against
    return reason


# -- emoji --


def test_a_drug_emoji_shows_the_emoji_of_the_page_and_what_it_stands_for() -> None:
    assert words("Есть ❄️ и ⛄", {"term": "emoji_snowflake", "weight": 0.8}) == [
        "❄️ ⛄ (снег: так обозначают кокаин)"
    ]


def test_an_emoji_not_in_the_shown_text_is_drawn_from_its_token() -> None:
    assert one("нет эмодзи", term="emoji_leaf").words == "🍁 (лист: так обозначают марихуану)"
    assert one("нет эмодзи", term="emoji_snowflake").words.startswith("❄\ufe0f (")


def test_an_emoji_that_means_no_drug_has_a_neutral_name() -> None:
    assert one("Скидки 🔥🔥", term="emoji_fire").words == "🔥 (огонь)"


def test_every_emoji_token_has_words_and_only_drug_emoji_name_a_drug() -> None:
    assert set(EMOJI_TOKENS.values()) == set(EMOJI_MEANING)
    for name, meaning in EMOJI_MEANING.items():
        assert ("так обозначают" in meaning or "обозначают наркотики" in meaning) == (name in DRUG_EMOJI)


def test_an_unknown_emoji_token_is_called_an_emoji() -> None:
    assert one("текст", term="emoji_unicorn").words == "эмодзи"


# -- contacts behind placeholders --


def test_a_placeholder_shows_its_kind_and_the_contacts_of_the_page() -> None:
    text = "Пиши @shop_example или t.me/shop_two, звони +7 700 000 00 01"
    assert one(text, term="_tg_").words == "контакт в Telegram: @shop_example, t.me/shop_two"
    assert one(text, term="_phone_").words == "номер телефона: +7 700 000 00 01"


def test_many_contacts_are_counted_beyond_the_first_three() -> None:
    text = " ".join(f"@shop_example{i}" for i in range(5))
    assert one(text, term="_tg_").words == (
        "контакт в Telegram: @shop_example0, @shop_example1, @shop_example2 и ещё 2"
    )


def test_a_placeholder_without_a_contact_in_the_text_is_its_kind() -> None:
    assert one("без контактов", term="_wallet_").words == "криптокошелёк"


# -- numbers, disguises, cues, page signals --


def test_a_number_shape_shows_the_numbers_the_page_wrote() -> None:
    assert one("Цена 14к, опт 25к, снова 14К", term="00к").words == "14к, 25к"


def test_a_number_shape_not_in_the_text_says_what_it_is() -> None:
    assert one("без цен", term="00к").words == "число вида 00к (модель не различает цифры)"


def test_a_disguised_word_shows_how_the_page_wrote_it_and_how_it_reads() -> None:
    text = "Свежие 3aкладки; З А К Л А Д К И"
    assert one(text, term="закладки").words == "3aкладки, З А К Л А Д К И (читается как «закладки»)"
    assert one("Закладки здесь", term="закладки").words == "Закладки"  # only the case differs


def test_a_cue_is_its_group_and_the_words_of_the_page() -> None:
    text = "Мефедрон 14к, пиши @shop_example ❄️, оплата за  адрес"
    cue: dict[str, Any] = {"kind": "cue", "weight": 0.4}
    assert words(
        text,
        {**cue, "term": "14к", "cue": "цена"},
        {**cue, "term": "мефедрон", "cue": "наркотик"},
        {**cue, "term": "_tg_", "cue": "контакт"},
        {**cue, "term": "emoji_snowflake", "cue": "сленг"},
        {**cue, "term": "за адрес", "cue": "оплата труда"},
        {**cue, "term": "предложение", "cue": "предложение"},  # found nowhere: the group's label
    ) == [
        "цена: 14к",
        "наркотик: Мефедрон",
        "контакт: Telegram @shop_example",
        "сленг: ❄️ (снег: так обозначают кокаин)",
        "оплата труда: за адрес",
        "предложение",
    ]


def test_a_page_signal_is_shown_as_it_is_and_not_marked() -> None:
    reason = one("Пиши @shop_example", term="Telegram-контакты на странице: 1", cue="страница", kind="page")
    assert reason.words == "Telegram-контакты на странице: 1"
    assert not reason.marked and not reason.missing


def test_a_reason_for_not_in_the_shown_text_says_so() -> None:
    shown = reasons("Обычный текст", [{"term": "закладки", "weight": 1.0}, {"term": "текст", "weight": -1.0}])
    assert [(r.marked, r.missing) for r in shown.reasons_for] == [(True, True)]
    assert [(r.marked, r.missing) for r in shown.against] == [(False, False)]  # against: never marked


# -- weights --


def test_weights_have_a_sign_and_a_decimal_comma() -> None:
    assert [signed(w) for w in (0.8, 1.234, -2.1, -0.004)] == ["+0,80", "+1,23", "−2,10", "−0,00"]


def test_weights_say_how_strong_a_reason_is() -> None:
    assert [strength(w) for w in (2.0, 1.0, -1.5, 0.5, -0.3, 0.29, -0.01)] == [
        "сильный признак",
        "сильный признак",
        "сильный признак",
        "заметный признак",
        "заметный признак",
        "слабый признак",
        "слабый признак",
    ]


def test_reasons_without_a_number_for_a_weight_are_left_out() -> None:
    evidence = [
        {"term": "а", "weight": float("nan")},
        {"term": "б", "weight": True},
        {"term": "в", "weight": "0.5"},
        {"term": "г"},
        {"term": "д", "weight": 0},
        "закладки",
        None,
        {"term": "е", "weight": float("inf")},
    ]
    shown = reasons("а б в г д е", evidence)
    assert shown.reasons_for == [] and shown.against == []


def test_titles_say_what_a_mark_is() -> None:
    shown = reasons(
        "❄️ 14к @shop_example 3aкладки меф",
        [
            {"term": "emoji_snowflake", "weight": 1},
            {"term": "00к", "weight": 1},
            {"term": "_tg_", "weight": 1},
            {"term": "закладки", "weight": 1},
            {"term": "меф", "weight": 1},
            {"term": "меф", "weight": 1, "cue": "наркотик", "kind": "cue"},
            {"term": "_tg_", "weight": 1, "cue": "контакт", "kind": "cue"},  # not «контакт: контакт …»
            {"term": "emoji_snowflake", "weight": 1, "cue": "сленг", "kind": "cue"},
        ],
    )
    assert shown.titles == {
        "emoji_snowflake": "снег: так обозначают кокаин",
        "00к": "число вида 00к",
        "_tg_": "контакт в Telegram",
        "закладки": "закладки",
        "меф": "наркотик: меф",  # a cue's title names its group, but for an emoji or a contact
    }


# -- the case page --

PAGE = (
    "Свежие 3aкладки ❄️ по городу. Нужен К*у*р*ь*е*р.\nЦена 14к, пиши @snow_shop_example. Полиция не найдёт."
)
EVIDENCE = [
    {"term": "закладки", "weight": 1.3, "sentence": "Свежие 3aкладки ❄️ по городу."},
    {"term": "emoji_snowflake", "weight": 0.8, "sentence": ""},
    {"term": "курьер", "weight": 0.6, "sentence": ""},
    {"term": "14к", "weight": 0.5, "sentence": "", "cue": "цена", "kind": "cue"},
    {"term": "_tg_", "weight": 0.4, "sentence": ""},
    {"term": "эмодзи: 1", "weight": 0.1, "sentence": "", "cue": "страница", "kind": "page"},
    {"term": "полиция", "weight": -2.1, "sentence": "", "cue": "предупреждение", "kind": "cue"},
]


def add_case(store: CaseStore, record: str, page: str, evidence: list[dict[str, Any]]) -> int:
    row = {**review_rows(0)[0], "id": record, "url": f"https://{record}.example/", "cluster_id": record}
    row.update(text=page, excerpt=page[:400], evidence=evidence, signature=None, bank_keys=[])
    store.add_scored([row])
    with store.engine.connect() as conn:
        query = sql("SELECT case_id FROM scores WHERE record_id = :r")
        return int(conn.execute(query, {"r": record}).scalar_one())


def test_case_page_shows_evidence_in_words_marked_in_the_text(
    store: CaseStore, open_as: Callable[..., TestClient]
) -> None:
    case_id = add_case(store, "words-1", PAGE, EVIDENCE)
    html = open_as("boris").get(f"/cases/{case_id}").text
    page_text = html.split('<div class="page-text">')[1].split("</div>")[0]
    assert '<mark title="закладки">3aкладки</mark>' in page_text
    assert '<mark title="снег: так обозначают кокаин">❄️</mark>' in page_text
    assert '<mark title="курьер">К*у*р*ь*е*р</mark>' in page_text
    assert '<mark title="цена: 14к">14к</mark>' in page_text
    assert '<mark title="контакт в Telegram">@snow_shop_example</mark>' in page_text
    assert "<mark" not in page_text.split("snow_shop_example")[-1]  # the reason against: not marked
    evidence = html.split('<section class="evidence">')[1].split("</section>")[0]
    reasons_for, against = evidence.split("<h3>Против</h3>")
    for shown in (
        '<mark>3aкладки (читается как «закладки»)</mark> <span class="weight">вклад +1,30, сильный признак</span>',
        '<mark>❄️ (снег: так обозначают кокаин)</mark> <span class="weight">вклад +0,80, заметный признак</span>',
        "<mark>К*у*р*ь*е*р (читается как «курьер»)</mark>",
        "<mark>цена: 14к</mark>",
        "<mark>контакт в Telegram: @snow_shop_example</mark>",
        'эмодзи: 1 <span class="weight">вклад +0,10, слабый признак</span>',  # a page signal: not marked
    ):
        assert shown in reasons_for
    assert 'предупреждение: Полиция <span class="weight">вклад −2,10, сильный признак</span>' in against
    assert WEIGHT_HINT in html
    for token in ("emoji_", "_tg_", "0.80", "1.30"):
        assert token not in evidence


def test_a_reason_the_shown_text_lacks_is_listed_unmarked(
    store: CaseStore, open_as: Callable[..., TestClient]
) -> None:
    case_id = add_case(
        store, "words-2", "Обычный текст.", [{"term": "закладки", "weight": 1.2, "sentence": ""}]
    )
    html = open_as("boris").get(f"/cases/{case_id}").text
    assert "<mark" not in html.split('<div class="page-text">')[1].split("</div>")[0]
    assert (
        '<li>закладки <span class="weight">вклад +1,20, сильный признак</span> <span class="missing">' in html
    )


def test_page_words_that_become_marks_and_evidence_stay_text(
    store: CaseStore, open_as: Callable[..., TestClient]
) -> None:
    # a cue's words are the page's, so markup on the page can be a marked span and a listed reason
    hostile = '<script>window.__pwned="cue"</script>'
    page = f"Пиши ❄️ {hostile} <b onmouseover=\"window.__pwned='b'\">@snow_shop_example</b>"
    evidence = [
        {"term": 'script window __pwned="cue" script', "weight": 0.9, "cue": "<b>контакт</b>", "kind": "cue"},
        {"term": "emoji_snowflake", "weight": 0.5, "sentence": hostile},
        {"term": "_tg_", "weight": 0.4, "sentence": ""},
        {"term": "<img src=x onerror=alert(1)>", "weight": -0.3, "cue": hostile, "kind": "cue"},
    ]
    case_id = add_case(store, "words-3", page, evidence)
    html = open_as("boris").get(f"/cases/{case_id}").text
    assert_inert(html)
    title = "&lt;b&gt;контакт&lt;/b&gt;: script window __pwned=&#34;cue&#34; script"
    assert f'<mark title="{title}">script&gt;window.__pwned=&#34;cue&#34;&lt;/script</mark>' in html
    assert "&lt;b&gt;контакт&lt;/b&gt;: script&gt;window.__pwned=&#34;cue&#34;&lt;/script" in html
    assert "<b>" not in html and "<img" not in html


def test_evidence_read_in_an_image_points_to_the_image_and_the_case_page_shows_its_text(
    store: CaseStore, open_as: Callable[..., TestClient]
) -> None:
    hostile = "<script>window.__pwned='ocr'</script>"
    images = [
        {
            "n": 1,
            "url": "https://shop.example/logo.png",
            "text": "",
            "confidence": None,
            "error": "too small",
        },
        {
            "n": 2,
            "url": "https://shop.example/price.jpg",
            "text": f"Меф 1г — 15к\nЗакладки по городу {hostile}",
            "confidence": 0.87,
            "error": "",
        },
    ]
    evidence = [
        {"term": "закладки", "weight": 1.3, "sentence": "Закладки по городу"},
        {"term": "меф", "weight": 0.9, "sentence": ""},
        {"term": "оптом", "weight": 0.4, "sentence": ""},
    ]
    row = {**review_rows(0)[0], "id": "image-1", "url": "https://image-1.example/", "cluster_id": "image-1"}
    row.update(
        text="🔥🔥🔥", excerpt="🔥🔥🔥", evidence=evidence, images=images, signature=None, bank_keys=[]
    )
    store.add_scored([row])
    with store.engine.connect() as conn:
        query = sql("SELECT case_id FROM scores WHERE record_id = :r")
        case_id = int(conn.execute(query, {"r": "image-1"}).scalar_one())
    html = open_as("boris").get(f"/cases/{case_id}").text
    section = html.split('<section class="image-text" id="images">')[1].split("</section>")[0]
    assert "Изображение 2" in section and "уверенностью 87 %" in section
    assert '<mark title="закладки">Закладки</mark>' in section and '<mark title="меф">Меф</mark>' in section
    assert "Изображение 1: https://shop.example/logo.png — too small" in section  # not read, and why
    assert "<img" not in section and "<script>window" not in html  # text only, escaped
    assert_inert(html)
    evidence_html = html.split('<section class="evidence">')[1].split("</section>")[0]
    assert '<a class="in-image" href="#images">(на изображении 2)</a>' in evidence_html
    assert "на изображении 2: «Закладки по городу»" in evidence_html
    # a reason neither in the text nor in an image is still said to be missing
    assert '<li>оптом <span class="weight">вклад +0,40, заметный признак</span> <span class="missing">' in (
        evidence_html
    )
