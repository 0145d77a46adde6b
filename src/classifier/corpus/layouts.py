"""Page layouts of the demo corpus: put a title and text blocks into a realistic HTML page.

Each layout mirrors the markup of a real kind of page (shop, Telegram web preview, forum thread,
classifieds board, social post, news article, bare page) so that text extraction meets what it meets
on the web. The boilerplate comes from ``vocab/boilerplate.yaml`` and is label-neutral: drug ads and
innocent pages are dressed from the same pools, and the blocks appear on the page exactly once.
"""

from __future__ import annotations

import html
import random
import re
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from classifier.corpus.generators import load_vocab

__all__ = ["LANGS", "LAYOUTS", "render_page"]

LAYOUTS = ("shop", "telegram", "forum", "classifieds", "social", "news", "bare")
LANGS = ("ru", "kk", "mixed")
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


def _compact(n: int) -> str:
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


# --- layouts ---------------------------------------------------------------------------------------


def shop(page: Page, title: str, blocks: Sequence[str]) -> str:
    rng, site = page.rng, page.say("site_shop")
    cart = f'<a class="cart" href="/cart/">{page.say("cart")} <span class="cart__count">0</span></a>\n'
    perks = f'<div class="perks">{" · ".join(page.some("shop_perks", 1, 3))}</div>\n'
    category = page.some("shop_categories", 1, 1)
    buttons = (
        f'<button class="btn btn-cart">{page.say("to_cart")}</button> '
        f'<button class="btn btn-quick">{page.say("quick_order")}</button> '
        f'<a class="fav" href="#">{page.say("favourite")}</a>'
    )
    if rng.random() < 0.35:  # a catalogue page: one card per block
        cards = "".join(
            f'<div class="product-card"><div class="product-card__body"><p>{block_html(b)}</p>'
            f'</div><button class="btn btn-cart">{page.say("to_cart")}</button></div>\n'
            for b in blocks
        )
        content = f'<h1 class="page-title">{title}</h1>\n<div class="catalog">{cards}</div>\n'
    else:
        tabs = "".join(f"<li>{t}</li>" for t in page.some("product_tabs", 2, 4))
        content = (
            f'<div class="product" itemscope itemtype="https://schema.org/Product">\n'
            f'<div class="product__gallery"><img src="/upload/{rng.randint(1000, 9999)}.jpg" alt="{title}">'
            f'</div>\n<div class="product__info"><h1 itemprop="name">{title}</h1>\n'
            '<div class="product__meta">'
            f'<span class="sku">{page.say("sku", n=rng.randint(10000, 99999))}</span> '
            f'<span class="rating">{page.say("rating", n=rng.randint(3, 5))}</span></div>\n'
            f'<div class="product__price">{page.say("price_on_request")}</div>\n'
            f'<div class="product__buttons">{buttons}</div></div>\n<ul class="tabs">{tabs}</ul>\n'
            f'<div class="product__description" itemprop="description">\n{paragraphs(blocks)}</div>\n</div>\n'
        )
    cards = "".join(
        f'<div class="card"><a href="{page.href()}">{name}</a> '
        f'<a class="more" href="{page.href()}">{page.say("more")}</a></div>'
        for name in page.some("products", 3, 5)
    )
    body = (
        header(page, site, "shop_menu", cart)
        + perks
        + '<main class="content">\n'
        + breadcrumbs(page, category, title)
        + content
        + f'<section class="related-products"><h2>{page.say("related_products")}</h2>{cards}</section>\n'
        + "</main>\n"
        + footer(page, site)
    )
    return page.document(f"{title} — {site}", body, "page-product")


def _channel_slug(page: Page) -> str:
    parts = [p for p in urlsplit(page.url).path.split("/") if p]
    if parts and re.fullmatch(r"\w{3,40}", parts[-1]):
        return parts[-1]
    return page.rng.choice(load_vocab()["nickname"])


