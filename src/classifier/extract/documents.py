"""Records to documents: main text (trafilatura), title, description, links, contacts, language, and
the text in the page's images (``image_text``).

Drug ads are short and sit where trafilatura sees boilerplate (sidebars, comments, bios), so when the
main text is short the page's full visible text is used instead, unless the page's images carry text:
then the main content is the main text and the text in the images, and the page's menus and footers
would only dilute it (``main_content``). A page that takes longer than
``extract.page_timeout_seconds`` becomes an error document (``common.limits.time_limit``). With
``extract.engine: resiliparse`` the main text comes from ``fast_engine`` instead. The page's images
are read after that limit, each under OCR's own (``extract.ocr_timeout_seconds``), so a slow picture
never costs the page its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from itertools import islice
from pathlib import Path
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
from classifier.extract.image_text import image_fields, listed_images, ocr_enabled
from classifier.extract.page_images import ImageRef
from classifier.ingest.records import Record
from classifier.text.contacts import find_contacts
from classifier.text.language import detect_language

EXTRACTOR_VERSION = "3"  # 3: image_text and images
# Bounds on the fields besides the text (``extract.max_text_chars``): a hostile page can put megabytes
# into a title or a link, and contact search and normalisation then run over all of it.
MAX_TITLE_CHARS = 1000
MAX_DESCRIPTION_CHARS = 2000
# trafilatura is quadratic on pages with very many elements (strip_tags, XPath node-set merges: 90 s for
# 2 MB of short <b> elements), inside C calls that no time limit can interrupt; such pages, far beyond
# real ones (a heavy page has a few thousand elements), get their full visible text instead
MAX_MAIN_CONTENT_ELEMENTS = 20_000
TIMEOUT_REASON = "extraction took longer than"
_IMAGE_HINT = re.compile(r"<img|url\(|og:image", re.IGNORECASE)  # what page_images reads images from
DOCUMENT_FIELDS = (
    "id",
    "url",
    "domain",
    "title",
    "description",
    "text",
    "image_text",
    "images",
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
        "image_text": "",
        "images": [],
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


def extract_document(
    record: Record, settings: ExtractSettings, ocr_cache: Path | None = None
) -> dict[str, Any]:
    """One record to one document; failures become a document with ``status = error``, and so does a
    page whose extraction takes longer than ``extract.page_timeout_seconds``. ``ocr_cache``: the file
    that keeps image texts across runs (``ocr.OCR_CACHE``), else they are kept for this process only."""
    doc = base_document(record)
    if record.status != "ok":
        return doc
    if settings.engine != "resiliparse":
        _load_trafilatura()
    aside = _Aside()
    try:
        with time_limit(settings.page_timeout_seconds):
            doc = _extract_fields(doc, record, settings, aside)
    except PageTimeout:
        return {**doc, "status": "error", "error": f"{TIMEOUT_REASON} {settings.page_timeout_seconds:g} s"}
    if doc["status"] != "ok":
        return doc
    if aside.images:
        doc.update(image_fields(aside.images, record, settings, ocr_cache))
        main_content(doc, aside.main_text, settings)
    return _finished(doc)


@dataclass
class _Aside:
    """What extraction keeps beside a document's fields until its images are read."""

    images: list[ImageRef] = field(default_factory=list)  # the images the page shows
    main_text: tuple[str, str] | None = None  # (text, extractor) the page's full text replaced


def main_content(doc: dict[str, Any], main_text: tuple[str, str] | None, settings: ExtractSettings) -> None:
    """A page whose short main text gave way to its full visible text, but whose images carry text:
    its main content is that main text and the images' text, without the menus and footers around."""
    if main_text is None or not doc["image_text"]:
        return
    text, extractor = main_text
    if visible_char_count(text) + visible_char_count(doc["image_text"]) >= settings.min_main_text_chars:
        doc.update(text=text[: settings.max_text_chars], extractor=extractor)


