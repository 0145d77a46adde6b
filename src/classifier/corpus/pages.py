"""The demo corpus, page by page: a deterministic stream of Russian, Kazakh and mixed pages, with labels.

Each page: either a written text (share ``written_share``, taken whole from ``corpus/written/``), or a
template: draw a label, language and category (or hard / ordinary negative), pick a family of that
cell and render it. Then maybe disguise it, put it in a layout, encode it (utf-8, windows-1251, koi8-r;
declared in the HTTP header, a meta tag or not at all) (``build`` writes each as a WARC response record).

Sellers churn: a blocked shop comes back within days on a new site or channel with the same text, bot
and wallet. So a share ``mirror_share`` of the positive pages is re-posted as 1-3 *mirrors*, written
right after the original: the same blocks and contacts on another site, maybe in another layout and
encoding, sometimes with a marked title or a line about the move, fetched a few days later.
``labels.csv`` names the original of each mirror in ``mirror_of``.

Sellers also post their price lists as pictures. A share ``image_share`` of the original pages,
positive and negative alike, shows its text blocks only in JPEGs (``image_pages``): the page keeps its
title and layout, the blocks become ``<img>`` (or a Telegram post photo), maybe with a caption that never
carries the offer; the mirrors of such a page re-post the same pictures. A separate random stream decides
it, so every other page is the page a corpus without pictures has, byte for byte.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from classifier.common.config import CorpusSettings
from classifier.corpus.image_pages import caption, font_problem, image_html, image_url, render_pictures
from classifier.corpus.layouts import render_page
from classifier.corpus.markup_damage import break_html
from classifier.corpus.obfuscate import KINDS, obfuscate
from classifier.corpus.slot_values import PageContext, gen_site, load_vocab
from classifier.corpus.templates import Family, Renderer, load_families
from classifier.corpus.written import BY_AUTHOR, WrittenDeck, load_written


@dataclass(frozen=True)
class Page:
    url: str
    html: str
    labels: dict[str, Any]
    encoding: str
    declared: str
    fetched_at: datetime
    blocks: tuple[str, ...] = ()  # the text blocks (mirrors re-use them); on an image page, in its pictures
    family: Family | None = None  # what the text came from (mirrors keep its layouts and language)
    images: tuple[tuple[str, bytes], ...] = ()  # (URL, JPEG) of the pictures an image page shows


_START = datetime(2025, 1, 1, tzinfo=UTC)


def _weighted(rng: random.Random, shares: Mapping[str, float]) -> str:
    keys = list(shares)
    return rng.choices(keys, weights=[shares[k] for k in keys])[0]


class FamilyIndex:
    """Families by cell: (label, category or hard/ordinary, language)."""

    def __init__(self, families: tuple[Family, ...]):
        self.cells: dict[tuple[int, str, str], list[Family]] = defaultdict(list)
        self.by_name: dict[str, Family] = {}
        for fam in families:
            self.cells[(fam.label, self._group(fam), fam.lang)].append(fam)
            self.by_name[fam.name] = fam

    @staticmethod
    def _group(fam: Family) -> str:
        if fam.label == 1:
            return fam.category
        return "hard" if fam.hard else "ordinary"

    def pick(self, rng: random.Random, label: int, group: str, lang: str) -> Family:
        candidates = self.cells.get((label, group, lang))
        if not candidates:  # an empty cell borrows from other languages, then from the whole label
            candidates = [
                f for (lb, g, _), fams in self.cells.items() if lb == label and g == group for f in fams
            ]
        if not candidates:
            candidates = [f for (lb, _, _), fams in self.cells.items() if lb == label for f in fams]
        if not candidates:
            raise ValueError(f"no family with label {label}")
        return rng.choice(candidates)


def page_url(layout: str, ctx: PageContext) -> str:
    rng = ctx.rng
    site = gen_site(ctx)
    number = rng.randint(1000, 999999)
    if layout == "telegram":
        return f"https://t.me/s/{site.split('.')[0].replace('-', '_')}_example"
    return {
        "shop": f"https://{site}/catalog/item-{number}",
        "forum": f"https://forum.{site}/threads/{number}/",
        "classifieds": f"https://{site}/obyavlenie/{number}.html",
        "social": f"https://{site}/wall-{number}_{rng.randint(1, 9999)}",
        "news": f"https://{site}/news/{rng.choice([2024, 2025, 2026])}/{rng.randint(1, 12):02d}/{number}",
        "bare": f"https://{site}/" + rng.choice(["", "index.html", f"p{number}.htm"]),
    }[layout]


def _site_of(url: str) -> str:
    """The site a page lives on: the host, or the channel for Telegram previews."""
    parts = urlsplit(url)
    if parts.hostname == "t.me":
        return "t.me/" + parts.path.strip("/").split("/")[-1]
    return parts.hostname or ""


def _dress(
    rng: random.Random,
    family: Family,
    layout: str,
    url: str,
    title: str,
    blocks: list[str],
    settings: CorpusSettings,
) -> tuple[str, str, str, bool]:
    """Encoding, its declaration, malformedness and the HTML of one page."""
    encoding = _weighted(rng, settings.encoding_shares)
    declared = _weighted(rng, settings.charset_declared)
    malformed = rng.random() < settings.malformed_share
    html = render_page(
        layout,
        title=title,
        blocks=blocks,
        lang=family.lang,
        url=url,
        rng=rng,
        charset_meta=encoding if declared == "meta" else None,
        malformed=malformed,
    )
    return html, encoding, declared, malformed


# Emoji that legitimate shops, cafés and channels decorate their lines with (none is a drug code)
_DECORATION = ("🔥", "✅", "📦", "📍", "💰", "🚚", "⭐", "🎉", "👉", "❗", "💯", "🛒", "📞", "🌸", "🎁", "⚠️")


def _with_emoji(blocks: list[str], rng: random.Random) -> list[str]:
    """Up to three lines of a legitimate page start with an emoji, as many real posts do."""
    chosen = set(rng.sample(range(len(blocks)), k=min(len(blocks), rng.randint(1, 3))))
    return [f"{rng.choice(_DECORATION)} {b}" if i in chosen else b for i, b in enumerate(blocks)]


def _template_text(
    rng: random.Random, families: FamilyIndex, settings: CorpusSettings
) -> tuple[Family, str, list[str]]:
    """A family drawn for a label, language and category, rendered, with surface cues on both sides."""
    label = int(rng.random() < settings.positive_share)
    lang = _weighted(rng, settings.language_shares)
    if label:
        group = _weighted(rng, settings.category_shares)
    else:
        group = "hard" if rng.random() < settings.hard_negative_share else "ordinary"
    family = families.pick(rng, label, group, lang)
    ctx = PageContext(rng=rng, lang=family.lang)
    text = Renderer(family, ctx).render()
    blocks, title = list(text.blocks), text.title
    if not label and rng.random() < settings.negative_short_share:  # a post, a comment, a teaser
        blocks = blocks[: rng.randint(1, 2)]
    if not label and rng.random() < settings.negative_contact_share:
        blocks.append(Renderer(family, ctx).expand("{neutral_contact}"))
    if label and rng.random() < settings.positive_phone_share:
        blocks.append(Renderer(family, ctx).expand("{seller_phone}"))
    if not label and rng.random() < settings.negative_emoji_share:
        blocks = _with_emoji(blocks, rng)
    return family, title, blocks


def make_page(
    index: int,
    rng: random.Random,
    families: FamilyIndex,
    settings: CorpusSettings,
    taken: set[str] | None = None,
    written: WrittenDeck | None = None,
) -> Page:
    """One original page: a template family's text, or (share ``written_share``) a written text.

    ``taken`` holds the Telegram channels used so far: a channel is one resource, so two unrelated
    posts never share one (its name gets the page's number instead of a new draw, keeping the stream).
    """
    kinds: list[str] = []
    written_text = bool(written) and rng.random() < settings.written_share
    if written_text:
        text = written.deal()  # contacts, emoji and disguise as its author wrote them
        family, title, blocks = text.family, text.title, list(text.blocks)
        kinds = [BY_AUTHOR] if text.disguised else []
        if not family.label and len(blocks) > 2 and rng.random() < settings.written_negative_short_share:
            # a preview, as feeds show long posts: the opening and the last line (where contacts sit);
            # else shortness alone would tell sellers' posts (tests/test_shortcut_audit.py)
            blocks = [*blocks[: rng.randint(1, 2)], blocks[-1]]
    else:
        family, title, blocks = _template_text(rng, families, settings)
    label = family.label
    ctx = PageContext(rng=rng, lang=family.lang)
    # Legitimate pages are disguised as often: stylised shop names, warnings quoting "3акладки", typos.
    # Otherwise disguise itself would tell the label (tests/test_shortcut_audit.py).
    share = settings.obfuscated_share if label else settings.negative_obfuscated_share
    if not kinds and rng.random() < share:  # a written text its author disguised stays as written
        kinds = rng.sample(sorted(KINDS), k=rng.choice([1, 1, 2]))
        blocks = [obfuscate(b, rng, kinds) for b in blocks]
        title = obfuscate(title, rng, kinds)
    layout = rng.choice(family.layouts)
    if not label and not written_text and rng.random() < settings.negative_telegram_share:
        layout = "telegram"  # shops, cafés, news agencies and the police post on Telegram channels too
    url = page_url(layout, ctx)
    if taken is not None and layout == "telegram" and _site_of(url) in taken:
        url = url.removesuffix("_example") + f"_{index}_example"
    html, encoding, declared, malformed = _dress(rng, family, layout, url, title, blocks, settings)
    labels = {
        "url": url,
        "label": label,
        "category": family.category,
        "family": family.name,
        "kind": family.kind,
        "hard_negative": family.hard,
        "lang": family.lang,
        "layout": layout,
        "encoding": encoding,
        "charset_declared": declared,
        "obfuscations": "+".join(kinds),
        "malformed": malformed,
        "title": title,
        "mirror_of": "",
        "in_image": 0,  # 1 when the blocks are shown only in pictures (iter_pages)
    }
    fetched_at = _START + timedelta(minutes=7 * index + rng.randint(0, 6))
    return Page(url, html, labels, encoding, declared, fetched_at, tuple(blocks), family)


def _mirror_words(key: str, lang: str, rng: random.Random) -> list[str]:
    pools = load_vocab()["mirror"][key]
    side = rng.choice(["ru", "kk"]) if lang == "mixed" else ("kk" if lang == "kk" else "ru")
    return pools[side]


def make_mirror(
    original: Page,
    family: Family,
    rng: random.Random,
    settings: CorpusSettings,
    after: datetime | None = None,
    taken: set[str] | None = None,
) -> Page:
    """A re-post of ``original`` on another site: its blocks and contacts, fetched 1-4 days after ``after``.

    ``after`` is the fetch time of the shop's previous appearance (default: the original's), so that
    a chain of mirrors moves forward in time. Another layout of the family half of the time, a fresh
    encoding and declaration, a title marked as a mirror on a quarter of mirrors and a line about the
    move on a third. The mirror avoids the original's site and the sites in ``taken`` (the sites the
    corpus has used so far), and adds its own to ``taken``.
    """
    taken = set() if taken is None else taken
    taken.add(_site_of(original.url))
    ctx = PageContext(rng=rng, lang=family.lang)
    layout = original.labels["layout"] if rng.random() < 0.5 else rng.choice(family.layouts)
    url = page_url(layout, ctx)
    while _site_of(url) in taken:
        url = page_url(layout, ctx)
    taken.add(_site_of(url))
    title, blocks = original.labels["title"], list(original.blocks)
    if rng.random() < 0.25:
        title = rng.choice(_mirror_words("title_marks", family.lang, rng)).replace("{title}", title)
    if rng.random() < 0.33:
        note = rng.choice(_mirror_words("notes", family.lang, rng))
        blocks.insert(0 if rng.random() < 0.6 else len(blocks), note)
    html, encoding, declared, malformed = _dress(rng, family, layout, url, title, blocks, settings)
    labels = {
        **original.labels,
        "url": url,
        "layout": layout,
        "encoding": encoding,
        "charset_declared": declared,
        "malformed": malformed,
        "title": title,
    }
    previous = original.fetched_at if after is None else after
    fetched_at = previous + timedelta(days=rng.randint(1, 4), minutes=rng.randint(0, 1439))
    return Page(url, html, labels, encoding, declared, fetched_at, tuple(blocks))


def as_image_page(
    page: Page,
    rng: random.Random,
    shown: tuple[str, ...],
    around: tuple[list[str], list[str]] = ([], []),
    pictures: tuple[bytes, ...] = (),
) -> Page:
    """``page`` with the blocks ``shown`` only in pictures: the same title, layout, encoding and
    malformedness, the pictures where the blocks were, sometimes a caption next to them.

    ``around``: blocks that stay text, before and after the pictures (a mirror's line about the move).
    ``pictures``: a mirror re-posts its original's (the same bytes); else they are drawn from ``shown``.
    Everything the page draws comes from ``rng``, the corpus's stream for pictures.
    """
    pictures = pictures or render_pictures(shown, rng)
    layout, lang = page.labels["layout"], page.labels["lang"]
    urls = [image_url(page.url, layout, rng) for _ in pictures]
    slots = [f"imageslot{i}x" for i in range(len(pictures))]  # plain text the layout places as a block
    middle = list(slots)
    if rng.random() < 0.5:
        line = caption(lang, rng)
        middle = [line, *middle] if rng.random() < 0.5 else [*middle, line]
    html = render_page(
        layout,
        title=page.labels["title"],
        blocks=[*around[0], *middle, *around[1]],
        lang=lang,
        url=page.url,
        rng=rng,
        charset_meta=page.encoding if page.declared == "meta" else None,
    )
    for slot, url in zip(slots, urls, strict=True):
        html = html.replace(slot, image_html(url, layout, page.url))
    if page.labels["malformed"]:  # damaged after the pictures are in, as any page's markup
        html = break_html(html, rng)
    labels = {**page.labels, "in_image": 1}
    return replace(page, html=html, labels=labels, images=tuple(zip(urls, pictures, strict=True)))


def _around(mirror: Page, original: Page) -> tuple[list[str], list[str]]:
    """The mirror's line about the move, before or after the original's blocks (it stays text)."""
    blocks, kept = list(mirror.blocks), list(original.blocks)
    if blocks == kept:
        return [], []
    return (blocks[:1], []) if blocks[1:] == kept else ([], blocks[len(kept) :])


def iter_pages(
    settings: CorpusSettings, n: int, seed: int, families: FamilyIndex | None = None
) -> Iterator[tuple[Page, int | None]]:
    """``n`` pages in WARC order, each with the position of its original (None for originals).

    Originals come from one random stream and mirrors from another, so the originals are the pages
    a corpus without mirrors has, in the same order: mirrors add copies, they do not change what the
    model learns from (training drops them, see ``datasets.demo_dataset``). Positives are therefore a
    little above ``positive_share`` over all pages. Image pages (``image_share`` of the originals, with
    their mirrors) are drawn from a third stream; without the font there are none.
    """
    families = families or FamilyIndex(load_families())
    written = WrittenDeck(load_written(), seed) if settings.written_share > 0 else None
    rng, mirror_rng = random.Random(seed), random.Random(f"mirrors:{seed}")
    image_rng, pictures_off = random.Random(f"images:{seed}"), bool(font_problem())
    seen: set[str] = set()  # sites used so far: a mirror always moves to a site not seen before
    position = 0
    while position < n:
        page = make_page(position, rng, families, settings, taken=seen, written=written)
        origin = position
        seen.add(_site_of(page.url))
        if image_rng.random() < settings.image_share and not pictures_off:
            page = as_image_page(page, image_rng, page.blocks)
        yield page, None
        position += 1
        if not page.labels["label"] or mirror_rng.random() >= settings.mirror_share:
            continue
        family, last = page.family or families.by_name[page.labels["family"]], page.fetched_at
        for _ in range(min(mirror_rng.randint(1, 3), n - position)):
            mirror = make_mirror(page, family, mirror_rng, settings, after=last, taken=seen)
            if page.images:  # the same pictures, on the mirror's site
                pictures = tuple(data for _, data in page.images)
                mirror = as_image_page(mirror, image_rng, page.blocks, _around(mirror, page), pictures)
            yield mirror, origin
            last = mirror.fetched_at
            position += 1
