"""Page layouts of the demo corpus: put a title and text blocks into a realistic HTML page.

Each layout mirrors the markup of a real kind of page (shop, Telegram web preview, forum thread,
classifieds board, social post, news article, bare page) so that text extraction meets what it meets
on the web. The boilerplate comes from ``vocab/boilerplate.yaml`` and is label-neutral: drug ads and
innocent pages are dressed from the same pools, and the blocks appear on the page exactly once.

The pieces shared by several layouts live in ``page_parts``, the markup damage of malformed pages in
``markup_damage``; this module holds the layouts themselves and ``render_page``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from classifier.corpus.markup_damage import break_html
from classifier.corpus.page_parts import (
    Page,
    ad_slot,
    block_html,
    breadcrumbs,
    comments,
    compact,
    cookie_banner,
    esc,
    footer,
    header,
    links,
    paragraphs,
    related,
    share,
    sidebar,
)
from classifier.corpus.slot_values import load_vocab

__all__ = ["LANGS", "LAYOUTS", "render_page"]

LAYOUTS = ("shop", "telegram", "forum", "classifieds", "social", "news", "bare")
LANGS = ("ru", "kk", "mixed")


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
        f'<div class="tgme_channel_info_counter"><span class="counter_value">{compact(n)}'
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
            f'<span class="tgme_widget_message_views">{compact(rng.randint(150, 40000))}</span>'
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
        f'<span class="like_button_count">{compact(rng.randint(3, 20000))}</span></a> '
        f'<a class="like_btn comment">{page.say("comment_button")}</a> '
        f'<a class="like_btn share">{page.say("share_label")}</a> <span class="like_views">'
        f"{page.say('views', n=compact(rng.randint(100, 90000)))}</span></div>\n"
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
