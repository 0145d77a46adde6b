"""Shared parts of the demo corpus's page layouts: the per-page `Page` state and the boilerplate pieces.

`Page` draws boilerplate for one page in its language from ``vocab/boilerplate.yaml`` and wraps a body
in the standard document shell. The functions below build the pieces several layouts reuse: header,
footer, cookie banner, related links, share buttons, ad slot, sidebar, breadcrumbs, comments and
paragraphs, plus the escaping helpers. Every piece draws from the page's rng in a fixed order, so a
seeded page is reproducible.
"""

from __future__ import annotations

import html
import random
from collections.abc import Sequence
from functools import cache
from typing import Any

from classifier.corpus.slot_values import load_vocab

_SLUGS = ("catalog", "news", "about", "help", "page", "section", "info", "topic", "item", "blog", "category")
_SHARE_HOSTS = ("vk", "facebook", "ok", "x", "mail")


@cache
def _pools() -> dict[str, Any]:
    return load_vocab()["boilerplate"]


def esc(text: str) -> str:
    return html.escape(text)


def block_html(block: str) -> str:
    """One text block, escaped, its line breaks kept as <br>."""
    return "<br>\n".join(esc(line) for line in block.split("\n"))


def compact(n: int) -> str:
    """A counter the way Telegram and VK print it: 980, 12.3K, 1.2M."""
    if n < 1000:
        return str(n)
    value, suffix = (n / 1000, "K") if n < 1_000_000 else (n / 1_000_000, "M")
    return f"{value:.1f}".removesuffix(".0") + suffix


class Page:
    """Boilerplate draws for one page, in its language (`mixed`: a language per element)."""

    def __init__(self, rng: random.Random, lang: str, url: str, charset_meta: str | None):
        self.rng, self.lang, self.url, self.charset_meta = rng, lang, url, charset_meta

    def side(self) -> str:
        return self.rng.choice(("ru", "kk")) if self.lang == "mixed" else self.lang

    def pool(self, key: str, side: str | None = None) -> list[Any]:
        entry = _pools()[key]
        return entry[side or self.side()] if isinstance(entry, dict) else entry

    def say(self, key: str, **fields: object) -> str:
        """One alternative of `key`, escaped, with `{n}`, `{site}`... filled and `{date}` drawn."""
        side = self.side()
        text = self.rng.choice(self.pool(key, side))
        if "{date}" in text:
            fields["date"] = self.date(side)
        return esc(text.format(**fields))

    def some(self, key: str, lo: int, hi: int) -> list[str]:
        """`lo`..`hi` entries of a list pool, escaped, in pool order (a menu keeps its order)."""
        items = self.pool(key)
        picks = sorted(self.rng.sample(range(len(items)), min(len(items), self.rng.randint(lo, hi))))
        return [esc(items[i]) for i in picks]

    def date(self, side: str | None = None) -> str:
        rng, side = self.rng, side or self.side()
        day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(2022, 2025)
        clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
        roll = rng.random()
        if roll < 0.2:
            return f"{day:02d}.{month:02d}.{year}" + (f" {clock}" if rng.random() < 0.5 else "")
        if roll < 0.35:
            return rng.choice(self.pool("date_recent", side)).format(t=clock)
        template = rng.choice(self.pool("date_long", side))
        return template.format(d=day, month=self.pool("months", side)[month - 1], y=year, t=clock)

    def user(self) -> str:
        if self.rng.random() < 0.5:
            return esc(self.rng.choice(load_vocab()["nickname"]))
        return esc(self.rng.choice(load_vocab()["name"][self.side()]) + str(self.rng.randint(1, 99)))

    def href(self) -> str:
        return f"/{self.rng.choice(_SLUGS)}/{self.rng.randint(10, 99999)}" if self.rng.random() < 0.8 else "#"

    def html_lang(self) -> str:
        return self.side()

    def charset_tag(self) -> str:
        if self.charset_meta is None:
            return ""
        if self.rng.random() < 0.5:
            return f'<meta charset="{self.charset_meta}">\n'
        return f'<meta http-equiv="Content-Type" content="text/html; charset={self.charset_meta}">\n'

    def document(self, head_title: str, body: str, body_class: str) -> str:
        """The standard page shell: doctype, head with scripts and styles, then `body`."""
        rng = self.rng
        version = rng.randint(100, 999)
        head = [
            self.charset_tag(),
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            f"<title>{head_title}</title>\n",
            f'<link rel="canonical" href="{esc(self.url)}">\n',
            f'<link rel="stylesheet" href="/static/css/main.css?v={version}">\n',
        ]
        if rng.random() < 0.5:
            head.append("<style>.cookie-banner{position:fixed;bottom:0}.hidden{display:none}</style>\n")
        head.append(f'<script async src="https://counter.example/tag.js?id={version}"></script>\n')
        head.append("<script>window.dataLayer = window.dataLayer || []; dataLayer.push({v: 1});</script>\n")
        return (
            f'<!DOCTYPE html>\n<html lang="{self.html_lang()}">\n<head>\n{"".join(head)}</head>\n'
            f'<body class="{body_class}">\n{body}\n</body>\n</html>\n'
        )


# --- shared pieces of boilerplate ------------------------------------------------------------------


def links(page: Page, labels: Sequence[str], cls: str) -> str:
    items = "".join(f'<li><a href="{page.href()}">{label}</a></li>' for label in labels)
    return f'<ul class="{cls}">{items}</ul>'