def telegram(page: Page, title: str, blocks: Sequence[str]) -> str:
    rng, slug = page.rng, _channel_slug(page)
    groups = _split(list(blocks) or [""], rng.randint(1, 3))
    counts = [(rng.randint(1000, 90000), page.say("tg_subscribers"))]
    counts += [(rng.randint(5, 3000), word) for word in page.some("tg_counters", 1, 2)]
    counters = "".join(
        f'<div class="tgme_channel_info_counter"><span class="counter_value">{_compact(n)}'
        f'</span> <span class="counter_type">{word}</span></div>'
        for n, word in counts
    )
    post = rng.randint(100, 9000)
    messages = []
    for offset, group in enumerate(groups):
        edited = page.say("tg_edited") + ", " if rng.random() < 0.2 else ""
        text = "<br>\n<br>\n".join(block_html(b) for b in group)
        clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
        messages.append(
            f'<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message '
            f'text_not_supported_wrap js-widget_message" data-post="{slug}/{post + offset}">\n'
            f'<div class="tgme_widget_message_user"><a href="/{slug}">'
            f'<i class="tgme_widget_message_user_photo"><img src="/i/userpic/320/{slug}.jpg"></i></a></div>\n'
            '<div class="tgme_widget_message_bubble">\n'
            f'<div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_owner_name" '
            f'href="/{slug}"><span dir="auto">{title}</span></a></div>\n'
            f'<div class="tgme_widget_message_text js-message_text" dir="auto">{text}</div>\n'
            '<div class="tgme_widget_message_footer compact js-message_footer">'
            '<div class="tgme_widget_message_info short js-message_info">'
            f'<span class="tgme_widget_message_views">{_compact(rng.randint(150, 40000))}</span>'
            f'<span class="tgme_widget_message_meta">{edited}<a class="tgme_widget_message_date" '
            f'href="/{slug}/{post + offset}"><time class="time">{clock}</time></a></span>'
            "</div></div>\n</div></div></div>\n"
        )
    body = (
        f'<header class="tgme_header"><div class="tgme_header_search"><form class="tgme_header_search_form" '
        f'action="/s/{slug}"><input class="tgme_header_search_form_input" name="q" '
        f'placeholder="{page.say("search_placeholder")}"></form></div></header>\n'
        f'<main class="tgme_main"><section class="tgme_channel_info">\n<div class="tgme_channel_info_header">'
        f'<i class="tgme_page_photo_image"><img src="/i/userpic/320/{slug}.jpg"></i>'
        f'<div class="tgme_channel_info_header_title"><span dir="auto">{title}</span></div>'
        f'<div class="tgme_channel_info_header_username"><a href="/{slug}">@{slug}</a></div></div>\n'
        f'<div class="tgme_channel_info_counters">{counters}</div>\n'
        f'<div class="tgme_channel_download_telegram"><a class="tgme_action_button_new" href="/{slug}">'
        f"{page.say('tg_open')}</a></div></section>\n"
        f'<section class="tgme_channel_history js-message_history">\n{"".join(messages)}</section></main>\n'
    )
    return page.document(f"{title} – Telegram", body, "widget_frame_base tgme_webpreview")


def _split(items: list[str], parts: int) -> list[list[str]]:
    """Cut `items` into at most `parts` non-empty consecutive groups."""
    parts = max(1, min(parts, len(items)))
    size, extra = divmod(len(items), parts)
    groups, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        groups.append(items[start:end])
        start = end
    return groups


def _forum_post(page: Page, user: str, body: str, number: int) -> str:
    rng, post_id = page.rng, page.rng.randint(10000, 999999)
    signature = ""
    if rng.random() < 0.5:
        signature = (
            f'<aside class="message-signature"><div class="bbWrapper">{page.say("signatures")}</div></aside>'
        )
    actions = " ".join(f'<a href="#post-{post_id}">{a}</a>' for a in page.some("forum_actions", 2, 4))
    return (
        f'<article class="message message--post" id="post-{post_id}" data-author="{user}">\n'
        '<div class="message-cell message-cell--user"><section class="message-user">'
        f'<h4 class="message-name"><a class="username" href="/members/{post_id}/">{user}</a></h4>'
        '<h5 class="userTitle">'
        f'{page.say("forum_roles")}</h5><div class="message-userExtras">{page.say("forum_joined")}<br>'
        f"{page.say('forum_posts', n=rng.randint(1, 4000))}</div></section></div>\n"
        '<div class="message-cell message-cell--main"><header class="message-attribution">'
        f'<time>{esc(page.date())}</time> <a href="#post-{post_id}">#{number}</a></header>\n'
        '<div class="message-content">'
        f'<div class="message-body"><div class="bbWrapper">{body}</div></div>{signature}</div>\n'
        f'<footer class="message-footer">{actions}</footer></div>\n</article>\n'
    )


