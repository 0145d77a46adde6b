"""Reading HTML with lxml, shared by both extraction engines: refusals of binary and empty pages,
parsing, title, meta fields, links, the visible text and Telegram previews.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

MAX_LINKS = 500
MAX_LINK_CHARS = 2048
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>", re.IGNORECASE)
_INVISIBLE_TAGS = ("script", "style", "noscript", "template", "svg", "head")
_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "tr",
        "td",
        "th",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "article",
        "section",
        "header",
        "footer",
        "nav",
        "aside",
        "blockquote",
        "pre",
        "ul",
        "ol",
        "table",
        "form",
        "dd",
        "dt",
        "figcaption",
        "main",
        "title",
        "option",
        "button",
    ]
)


class ExtractionError(ValueError):
    """A page that has no text to extract; the message is the reason shown to users."""


def _clean_markup(html: str) -> str:
    sample = html[:4000]
    if sample and len(_CONTROL.findall(sample)) > 0.05 * len(sample):
        raise ExtractionError("binary content, not a text page")
    # lxml refuses NUL and other control characters, and XML declarations in str input
    return _XML_DECLARATION.sub("", _CONTROL.sub("", html), count=1)


def parse_html(html: str) -> lxml.html.HtmlElement:
    return parse_markup(checked_markup(html))[0]


def checked_markup(html: str) -> str:
    markup = _clean_markup(html)
    if not markup.strip():
        raise ExtractionError("empty page")
    return markup


def parse_markup(markup: str) -> tuple[lxml.html.HtmlElement, bool]:
    """The tree, and whether the parser stopped before the end of the page.

    libxml2 stops at a fatal error, e.g. markup nested more than 255 levels deep (its limit, kept: deeper
    trees overflow recursive C code); the tree then holds only what came before that point.
    """
    parser = lxml.html.HTMLParser()  # one per page: parsers are not shared between threads
    try:
        tree = lxml.html.document_fromstring(markup, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError(f"unparseable HTML: {exc}") from exc
    return tree, any(e.level_name == "FATAL" for e in parser.error_log)


def meta_content(tree: lxml.html.HtmlElement, *names: str) -> str:
    """The content of the first ``<meta name=...>`` (or ``property=``) of the first name that has one."""
    first: dict[tuple[str, str], str] = {}
    for meta in tree.iter("meta"):  # one pass: an XPath per name scans a huge page four times
        content = meta.get("content")
        for attr in ("name", "property"):
            if content is not None and meta.get(attr) in names:
                first.setdefault((attr, meta.get(attr)), content)
    for name in names:
        for attr in ("name", "property"):
            value = first.get((attr, name), "")
            if value.strip():
                return " ".join(value.split())
    return ""


def page_title(tree: lxml.html.HtmlElement) -> str:
    title = tree.findtext(".//title") or meta_content(tree, "og:title", "twitter:title")
    if not title:
        heading = tree.find(".//h1")
        title = heading.text_content() if heading is not None else ""
    return " ".join(title.split())


def page_links(tree: lxml.html.HtmlElement, base_url: str) -> list[str]:
    return absolute_links(tree.xpath("//a/@href | //area/@href | //link[@rel='canonical']/@href"), base_url)


def absolute_links(hrefs: Iterable[str], base_url: str) -> list[str]:
    """Distinct absolute link targets, in page order, without anchors, scripts and mail links."""
    links: dict[str, None] = {}
    seen: set[str] = set()  # menus repeat their links: each target is resolved once
    try:
        base_scheme: str | None = urlsplit(base_url).scheme
    except ValueError:  # a malformed base ("http://[::1"): urljoin refuses every link, as it did
        base_scheme = None
    for href in hrefs:
        href = href.strip()
        if href in seen:
            continue
        seen.add(href)
        if not href or len(href) > MAX_LINK_CHARS or href.startswith(("#", "javascript:", "mailto:")):
            continue
        try:
            links[_joined(base_url, base_scheme, href) if base_url else href] = None
        except ValueError:
            continue
        if len(links) >= MAX_LINKS:
            break
    return list(links)


# A link with its own host resolves the same against every page of a scheme (urljoin uses only the
# base's scheme then), so across a crawl's pages it is resolved once: urljoin is most of the fast mode's
# link time.
_HAS_HOST = re.compile(r"(?:[a-z][a-z0-9+.-]*:)?//[^/?#\\]", re.IGNORECASE)


def _joined(base_url: str, base_scheme: str | None, href: str) -> str:
    if base_scheme is not None and _HAS_HOST.match(href):
        return _joined_with_host(base_scheme, href)
    return urljoin(base_url, href)


@lru_cache(maxsize=65536)
def _joined_with_host(base_scheme: str, href: str) -> str:
    return urljoin(f"{base_scheme}://base.invalid/", href)


def visible_text(tree: lxml.html.HtmlElement) -> str:
    """Every text a reader sees, one line per block element. Works on a copy: the tree is kept."""
    body = tree.find("body")
    return element_text(body if body is not None else tree)


def element_text(element: lxml.html.HtmlElement) -> str:
    root = copy.deepcopy(element)
    for element in list(root.iter(etree.Comment, etree.ProcessingInstruction, *_INVISIBLE_TAGS)):
        if element.getparent() is not None:
            element.drop_tree()  # keeps the text that follows the element
    for element in root.iter(*_BLOCK_TAGS):  # the HTML parser gives lower-case tags; lxml filters in C
        element.text = "\n" + (element.text or "")
        element.tail = "\n" + (element.tail or "")
    # the text serialiser: the same text as joining itertext(), in C (15x faster on huge pages)
    all_text = etree.tostring(root, method="text", encoding="unicode", with_tail=False)
    lines = (" ".join(line.split()) for line in all_text.splitlines())
    return "\n".join(line for line in lines if line)


def visible_char_count(text: str) -> int:
    return len(text) - text.count(" ") - text.count("\n")


_TELEGRAM_TEXT = (
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' tgme_channel_info_description ')]"
    " | //div[contains(concat(' ', normalize-space(@class), ' '), ' tgme_widget_message_text ')]"
)


def telegram_text(tree: lxml.html.HtmlElement) -> str:
    """Channel description and every message of a t.me/s/ preview; empty for other pages.

    Telegram previews are a main source of reports, and their per-message markup makes trafilatura
    drop whole messages now and then, so their known structure is read directly.
    """
    return "\n\n".join(filter(None, (element_text(el) for el in tree.xpath(_TELEGRAM_TEXT))))