def header(page: Page, site: str, menu_key: str, extra: str = "") -> str:
    rng = page.rng
    parts = [
        f'<header class="site-header" id="top">\n<a class="logo" href="/">'
        f'<img src="/static/img/logo.png" alt="{site}"><span class="logo__name">{site}</span></a>\n'
    ]
    if rng.random() < 0.4:
        langs = rng.choice(page.pool("lang_switch"))
        parts.append(links(page, [esc(x) for x in langs], "lang-switch") + "\n")
    menu = [page.say("home"), *page.some(menu_key, 4, 7)]
    label = page.say("menu_label")
    parts.append(f'<nav class="main-nav" aria-label="{label}">{links(page, menu, "menu")}</nav>\n')
    if rng.random() < 0.7:
        parts.append(
            f'<form class="search" action="/search/" method="get"><input type="text" name="q" '
            f'placeholder="{page.say("search_placeholder")}"><button type="submit">'
            f"{page.say('search_button')}</button></form>\n"
        )
    if rng.random() < 0.7:
        parts.append(
            f'<div class="user-links"><a href="/login/">{page.say("login")}</a> '
            f'<a href="/register/">{page.say("register")}</a></div>\n'
        )
    return "".join(parts) + extra + "</header>\n"


def footer(page: Page, site: str) -> str:
    rng = page.rng
    menu = links(page, page.some("footer_links", 3, 6), "footer-menu")
    parts = [f'<footer class="site-footer">\n<nav class="footer-nav">{menu}</nav>\n']
    if rng.random() < 0.5:
        parts.append(f'<p class="footer-note">{page.say("footer_note")}</p>\n')
    copyright_line = page.say("copyright", site=site, year=rng.randint(2023, 2025))
    parts.append(f'<p class="copyright">{copyright_line}</p>\n')
    if rng.random() < 0.4:
        parts.append(f'<a class="to-top" href="#top">{page.say("to_top")}</a>\n')
    return "".join(parts) + "</footer>\n" + (cookie_banner(page) if rng.random() < 0.5 else "")


def cookie_banner(page: Page) -> str:
    return (
        f'<div class="cookie-banner" id="cookie-consent"><p>{page.say("cookie_text")}</p>'
        f'<button type="button" class="cookie-accept">{page.say("cookie_button")}</button></div>\n'
    )


def related(page: Page, lo: int = 3, hi: int = 6) -> str:
    return (
        f'<section class="related-posts"><h3>{page.say("related_heading")}</h3>'
        f"{links(page, page.some('headlines', lo, hi), 'related-list')}</section>\n"
    )


def share(page: Page) -> str:
    networks = zip(_SHARE_HOSTS, page.pool("share_networks"), strict=True)
    buttons = " ".join(
        f'<a class="share__btn" href="https://share.example/{host}?u={page.href()}">{esc(name)}</a>'
        for host, name in networks
    )
    return f'<div class="share"><span class="share__label">{page.say("share_label")}</span> {buttons}</div>\n'


def ad_slot(page: Page) -> str:
    slot = page.rng.randint(1, 999)
    return (
        f'<div class="ad-slot" data-slot="{slot}"><span class="ad-label">{page.say("ad_label")}</span> '
        f'<a href="https://ads.example/click?id={slot}" rel="nofollow">{page.say("ad_text")}</a></div>\n'
    )


def sidebar(page: Page) -> str:
    widgets = [
        f'<div class="widget"><h4>{page.say("sidebar_heading")}</h4>'
        f"{links(page, page.some('headlines', 3, 5), 'widget-list')}</div>"
    ]
    if page.rng.random() < 0.6:
        widgets.append(ad_slot(page))
    return f'<aside class="sidebar">{"".join(widgets)}</aside>\n'


def breadcrumbs(page: Page, trail: Sequence[str], last: str = "") -> str:
    crumbs = [f'<a href="/">{page.say("home")}</a>', *(f'<a href="{page.href()}">{c}</a>' for c in trail)]
    if last:
        crumbs.append(f"<span>{last}</span>")
    return f'<nav class="breadcrumbs" aria-label="breadcrumb">{" › ".join(crumbs)}</nav>\n'


def comments(page: Page, lo: int, hi: int, form: bool = True) -> str:
    count = page.rng.randint(lo, hi)
    items = "".join(
        f'<div class="comment" id="comment-{page.rng.randint(1000, 99999)}"><div class="comment__meta">'
        f'<a class="comment__author" href="{page.href()}">{page.user()}</a> <time>{esc(page.date())}</time>'
        "</div>"
        f'<p class="comment__text">{page.say("comment_text")}</p>'
        f'<a class="comment__reply" href="#reply">{page.say("reply")}</a></div>\n'
        for _ in range(count)
    )
    heading = page.say("comments_heading", n=count)
    parts = [f'<section class="comments" id="comments"><h3>{heading}</h3>\n{items}']
    if form:
        parts.append(
            f'<form class="comment-form" action="/comment/" method="post">'
            f'<h4>{page.say("comment_form")}</h4><p class="hint">{page.say("comment_hint")}</p>'
            '<input type="text" name="name" '
            f'placeholder="{page.say("name_field")}"><textarea name="text"></textarea>'
            f'<button type="submit">{page.say("submit")}</button></form>\n'
        )
    return "".join(parts) + "</section>\n"


def paragraphs(blocks: Sequence[str]) -> str:
    return "".join(f"<p>{block_html(b)}</p>\n" for b in blocks)
