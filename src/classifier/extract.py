"""Records to documents: main text (trafilatura), title, description, links, contacts and language.

Drug ads are short and sit where trafilatura sees boilerplate (sidebars, comments, bios), so when the
main text is short the page's full visible text is used instead. Pages run in parallel (joblib) and
results are cached by record id (a hash of URL and content), so a second run does no work. A page that
takes longer than ``extract.page_timeout_seconds`` becomes an error document (``limits.time_limit``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import lxml.html
import trafilatura
from joblib import Parallel, delayed
from lxml import etree

from classifier.config import ExtractSettings
from classifier.contacts import find_contacts
from classifier.faults import slow_point
from classifier.ingest import Record
from classifier.limits import PageTimeout, time_limit
from classifier.normalize import detect_language

EXTRACTOR_VERSION = "2"
MAX_LINKS = 500
# Bounds on the fields besides the text (``extract.max_text_chars``): a hostile page can put megabytes
# into a title or a link, and contact search and normalisation then run over all of it.
MAX_TITLE_CHARS = 1000
MAX_DESCRIPTION_CHARS = 2000
MAX_LINK_CHARS = 2048
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
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
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
    return _parse(_checked_markup(html))[0]


def _checked_markup(html: str) -> str:
    markup = _clean_markup(html)
    if not markup.strip():
        raise ExtractionError("empty page")
    return markup


def _parse(markup: str) -> tuple[lxml.html.HtmlElement, bool]:
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


def _meta(tree: lxml.html.HtmlElement, *names: str) -> str:
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
    title = tree.findtext(".//title") or _meta(tree, "og:title", "twitter:title")
    if not title:
        heading = tree.find(".//h1")
        title = heading.text_content() if heading is not None else ""
    return " ".join(title.split())


def page_links(tree: lxml.html.HtmlElement, base_url: str) -> list[str]:
    return absolute_links(tree.xpath("//a/@href | //area/@href | //link[@rel='canonical']/@href"), base_url)


def absolute_links(hrefs: Iterable[str], base_url: str) -> list[str]:
    """Distinct absolute link targets, in page order, without anchors, scripts and mail links."""
    links: dict[str, None] = {}
    for href in hrefs:
        href = href.strip()
        if not href or len(href) > MAX_LINK_CHARS or href.startswith(("#", "javascript:", "mailto:")):
            continue
        try:
            links[urljoin(base_url, href) if base_url else href] = None
        except ValueError:
            continue
        if len(links) >= MAX_LINKS:
            break
    return list(links)


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


def _extract_html(html: str, url: str, settings: ExtractSettings) -> dict[str, Any]:
    from classifier.extract_fast import extract_html_fast

    markup = _checked_markup(html)  # the same refusals in both modes: binary and empty pages
    if settings.engine == "resiliparse":
        return extract_html_fast(markup, url, settings)
    tree, stopped = _parse(markup)
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
        "description": _meta(tree, "description", "og:description"),
        "links": page_links(tree, url),
        "text": text,
        "extractor": extractor,
    }


def settings_fingerprint(settings: ExtractSettings) -> str:
    """Changes whenever a setting or the extractor changes, so stale cache entries are never read."""
    key = json.dumps(asdict(settings), sort_keys=True) + EXTRACTOR_VERSION + trafilatura.__version__
    if settings.engine == "resiliparse":
        from importlib.metadata import version

        from classifier.extract_fast import FAST_EXTRACTOR_VERSION

        key += version("resiliparse") + FAST_EXTRACTOR_VERSION
    return hashlib.sha1(key.encode()).hexdigest()[:10]


class ExtractionCache:
    """Documents by record id in one SQLite file, used only by the main process.

    joblib plans tasks from its own thread while results are written from the caller's, so the
    connection is shared between threads behind a lock.
    """

    def __init__(self, path: Path, fingerprint: str):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fingerprint = fingerprint
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS documents (key TEXT PRIMARY KEY, doc TEXT NOT NULL)")

    def _key(self, record_id: str) -> str:
        return f"{self.fingerprint}:{record_id}"

    def get_many(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        keys = [self._key(i) for i in ids]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            with self.lock:
                rows = self.db.execute(
                    f"SELECT key, doc FROM documents WHERE key IN ({marks})", part
                ).fetchall()
            for key, doc in rows:
                found[key.split(":", 1)[1]] = json.loads(doc)
        return found

    def put_many(self, docs: list[dict[str, Any]]) -> None:
        rows = [(self._key(d["id"]), _cache_json(d)) for d in docs]
        with self.lock, self.db:
            self.db.executemany("INSERT OR REPLACE INTO documents VALUES (?, ?)", rows)

    def close(self) -> None:
        self.db.close()


def _cache_json(doc: dict[str, Any]) -> str:
    text = json.dumps(doc, ensure_ascii=False)
    # SQLite stores UTF-8, which has no lone surrogates; escaped, they come back from json.loads unchanged
    return json.dumps(doc) if _SURROGATE.search(text) else text


def _batches(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def _with_source(doc: dict[str, Any], record: Record) -> dict[str, Any]:
    # a cached document keeps its content, but where this copy came from is this run's
    return {**doc, "source": record.source, "fetched_at": record.fetched_at}


def extract_documents(
    records: Iterable[Record], settings: ExtractSettings, cache_path: Path | None = None
) -> Iterator[dict[str, Any]]:
    """Documents for ``records``, in input order, one per record."""
    cache = ExtractionCache(cache_path, settings_fingerprint(settings)) if cache_path else None
    try:
        tasks = (_plan_batch(batch, settings, cache) for batch in _batches(records, settings.batch_size))
        if settings.n_jobs == 1:
            results = (task() for task in tasks)
        else:
            parallel = Parallel(n_jobs=settings.n_jobs, return_as="generator", pre_dispatch="4*n_jobs")
            results = parallel(delayed(task)() for task in tasks)
        for docs, fresh in results:
            if cache is not None and fresh:
                cache.put_many(fresh)
            yield from docs
    finally:
        if cache is not None:
            cache.close()


class _BatchTask:
    """A picklable unit of work: cached documents pass through, other records are extracted."""

    def __init__(self, items: list[Record | dict[str, Any]], settings: ExtractSettings):
        self.items = items
        self.settings = settings

    def __call__(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        # trafilatura logs every short page at ERROR; the full-text fallback handles them
        logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
        docs, fresh = [], []
        for item in self.items:
            if isinstance(item, Record):
                doc = extract_document(item, self.settings)
                if not str(doc["error"] or "").startswith(TIMEOUT_REASON):  # a later run may be faster
                    fresh.append(doc)
            else:
                doc = item
            docs.append(doc)
        return docs, fresh


def _plan_batch(batch: list[Record], settings: ExtractSettings, cache: ExtractionCache | None) -> _BatchTask:
    cached = cache.get_many([r.id for r in batch if r.status == "ok"]) if cache else {}
    items: list[Record | dict[str, Any]] = []
    for record in batch:
        if record.status != "ok":
            items.append(base_document(record))
        elif record.id in cached:
            items.append(_with_source(cached[record.id], record))
        else:
            items.append(record)
    return _BatchTask(items, settings)