def forum(page: Page, title: str, blocks: Sequence[str]) -> str:
    rng, site = page.rng, page.say("site_forum")
    section, author = page.some("forum_sections", 1, 1)[0], page.user()
    joiner = "<br>\n<br>\n" if rng.random() < 0.6 else "\n"
    first = joiner.join(block_html(b) if joiner != "\n" else f"<p>{block_html(b)}</p>" for b in blocks)
    posts = [_forum_post(page, author, first, 1)]
    for number in range(2, 2 + rng.randint(0, 3)):
        posts.append(_forum_post(page, page.user(), page.say("forum_reply_text"), number))
    body = (
        header(page, site, "forum_menu")
        + '<div class="p-body">\n'
        + breadcrumbs(page, [esc(site), section])
        + f'<div class="p-title"><h1 class="p-title-value">{title}</h1></div>\n<div class="p-description">'
        + page.say("forum_thread_meta", section=section, user=author)
        + " · "
        + page.say("forum_replies", n=len(posts) - 1)
        + f'</div>\n<div class="pageNav">{page.say("forum_page")}</div>\n'
        + f'<div class="block-body">\n{"".join(posts)}</div>\n'
        + f'<form class="quick-reply" action="/post/" method="post"><h3>{page.say("forum_quick_reply")}</h3>'
        + f'<p class="hint">{page.say("comment_hint")}</p><textarea name="message"></textarea>'
        + f'<button type="submit">{page.say("reply")}</button></form>\n</div>\n'
        + footer(page, site)
    )
    return page.document(f"{title} | {site}", body, "forum thread-view")


def classifieds(page: Page, title: str, blocks: Sequence[str]) -> str:
    rng, site = page.rng, page.say("site_board")
    post_ad = f'<a class="btn btn-post-ad" href="/post-ad/">{page.say("post_ad")}</a>\n'
    price = ""
    if rng.random() < 0.7:
        price = f'<div class="offer__price"><h3>{page.say("price_neutral")}</h3></div>\n'
    similar = "".join(
        f'<li class="similar-card"><a href="{page.href()}">{item}</a> <span>{esc(page.date())}</span></li>'
        for item in page.some("board_items", 3, 6)
    )
    body = (
        header(page, site, "board_categories", post_ad)
        + '<main class="offer-page">\n'
        + breadcrumbs(page, page.some("board_categories", 1, 2))
        + f'<div class="offer"><div class="offer__gallery"><img src="/img/ad/{rng.randint(1, 99999)}.jpg" '
        + f'alt="{title}"></div>\n<div class="offer__main"><h1 class="offer__title">{title}</h1>\n{price}'
        + f'<div class="offer__description"><h2>{page.say("description_heading")}</h2>\n'
        + f'<div class="text" data-cy="ad_description">\n{paragraphs(blocks)}</div></div>\n'
        + f'<div class="offer__meta"><span>{page.say("ad_number", n=rng.randint(10**7, 10**8))}</span> '
        + f"<span>{page.say('posted')}</span> <span>{page.say('views', n=rng.randint(5, 3000))}</span> "
        + f'<a href="#complain">{page.say("complain")}</a></div></div>\n'
        + f'<aside class="offer__seller"><div class="seller__name">{page.user()}</div>'
        + f'<div class="seller__kind">{page.say("seller_kind")}</div><div>{page.say("seller_since")}</div>'
        + f'<button class="btn btn-phone">{page.say("show_phone")}</button> '
        + f'<button class="btn btn-chat">{page.say("write_seller")}</button>'
        + f'<p class="safety">{page.say("safety_tip")}</p></aside></div>\n'
        + f'<section class="similar-ads"><h2>{page.say("similar_ads")}</h2><ul>{similar}</ul></section>\n'
        + "</main>\n"
        + footer(page, site)
    )
    return page.document(f"{title}: {site}", body, "board offer-view")


