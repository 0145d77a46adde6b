"""The text in a page's images (issue 20): the images the page shows (``page_images``), read from where
the record says they are (its archive, its folder; inline ones from the page itself), through OCR
(``ocr.ImageReader``), into two document fields:

- ``images``: one entry per image, in page order, numbered from 1 as the case page shows them: its URL,
  the text read and Tesseract's confidence, or the reason it was not read (not archived, too small, a
  decompression bomb, too many on the page ...). A hostile image is an entry with a reason; the page
  and its other images are read as usual;
- ``image_text``: the text of the images read, an image per paragraph, which the model reads with the
  page's own text. Which image a line came from is in ``images``.

One reader per process and settings (:func:`image_reader`): Tesseract's models load once per extraction
worker or Dask worker, and its cache of texts by image hash lives as long as the process.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import Any

import lxml.html

from classifier.common.config import ExtractSettings
from classifier.extract.ocr import ImageReader, ImageText, ocr_status
from classifier.extract.page_images import ImageRef, page_images
from classifier.ingest.records import ImageUnavailable, Record

NOT_READ = "not read"  # an image the page shows that its input does not hold
MAX_URL_CHARS = 300  # in an entry: an inline image's data or a tracking URL can be kilobytes

_readers: dict[tuple[ExtractSettings, Path | None], ImageReader] = {}
_readers_lock = threading.Lock()


@cache  # asked for every page: the checks look for a package and files on disk
def ocr_enabled(settings: ExtractSettings) -> bool:
    """Whether images are read at all with these settings (else the reason is logged once)."""
    return settings.ocr and ocr_status(settings).available


def image_reader(settings: ExtractSettings, cache_path: Path | None = None) -> ImageReader:
    """This process's reader for these settings, made on first use (loading Tesseract takes a while)."""
    key = (settings, cache_path)
    with _readers_lock:
        reader = _readers.get(key)
        if reader is None:
            reader = _readers[key] = ImageReader(settings, cache_path)
    return reader


def ocr_state(settings: ExtractSettings) -> str:
    """What the image text of a document depends on beyond the settings: whether OCR runs and which
    Tesseract. Part of the extraction cache's key, so installing Tesseract re-reads cached pages."""
    if not ocr_enabled(settings):
        return "ocr off"
    return image_reader(settings).engine.version()


def listed_images(tree: lxml.html.HtmlElement, url: str, settings: ExtractSettings) -> list[ImageRef]:
    """The images a page shows, listed before anything else touches the tree."""
    return page_images(tree, url, settings.ocr_max_bytes)


def image_fields(
    refs: list[ImageRef], record: Record, settings: ExtractSettings, cache_path: Path | None = None
) -> dict[str, Any]:
    """``image_text`` and ``images`` for a page showing ``refs``. Images its input cannot hold (a
    table's row has none) are left out rather than listed as missing; inline ones are always read."""
    found = [item for item in (_fetched(ref, record, settings) for ref in refs) if item is not None]
    read = iter(
        image_reader(settings, cache_path).read_page_images(
            (url, data) for url, data, _ in found if data is not None
        )
    )  # one result per image with bytes, in order
    entries = [
        _entry(url, error=error) if data is None else _entry(url, next(read)) for url, data, error in found
    ]
    entries = [{"n": number, **entry} for number, entry in enumerate(entries, start=1)]
    return {"image_text": joined_image_text(entries)[: settings.max_text_chars], "images": entries}


def _fetched(
    ref: ImageRef, record: Record, settings: ExtractSettings
) -> tuple[str, bytes | None, str] | None:
    """(URL, bytes, "") of an image that can be read, (URL, None, reason) of one that cannot, or None
    for an image the input cannot hold at all."""
    if ref.error or ref.data is not None:
        return ref.url, ref.data, ref.error
    if record.images is None:
        return None
    try:
        return ref.url, record.images.fetch(ref.url, settings.ocr_max_bytes), ""
    except ImageUnavailable as exc:
        return ref.url, None, f"{NOT_READ}: {exc}"


def joined_image_text(images: list[dict[str, Any]]) -> str:
    """The text the model reads from a page's images: each image's text, a paragraph each."""
    return "\n\n".join(image["text"] for image in images if image.get("text"))


def _entry(url: str, result: ImageText | None = None, error: str = "") -> dict[str, Any]:
    """An image's entry: ``url`` as shown, and what ``result`` read, or ``error``."""
    shown = url if len(url) <= MAX_URL_CHARS else url[: MAX_URL_CHARS - 1] + "…"
    if result is None:
        return {"url": shown, "text": "", "confidence": None, "error": error}
    return {
        "url": shown,
        "text": result.text,
        "confidence": result.confidence if result.ok else None,
        "error": result.error,
    }
