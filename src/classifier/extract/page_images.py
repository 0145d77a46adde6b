"""Which images a page shows, for OCR (issue 20): in page order, each once, as absolute URLs, or as the
bytes themselves when the page carries them inline (``data:image/...;base64``, which sellers use to keep a
price list off image hosts).

Read from the parsed page (``html.parse_html``): ``<img src>``, its lazy-loading variants (``data-src``,
``data-original``) and the largest ``srcset`` candidate, ``<meta property="og:image">``, and
``background-image: url(...)`` in ``style`` attributes, which is how Telegram's web preview
(``t.me/s/…``) shows a post's photo. Fetching the URLs is not done here: the crawl's archive or the
saved page's folder holds the images (the record's ``images``, from ingestion).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urljoin

import lxml.html

MAX_IMAGE_REFS = (
    64  # per page: more is a gallery or a spam page; OCR reads fewer still (ocr_max_images_per_page)
)
MAX_URL_CHARS = 2048
_LAZY_SOURCES = ("src", "data-src", "data-original", "data-lazy-src")
_BACKGROUND = re.compile(r"""background(?:-image)?\s*:[^;]*?url\(\s*(['"]?)(.*?)\1\s*\)""", re.IGNORECASE)
_DATA_URI = re.compile(r"data:(image/[\w.+-]+)?((?:;[\w-]+=[\w.+-]+)*)(;base64)?,", re.IGNORECASE | re.ASCII)
_SRCSET_WIDTH = re.compile(r"^(\d+(?:\.\d+)?)[wx]$")


@dataclass(frozen=True)
class ImageRef:
    """One image of a page: ``url`` (absolute; for an inline image, ``data:`` and its type), or ``data``
    for an inline image, or ``error`` when an inline image cannot be read; ``alt`` as the page gives it."""

    url: str
    data: bytes | None = None
    alt: str = ""
    error: str = ""


def page_images(tree: lxml.html.HtmlElement, base_url: str, max_inline_bytes: int) -> list[ImageRef]:
    """The images ``tree`` shows, in page order, each once (by URL, or by content for inline ones)."""
    found: dict[str, ImageRef] = {}
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions
        for source, alt in _sources(element):
            source = source.strip()
            ref = _ref(source, base_url, alt, max_inline_bytes)
            if ref is not None:  # once each: by URL, an inline image by its whole source
                found.setdefault(source if ref.url.startswith("data:") else ref.url, ref)
        if len(found) >= MAX_IMAGE_REFS:
            break
    return list(found.values())[:MAX_IMAGE_REFS]


def _sources(element: lxml.html.HtmlElement) -> list[tuple[str, str]]:
    """The image sources an element names, with its alt text."""
    sources: list[tuple[str, str]] = []
    if element.tag == "img":
        alt = " ".join((element.get("alt") or "").split())
        srcset = element.get("srcset") or element.get("data-srcset")
        named = [element.get(name) for name in _LAZY_SOURCES]
        best = _largest(srcset) if srcset else ""
        sources += [(s, alt) for s in (best, *named) if s]
    elif element.tag == "meta" and element.get("property") in ("og:image", "twitter:image"):
        sources.append((element.get("content") or "", ""))
    style = element.get("style")
    if style and "url(" in style:
        sources += [(match.group(2), "") for match in _BACKGROUND.finditer(style)]
    return sources


def _largest(srcset: str) -> str:
    """The widest (or densest) candidate of a ``srcset``; the first when none says its size."""
    best, best_size = "", -1.0
    for candidate in srcset.split(","):
        parts = candidate.split()
        if not parts:
            continue
        size = _SRCSET_WIDTH.match(parts[-1]) if len(parts) > 1 else None
        value = float(size.group(1)) if size else 0.0
        if value > best_size:
            best, best_size = parts[0], value
    return best


def _ref(source: str, base_url: str, alt: str, max_inline_bytes: int) -> ImageRef | None:
    if source[:5].lower() == "data:":
        return _inline(source, alt, max_inline_bytes)
    if (
        not source
        or len(source) > MAX_URL_CHARS
        or source.startswith(("javascript:", "#", "about:", "blob:"))
    ):
        return None
    try:
        url = urljoin(base_url, source) if base_url else source
    except ValueError:
        return None
    # a saved page names its images by relative path: file: URLs only from a page read from a folder
    schemes = ("http://", "https://", "file:") if base_url.startswith("file:") else ("http://", "https://")
    return ImageRef(url, alt=alt) if url.startswith(schemes) else None


def _inline(source: str, alt: str, max_inline_bytes: int) -> ImageRef | None:
    """An image carried in the page itself; base64 checked and sized before it is decoded."""
    header = _DATA_URI.match(source)
    if header is None or not header.group(1):
        return None  # not an image (data:text/html, a font): nothing for OCR
    kind = f"data:{header.group(1).lower()}"
    payload = source[header.end() :]
    if len(payload) * 3 // 4 > max_inline_bytes:  # base64 grows by 4/3: refused before decoding
        return ImageRef(kind, alt=alt, error=f"inline image larger than {max_inline_bytes} bytes")
    try:
        if header.group(3):
            data = base64.b64decode("".join(payload.split()), validate=True)
        else:
            data = unquote_to_bytes(payload)
    except (binascii.Error, ValueError) as exc:
        return ImageRef(kind, alt=alt, error=f"inline image not readable: {exc}")
    return ImageRef(kind, data=data, alt=alt)
