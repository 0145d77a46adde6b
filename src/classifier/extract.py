"""Records to documents: main text (trafilatura), title, description, links, contacts and language.

Drug ads are short and sit where trafilatura sees boilerplate (sidebars, comments, bios), so when the
main text is short the page's full visible text is used instead. Pages run in parallel (joblib) and
results are cached by record id (a hash of URL and content), so a second run does no work.
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
from classifier.ingest import Record
from classifier.normalize import detect_language

EXTRACTOR_VERSION = "1"
MAX_LINKS = 500
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
    markup = _clean_markup(html)
    if not markup.strip():
        raise ExtractionError("empty page")
    try:
        return lxml.html.document_fromstring(markup)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError(f"unparseable HTML: {exc}") from exc


def _meta(tree: lxml.html.HtmlElement, *names: str) -> str:
    for name in names:
        for attr in ("name", "property"):
            values = tree.xpath(f"//meta[@{attr}=$n]/@content", n=name)
            if values and values[0].strip():
                return " ".join(values[0].split())
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
        if not href or href.startswith(("#", "javascript:", "mailto:")):
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
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.lower() in _BLOCK_TAGS:
            element.text = "\n" + (element.text or "")
            element.tail = "\n" + (element.tail or "")
    lines = (" ".join(line.split()) for line in "".join(root.itertext()).splitlines())
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
    """One record to one document; failures become a document with ``status = error``."""
    doc = base_document(record)
    if record.status != "ok":
        return doc
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
    if settings.engine == "resiliparse":
        from classifier.extract_fast import extract_html_fast

        markup = _clean_markup(html)  # the same refusals as the default mode: binary and empty pages
        if not markup.strip():
            raise ExtractionError("empty page")
        return extract_html_fast(markup, url, settings)
    tree = parse_html(html)
    text, extractor = telegram_text(tree), "telegram"
    if not text:
        text, extractor = _main_text(tree, url, settings), "trafilatura"
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
        rows = [(self._key(d["id"]), json.dumps(d, ensure_ascii=False)) for d in docs]
        with self.lock, self.db:
            self.db.executemany("INSERT OR REPLACE INTO documents VALUES (?, ?)", rows)

    def close(self) -> None:
        self.db.close()


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