def social(page: Page, title: str, blocks: Sequence[str]) -> str:
    rng = page.rng
    text = "<br>\n<br>\n".join(block_html(b) for b in blocks)
    actions = (
        f'<div class="like_wrap"><a class="like_btn like">{page.say("like")} '
        f'<span class="like_button_count">{_compact(rng.randint(3, 20000))}</span></a> '
        f'<a class="like_btn comment">{page.say("comment_button")}</a> '
        f'<a class="like_btn share">{page.say("share_label")}</a> <span class="like_views">'
        f"{page.say('views', n=_compact(rng.randint(100, 90000)))}</span></div>\n"
    )
    replies = comments(page, 0, 4, form=False)
    more = f'<a class="replies_next" href="#">{page.say("show_more")}</a>' if rng.random() < 0.5 else ""
    pinned = f'<div class="post_fixed">{page.say("pinned")}</div>' if rng.random() < 0.3 else ""
    post = (
        f'<div class="post" id="post-{rng.randint(10**6, 10**8)}"><div class="post_header">'
        f'<a class="author" href="/public{rng.randint(1000, 99999)}">{title}</a> <div class="post_date">'
        f'<a class="post_link" href="#"><span class="rel_date">{esc(page.date())}</span></a></div>{pinned}'
        "</div>\n"
        f'<div class="wall_post_cont"><div class="wall_post_text">{text}</div></div>\n{actions}'
        f'<div class="replies">{replies}{more}</div></div>\n'
    )
    menu = links(page, page.some("social_menu", 5, 8), "side_menu")
    members = page.say("members", n=rng.randint(50, 90000))
    body = (
        f'<div id="page_layout"><div id="side_bar"><nav>{menu}</nav></div>\n<div id="page_body">'
        f'<div class="page_block page_top"><h2 class="page_name">{title}</h2>'
        f'<div class="page_current_info">{page.say("community_kind")} · {members}</div>'
        f'<button class="subscribe">{page.say("subscribe")}</button></div>\n'
        f'<div id="page_wall_posts">\n{post}</div></div></div>\n'
        + (cookie_banner(page) if rng.random() < 0.3 else "")
    )
    return page.document(title, body, "is_rtl0 public")


def news(page: Page, title: str, blocks: Sequence[str]) -> str:
    rng, site = page.rng, page.say("site_news")
    lead, rest = (blocks[0], list(blocks[1:])) if blocks else ("", [])
    body_html = paragraphs(rest)
    if rest and rng.random() < 0.3:  # an ad inside the text, as news sites do
        cut = rng.randint(0, len(rest))
        body_html = paragraphs(rest[:cut]) + ad_slot(page) + paragraphs(rest[cut:])
    side = page.side()
    author = esc(f"{rng.choice(load_vocab()['name'][side])} {rng.choice(load_vocab()['surname'][side])}")
    tags = " ".join(f'<a href="{page.href()}">{t}</a>' for t in page.some("tags", 1, 3))
    article = (
        '<article class="article" itemscope itemtype="https://schema.org/NewsArticle">\n'
        + breadcrumbs(page, page.some("news_sections", 1, 1))
        + f'<h1 class="article__title" itemprop="headline">{title}</h1>\n<div class="article__meta">'
        + f'<time itemprop="datePublished">{esc(page.date())}</time> '
        + f'<span class="views">{page.say("views", n=rng.randint(50, 60000))}</span> '
        + f"<span>{page.say('read_time', n=rng.randint(1, 7))}</span></div>\n"
        + f'<figure class="article__image"><img src="/media/{rng.randint(1, 99999)}.jpg" alt="">'
        + f"<figcaption>{page.say('photo_credit')}</figcaption></figure>\n"
        + '<div class="article__body" itemprop="articleBody">\n'
        + f'<p class="article__lead"><strong>{block_html(lead)}</strong></p>\n{body_html}</div>\n'
        + f'<div class="article__author">{page.say("author_label")} {author}</div>\n'
        + f'<div class="article__tags">{page.say("tags_label")} {tags}</div>\n'
        + share(page)
        + f'<p class="error-hint">{page.say("error_hint")}</p>\n</article>\n'
    )
    body = (
        header(page, site, "news_sections")
        + (ad_slot(page) if rng.random() < 0.4 else "")
        + f'<main class="main"><div class="layout">\n{article}{sidebar(page)}</div>\n'
        + related(page)
        + f'<p class="follow">{page.say("follow_news")}</p>\n'
        + (comments(page, 0, 5) if rng.random() < 0.6 else "")
        + "</main>\n"
        + footer(page, site)
    )
    return page.document(f"{title} - {site}", body, "news article-page")


