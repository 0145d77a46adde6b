"""The fast extraction mode (``extract.engine: resiliparse``): Resiliparse's main-content extraction on
its lexbor parser, for crawls too large for trafilatura.

Fields and fallbacks are those of the trafilatura mode (``extract.py``): Telegram previews read message
by message, the page's full text when the main content is too short, title, description and links, so
that the rest of the pipeline cannot tell the modes apart except by the text they extract.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from classifier.config import ExtractSettings

MAX_LINKS = 200
_TELEGRAM = ".tgme_channel_info_description, .tgme_widget_message_text"


def _visible_chars(text: str) -> int:
    return len(text) - text.count(" ") - text.count("\n")


def _attribute(tree: HTMLTree, selector: str, name: str) -> str:
    element = tree.document.query_selector(selector)
    return " ".join((element.getattr(name) or "").split()) if element is not None else ""


def _title(tree: HTMLTree) -> str:
    title = tree.title or _attribute(tree, 'meta[property="og:title"]', "content")
    if not title:
        heading = tree.document.query_selector("h1")
        title = heading.text if heading is not None else ""
    return " ".join(title.split())


def _links(tree: HTMLTree, base_url: str) -> list[str]:
    links: dict[str, None] = {}
    for element in tree.document.query_selector_all("a[href], area[href], link[rel=canonical][href]"):
        href = (element.getattr("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            continue
        try:
            links[urljoin(base_url, href) if base_url else href] = None
        except ValueError:
            continue
        if len(links) >= MAX_LINKS:
            break
    return list(links)


def _telegram_text(tree: HTMLTree) -> str:
    # each message re-parsed on its own: the text keeps its line breaks (DOMNode.text would join them)
    parts = (
        extract_plain_text(HTMLTree.parse(element.html), main_content=False)
        for element in tree.document.query_selector_all(_TELEGRAM)
    )
    return "\n\n".join(p.strip() for p in parts if p.strip())


def extract_html_fast(html: str, url: str, settings: ExtractSettings) -> dict[str, Any]:
    """The document fields of one HTML page, as ``extract._extract_html`` gives them."""
    tree = HTMLTree.parse(html)
    text, extractor = _telegram_text(tree), "telegram"
    if not text:
        text = extract_plain_text(tree, main_content=True, alt_texts=False, links=False, form_fields=False)
        extractor = "resiliparse"
    if extractor == "resiliparse" and len(text) < settings.min_main_text_chars:
        full = extract_plain_text(tree, main_content=False, alt_texts=False, links=False, form_fields=False)
        if _visible_chars(full) > _visible_chars(text):
            text, extractor = full, "fulltext"
    description = _attribute(tree, 'meta[name="description"]', "content") or _attribute(
        tree, 'meta[property="og:description"]', "content"
    )
    return {
        "title": _title(tree),
        "description": description,
        "links": _links(tree, url),
        "text": text,
        "extractor": extractor,
    }
