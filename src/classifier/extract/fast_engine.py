"""The fast extraction mode (``extract.engine: resiliparse``): Resiliparse's main-content extraction on
its lexbor parser, for crawls too large for trafilatura.

Fields and fallbacks are those of the trafilatura mode (``extract.documents``): Telegram previews read message
by message, the page's full text when the main content is too short, title, description and links.
Links come from the markup by a regular expression (walking the DOM for them cost more than the
extraction itself): ``<a>`` and ``<area>`` targets, not the canonical ``<link>``.
"""

from __future__ import annotations

import re
from html import unescape as html_unescape
from typing import Any

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from classifier.common.config import ExtractSettings
from classifier.extract.html import absolute_links, visible_char_count

FAST_EXTRACTOR_VERSION = "4"  # bumped when this module's output changes: cached documents are then stale
_TELEGRAM = ".tgme_channel_info_description, .tgme_widget_message_text"
# Resiliparse's main-content extraction is quadratic in nesting depth (25 s at 8,000 levels, hours at
# 100,000) and runs in C, where no time limit can stop it: deeper pages get the full-text extraction,
# which is linear. 256 is also where lxml stops parsing in the default mode.
MAX_DEPTH = 256
_TOO_DEEP = " > ".join(["*"] * MAX_DEPTH)


def _attribute(tree: HTMLTree, selector: str, name: str) -> str:
    element = tree.document.query_selector(selector)
    return " ".join((element.getattr(name) or "").split()) if element is not None else ""


def _title(tree: HTMLTree) -> str:
    title = tree.title or _attribute(tree, 'meta[property="og:title"]', "content")
    if not title:
        heading = tree.document.query_selector("h1")
        title = heading.text if heading is not None else ""
    return " ".join(title.split())


# Link targets straight from the markup: walking the DOM for them costs more than the extraction itself
_HREF = re.compile(  # [^<>]: a scan never runs past the next tag, so hostile markup stays linear
    r"""<(?:a|area)\s[^<>]*?(?<=\s)href\s*=\s*(?:"([^"<>]*)"|'([^'<>]*)'|([^\s<>"']+))""", re.IGNORECASE
)


def _links(html: str, base_url: str) -> list[str]:
    return absolute_links(
        (html_unescape(next(filter(None, m.groups()), "")) for m in _HREF.finditer(html)), base_url
    )


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
    deep = False
    if not text:
        extractor = "resiliparse"
        deep = tree.document.query_selector(_TOO_DEEP) is not None
        if not deep:
            text = extract_plain_text(
                tree, main_content=True, alt_texts=False, links=False, form_fields=False
            )
    main = {"main_text": text}  # the main content the full text replaced (documents.main_content)
    if extractor == "resiliparse" and (deep or len(text) < settings.min_main_text_chars):
        full = extract_plain_text(tree, main_content=False, alt_texts=False, links=False, form_fields=False)
        if visible_char_count(full) > visible_char_count(text):
            text, extractor = full, "fulltext"
    description = _attribute(tree, 'meta[name="description"]', "content") or _attribute(
        tree, 'meta[property="og:description"]', "content"
    )
    return {
        "title": _title(tree),
        "description": description,
        "links": _links(html, url),
        "text": text,
        "extractor": extractor,
        **(main if extractor == "fulltext" and not deep else {}),
    }
