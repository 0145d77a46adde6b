"""Records to documents: main text (trafilatura), title, description, links, contacts and language.

Drug ads are short and sit where trafilatura sees boilerplate (sidebars, comments, bios), so when the
main text is short the page's full visible text is used instead. A page that takes longer than
``extract.page_timeout_seconds`` becomes an error document (``common.limits.time_limit``). With
``extract.engine: resiliparse`` the main text comes from ``fast_engine`` instead.
"""

from __future__ import annotations

from functools import cache
from itertools import islice
from typing import Any

import lxml.html
import trafilatura

from classifier.common.config import ExtractSettings
from classifier.common.faults import slow_point
from classifier.common.limits import PageTimeout, time_limit
from classifier.extract.fast_engine import extract_html_fast
from classifier.extract.html import (
    ExtractionError,
    checked_markup,
    meta_content,
    page_links,
    page_title,
    parse_html,
    parse_markup,
    telegram_text,
    visible_char_count,
    visible_text,
)
from classifier.ingest.records import Record
from classifier.text.contacts import find_contacts
from classifier.text.language import detect_language

EXTRACTOR_VERSION = "2"
# Bounds on the fields besides the text (``extract.max_text_chars``): a hostile page can put megabytes
# into a title or a link, and contact search and normalisation then run over all of it.
MAX_TITLE_CHARS = 1000
MAX_DESCRIPTION_CHARS = 2000
# trafilatura is quadratic on pages with very many elements (strip_tags, XPath node-set merges: 90 s for
# 2 MB of short <b> elements), inside C calls that no time limit can interrupt; such pages, far beyond
# real ones (a heavy page has a few thousand elements), get their full visible text instead
MAX_MAIN_CONTENT_ELEMENTS = 20_000
TIMEOUT_REASON = "extraction took longer than"
DOCUMENT_FIELDS = (
    "id",
    "url",
    "domain",
    "title",
    "description",
    "text",
    "links",
    "contacts",
    "lang",
    "extractor",
    "encoding",
    "truncated",
    "source",
    "fetched_at",
    "status",
    "error",
)


def _main_text(tree: lxml.html.HtmlElement, url: str, settings: ExtractSettings) -> str:
    return (
        trafilatura.extract(
            tree,
            url=url or None,
            favor_recall=settings.favor_recall,
            include_comments=True,
            include_tables=True,
            deduplicate=False,
        )
        or ""
    )


def base_document(record: Record) -> dict[str, Any]:
    """The document fields known before extraction; for an error record, its final document."""
    return {
        "id": record.id,
        "url": record.url,
        "domain": record.domain,
        "title": "",
        "description": "",
        "text": "",
        "links": [],
        "contacts": {},
        "lang": "",
        "extractor": "none",
        "encoding": record.encoding,
        "truncated": record.truncated,
        "source": record.source,
        "fetched_at": record.fetched_at,
        "status": record.status,
        "error": record.error,
    }


def extract_document(record: Record, settings: ExtractSettings) -> dict[str, Any]:
    """One record to one document; failures become a document with ``status = error``, and so does a
    page whose extraction takes longer than ``extract.page_timeout_seconds``."""
    doc = base_document(record)
    if record.status != "ok":
        return doc
    _load_models()
    try:
        with time_limit(settings.page_timeout_seconds):
            return _extract_fields(doc, record, settings)
    except PageTimeout:
        return {**doc, "status": "error", "error": f"{TIMEOUT_REASON} {settings.page_timeout_seconds:g} s"}


@cache
def _load_models() -> None:
    """Load what the first page would (lingua's language models, justext's stop lists: 2-5 s, once per
    process) before any page's time limit runs: the first page must not pay for it, nor be cut off in
    the middle of it, leaving it to load again on every later page."""
    detect_language("привет")  # short Russian text: detect_language asks lingua
    _main_text(parse_html("<html><body><p>Короткая страница.</p></body></html>"), "", ExtractSettings())


def _extract_fields(doc: dict[str, Any], record: Record, settings: ExtractSettings) -> dict[str, Any]:
    slow_point("extract.page", record.url)  # tests of the time limit make a page slow here
    try:
        if record.html is not None:
            doc.update(_extract_html(record.html, record.url, settings))
        else:
            doc.update(text=record.text or "", extractor="text")
    except ExtractionError as exc:
        return {**doc, "status": "error", "error": str(exc)}
    except Exception as exc:  # hostile markup must not stop a batch: keep the reason
        return {**doc, "status": "error", "error": f"extraction failed: {type(exc).__name__}: {exc}"}
    text = doc["text"][: settings.max_text_chars]
    if not text.strip() and not doc["title"]:
        return {**doc, "status": "error", "error": "no text on the page"}
    doc["text"] = text
    doc["title"] = doc["title"][:MAX_TITLE_CHARS]
    doc["description"] = doc["description"][:MAX_DESCRIPTION_CHARS]
    doc["contacts"] = find_contacts([text, doc["title"], doc["description"]], doc["links"])
    doc["lang"] = detect_language(text or doc["title"])
    return doc


def _extract_html(html: str, url: str, settings: ExtractSettings) -> dict[str, Any]:
    markup = checked_markup(html)  # the same refusals in both modes: binary and empty pages
    if settings.engine == "resiliparse":
        return extract_html_fast(markup, url, settings)
    tree, stopped = parse_markup(markup)
    if stopped:  # lxml read only the start of the page: lexbor reads all of it, however deeply nested
        return extract_html_fast(markup, url, settings)
    text, extractor = telegram_text(tree), "telegram"
    if not text:
        large = next(islice(tree.iter(), MAX_MAIN_CONTENT_ELEMENTS, None), None) is not None
        text, extractor = "" if large else _main_text(tree, url, settings), "trafilatura"
    if extractor == "trafilatura" and len(text) < settings.min_main_text_chars:
        full = visible_text(tree)
        if visible_char_count(full) > visible_char_count(text):
            text, extractor = full, "fulltext"
    return {
        "title": page_title(tree),
        "description": meta_content(tree, "description", "og:description"),
        "links": page_links(tree, url),
        "text": text,
        "extractor": extractor,
    }