@cache
def _load_trafilatura() -> None:
    """Load justext's stop lists (seconds, once per process) before any page's time limit runs: the
    first page must not pay for them, nor be cut off in the middle of loading them, leaving them to
    load again on every later page. The fast mode never runs trafilatura, and lingua's language models
    load on the first text that needs them, in ``_finished``, where no time limit runs."""
    _main_text(parse_html("<html><body><p>Короткая страница.</p></body></html>"), "", ExtractSettings())


def _extract_fields(
    doc: dict[str, Any], record: Record, settings: ExtractSettings, aside: _Aside
) -> dict[str, Any]:
    """The page's own fields; the images it shows, and the main text if the full text replaced it,
    go ``aside``."""
    slow_point("extract.page", record.url)  # tests of the time limit make a page slow here
    try:
        if record.html is not None:
            doc.update(_extract_html(record.html, record.url, settings, aside))
        else:
            doc.update(text=record.text or "", extractor="text")
    except ExtractionError as exc:
        return {**doc, "status": "error", "error": str(exc)}
    except Exception as exc:  # hostile markup must not stop a batch: keep the reason
        return {**doc, "status": "error", "error": f"extraction failed: {type(exc).__name__}: {exc}"}
    doc["text"] = doc["text"][: settings.max_text_chars]
    doc["title"] = doc["title"][:MAX_TITLE_CHARS]
    doc["description"] = doc["description"][:MAX_DESCRIPTION_CHARS]
    return doc


def _finished(doc: dict[str, Any]) -> dict[str, Any]:
    """Contacts and language from everything the page says, its images included (a poster names the
    shop's bot); a page with no text anywhere is an error."""
    text, image_text = doc["text"], doc["image_text"]
    if not text.strip() and not image_text.strip() and not doc["title"]:
        return {**doc, "status": "error", "error": "no text on the page"}
    doc["contacts"] = find_contacts([text, doc["title"], doc["description"], image_text], doc["links"])
    said = "\n".join(part for part in (text, image_text) if part.strip())
    doc["lang"] = detect_language(said or doc["title"])
    return doc


def _extract_html(html: str, url: str, settings: ExtractSettings, aside: _Aside) -> dict[str, Any]:
    markup = checked_markup(html)  # the same refusals in both modes: binary and empty pages
    images = ocr_enabled(settings)
    if settings.engine == "resiliparse":
        if images and _may_show_images(markup):  # lxml for the images only: the text is lexbor's
            aside.images += listed_images(parse_html(markup), url, settings)
        return _fast(markup, url, settings, aside)
    tree, stopped = parse_markup(markup)
    if images:  # before trafilatura, which may change the tree
        aside.images += listed_images(tree, url, settings)
    if stopped:  # lxml read only the start of the page: lexbor reads all of it, however deeply nested
        return _fast(markup, url, settings, aside)
    text, extractor = telegram_text(tree), "telegram"
    if not text:
        large = next(islice(tree.iter(), MAX_MAIN_CONTENT_ELEMENTS, None), None) is not None
        text, extractor = "" if large else _main_text(tree, url, settings), "trafilatura"
    if extractor == "trafilatura" and len(text) < settings.min_main_text_chars:
        full = visible_text(tree)
        if visible_char_count(full) > visible_char_count(text):
            aside.main_text = (text, extractor)
            text, extractor = full, "fulltext"
    return {
        "title": page_title(tree),
        "description": meta_content(tree, "description", "og:description"),
        "links": page_links(tree, url),
        "text": text,
        "extractor": extractor,
    }


def _fast(markup: str, url: str, settings: ExtractSettings, aside: _Aside) -> dict[str, Any]:
    fields = extract_html_fast(markup, url, settings)
    if "main_text" in fields:
        aside.main_text = (fields.pop("main_text"), "resiliparse")
    return fields


def _may_show_images(markup: str) -> bool:
    """A cheap test before parsing a page a second time in the fast mode (no lower-cased copy)."""
    return _IMAGE_HINT.search(markup) is not None
