"""Layouts: the blocks survive extraction, pages parse, boilerplate is neutral and in the page's language."""

from __future__ import annotations

import random
import re
from urllib.parse import urlsplit

import pytest
import trafilatura
from lxml import html as lxml_html

from classifier.corpus import templates
from classifier.corpus.layouts import LANGS, LAYOUTS, render_page
from classifier.corpus.slot_values import load_vocab

URL = "https://shop-kz.example/item/4521"
TITLE = "Заголовок страницы ZQTITLE"
BLOCKS = {
    "ru": (
        "ZQA1 Продаю почти новый велосипед, катался всего два сезона. Рама <алюминий> & тормоза дисковые.",
        "ZQB2 Самовывоз из центра города\nМожно посмотреть вечером после работы\nТорг при осмотре",
        "ZQC3 Пишите в личные сообщения, отвечу на все вопросы по состоянию и комплектации.",
    ),
    "kk": (
        "ZQA1 Жаңа дерлік велосипедімді сатамын, тек екі маусым ғана тептім. Жақтауы <алюминий> & тежегіш.",
        "ZQB2 Қала орталығынан алып кетуге болады\nКешке жұмыстан кейін көруге болады",
        "ZQC3 Жеке хабарламаға жазыңыз, жағдайы туралы барлық сұрақтарға жауап беремін.",
    ),
}
BLOCKS["mixed"] = (BLOCKS["kk"][0], BLOCKS["ru"][1], BLOCKS["kk"][2])
KAZAKH_LETTERS = re.compile("[әғқңөұүһіӘҒҚҢӨҰҮҺІ]")
SEEDS = (1, 2, 3)


def fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def visible_text(doc: str) -> str:
    """What a browser shows: body text, <br> as a line break, no scripts, styles or head."""
    tree = lxml_html.document_fromstring(doc)
    for br in tree.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for hidden in tree.xpath("//script|//style|//head|//title|//noscript"):
        hidden.drop_tree()
    return tree.text_content()


def render(layout: str, lang: str, seed: int, malformed: bool = False, **kwargs: object) -> str:
    return render_page(
        layout,
        title=TITLE,
        blocks=BLOCKS[lang],
        lang=lang,
        url=URL,
        rng=random.Random(seed),
        malformed=malformed,
        **kwargs,
    )


def boilerplate_text(doc: str, lang: str) -> str:
    """The visible text with the blocks, the title and the language switcher (Қаз | Рус) taken out."""
    text = fold(visible_text(re.sub(r'<ul class="lang-switch">.*?</ul>', "", doc)))
    for piece in (*BLOCKS[lang], TITLE):
        text = text.replace(fold(piece), " ")
    return text


@pytest.mark.parametrize("malformed", [False, True])
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_blocks_survive_and_appear_once(layout: str, lang: str, malformed: bool) -> None:
    for seed in SEEDS:
        doc = render(layout, lang, seed, malformed)
        tree = lxml_html.document_fromstring(doc)
        assert tree.tag == "html" and tree.find("body") is not None
        extracted = fold(trafilatura.extract(doc, favor_recall=True) or "")
        shown = fold(visible_text(doc))
        for block in BLOCKS[lang]:
            assert fold(block) in extracted or fold(block) in shown, (layout, seed, block)
            marker = block[:4]
            assert doc.count(marker) == 1, (
                f"{marker} must appear once, never in boilerplate ({layout}, {seed})"
            )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_deterministic_for_a_seeded_rng(layout: str) -> None:
    for malformed in (False, True):
        assert render(layout, "mixed", 7, malformed) == render(layout, "mixed", 7, malformed)
    assert len({render(layout, "ru", seed) for seed in range(6)}) > 1


@pytest.mark.parametrize("layout", LAYOUTS)
def test_links_point_to_example_domains_or_relative_paths(layout: str) -> None:
    for seed in SEEDS:
        tree = lxml_html.document_fromstring(render(layout, "ru", seed))
        for value in tree.xpath("//@href|//@src|//@action"):
            host = urlsplit(value).hostname
            assert value == URL or host is None or host.endswith(".example"), value


@pytest.mark.parametrize("layout", LAYOUTS)
def test_charset_declared_only_when_asked(layout: str) -> None:
    for seed in SEEDS:
        assert "charset" not in render(layout, "ru", seed).lower()
        doc = render(layout, "ru", seed, charset_meta="windows-1251")
        assert re.search(
            r'<meta (charset="windows-1251"|http-equiv="Content-Type" '
            r'content="text/html; charset=windows-1251")>',
            doc,
        )
        assert doc.index("windows-1251") < 1024, "browsers look for the charset in the first 1024 bytes"


@pytest.mark.parametrize("layout", [x for x in LAYOUTS if x != "bare"])
def test_boilerplate_is_in_the_page_language(layout: str) -> None:
    for seed in SEEDS:
        assert not KAZAKH_LETTERS.search(boilerplate_text(render(layout, "ru", seed), "ru"))
        assert KAZAKH_LETTERS.search(boilerplate_text(render(layout, "kk", seed), "kk"))


def test_malformed_pages_are_broken() -> None:
    for layout in LAYOUTS:
        changed = sum(render(layout, "ru", s) != render(layout, "ru", s, malformed=True) for s in range(10))
        assert changed >= 8, layout


def boilerplate_strings() -> list[str]:
    strings: list[str] = []
    for entry in load_vocab()["boilerplate"].values():
        for alternatives in entry.values() if isinstance(entry, dict) else [entry]:
            for item in alternatives:
                strings.extend(item if isinstance(item, list) else [item])
    return strings


def test_boilerplate_pools_have_both_languages() -> None:
    for key, entry in load_vocab()["boilerplate"].items():
        if isinstance(entry, dict):
            assert entry["ru"] and entry["kk"], key
            assert not any(KAZAKH_LETTERS.search(x) for x in entry["ru"]), key


def test_boilerplate_pools_are_label_neutral() -> None:
    vocab = load_vocab()
    words = {w for drug in vocab["drugs"] for w in (*drug["slang"], *drug["formal"])}
    words |= {w for side in vocab["stash_word"].values() for w in side}
    words |= {"наркотик", "наркотики", "есірткі", "закладка", "закладчик", "курьер", "доза"}
    text = " ".join(boilerplate_strings()).lower()
    found = sorted(w for w in words if re.search(rf"(?<!\w){re.escape(w.lower())}(?!\w)", text))
    assert not found


def test_layouts_match_the_family_format() -> None:
    assert LAYOUTS == templates.LAYOUTS


def test_unknown_layout_or_language_is_refused() -> None:
    with pytest.raises(ValueError):
        render_page("blog", title="t", blocks=["x"], lang="ru", url=URL, rng=random.Random(1))
    with pytest.raises(ValueError):
        render_page("bare", title="t", blocks=["x"], lang="en", url=URL, rng=random.Random(1))


def test_trafilatura_recovers_most_pages_of_every_layout() -> None:
    """Layouts mirror real markup well enough that trafilatura alone finds every block on most pages."""
    rates = {}
    for layout in LAYOUTS:
        hits = total = 0
        for lang in LANGS:
            for malformed in (False, True):
                for seed in range(8):
                    doc = render(layout, lang, 100 + seed, malformed)
                    extracted = fold(trafilatura.extract(doc, favor_recall=True) or "")
                    hits += all(fold(b) in extracted for b in BLOCKS[lang])
                    total += 1
        rates[layout] = hits / total
    assert min(rates.values()) >= 0.9, rates