def bare(page: Page, title: str, blocks: Sequence[str]) -> str:
    rng = page.rng
    style = rng.choice(("p", "div", "br"))
    if style == "br":
        content = "<br>\n<br>\n".join(block_html(b) for b in blocks) + "\n"
    else:
        content = "".join(f"<{style}>{block_html(b)}</{style}>\n" for b in blocks)
    if title and rng.random() < 0.5:
        content = f"<h1>{title}</h1>\n{content}"
    if rng.random() < 0.4:  # no <head> at all
        start = f"<html>\n{page.charset_tag()}" if rng.random() < 0.7 else page.charset_tag()
        return f"{start}<body>\n{content}</body>\n</html>\n"
    return (
        f'<!DOCTYPE html>\n<html lang="{page.html_lang()}">\n<head>\n{page.charset_tag()}'
        f"<title>{title}</title>\n</head>\n<body>\n{content}</body>\n</html>\n"
    )


# --- malformed HTML --------------------------------------------------------------------------------
# Each breaker damages markup only (tags, attributes, the document's end), never the escaped text.


def _paragraph_in_inline(doc: str, rng: random.Random) -> str:
    spans = [m.span() for m in re.finditer(r"<p[ >].*?</p>", doc, flags=re.S)]
    if not spans:
        return doc
    start, end = rng.choice(spans)
    tag = rng.choice(("span", "font", "b", "em"))
    return f"{doc[:start]}<{tag}>{doc[start:end]}</{tag}>{doc[end:]}"


def _mismatched_nesting(doc: str, rng: random.Random) -> str:
    anchors = list(re.finditer(r"(<a [^>]*>)([^<]*)</a>", doc))
    if not anchors:
        return doc
    m = rng.choice(anchors)
    return f"{doc[: m.start()]}<b>{m.group(1)}{m.group(2)}</b></a>{doc[m.end() :]}"


def _stray_closers(doc: str, rng: random.Random) -> str:
    starts = [m.start() for m in re.finditer(r"<div[ >]", doc)]
    for pos in sorted(rng.sample(starts, min(len(starts), rng.randint(1, 3))), reverse=True):
        doc = doc[:pos] + rng.choice(("</div>", "</span>", "</td></tr>", "</b>")) + doc[pos:]
    return doc


def _unclosed_tags(doc: str, rng: random.Random) -> str:
    return re.sub(r"</(li|p|div|span)>", lambda m: "" if rng.random() < 0.25 else m.group(0), doc)


def _unquoted_attributes(doc: str, rng: random.Random) -> str:
    return re.sub(
        r'(\s[a-z-]+)="([\w#/.:?=-]+)"',
        lambda m: f"{m.group(1)}={m.group(2)}" if rng.random() < 0.6 else m.group(0),
        doc,
    )


def _broken_end(doc: str, rng: random.Random) -> str:
    """Drop </body></html>, or leave a comment open where they were."""
    tail = re.search(r"</body>\s*</html>\s*$", doc)
    cut = tail.start() if tail else len(doc)
    if rng.random() < 0.5:
        return doc[:cut]
    return doc[:cut] + rng.choice(("<!-- counter ", "<!-- /.wrapper\n", "<!--noindex-->\n<!-- Metrika "))


_BREAKERS: tuple[Callable[[str, random.Random], str], ...] = (
    _paragraph_in_inline,
    _mismatched_nesting,
    _stray_closers,
    _unclosed_tags,
    _unquoted_attributes,
    _broken_end,
)


def break_html(doc: str, rng: random.Random) -> str:
    """Damage a page the way hand-written and CMS pages are damaged; its text stays."""
    chosen = [b for b in _BREAKERS if rng.random() < 0.6] or [rng.choice(_BREAKERS)]
    for breaker in chosen:  # in _BREAKERS order: the document's end is cut last
        doc = breaker(doc, rng)
    return doc


_RENDERERS: dict[str, Callable[[Page, str, Sequence[str]], str]] = {
    "shop": shop,
    "telegram": telegram,
    "forum": forum,
    "classifieds": classifieds,
    "social": social,
    "news": news,
    "bare": bare,
}


def render_page(
    layout: str,
    *,
    title: str,
    blocks: Sequence[str],
    lang: str,
    url: str,
    rng: random.Random,
    charset_meta: str | None = None,
    malformed: bool = False,
) -> str:
    """A full HTML document (str) putting `title` and the text `blocks` into `layout`."""
    if layout not in _RENDERERS:
        raise ValueError(f"unknown layout {layout!r}, expected one of {LAYOUTS}")
    if lang not in LANGS:
        raise ValueError(f"unknown lang {lang!r}, expected one of {LANGS}")
    page = Page(rng, lang, url, charset_meta)
    doc = _RENDERERS[layout](page, esc(title), blocks)
    return break_html(doc, rng) if malformed else doc
