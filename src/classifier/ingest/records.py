"""A record is one page as received: decoded HTML or text, or an error with its reason; its id hashes
the URL and the bytes, so the same page always gets the same id. A record read from an archive or a
folder also knows where the images its page shows can be read (``images``, for OCR).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from classifier.common.config import IngestSettings
from classifier.ingest.decoding import decode_html

# Files that are not text whatever their Content-Type says, by their first bytes (whole signatures: a
# text page may well start with "RIFF" or "GIF")
_BINARY_SIGNATURES = tuple(
    (re.compile(pattern, re.DOTALL), name)
    for pattern, name in (
        (rb"%PDF-\d", "a PDF document"),
        (rb"\x89PNG\r\n\x1a\n", "a PNG image"),
        (rb"\xff\xd8\xff", "a JPEG image"),
        (rb"GIF8[79]a", "a GIF image"),
        (rb"RIFF....(?:WEBP|WAVE|AVI )", "a RIFF file (WebP, WAV, AVI)"),
        (rb"PK\x03\x04", "a ZIP archive or office document"),
        (rb"\x1f\x8b\x08", "gzip data"),
        (rb"wOF[F2]", "a web font"),
        (rb"\x7fELF", "an executable"),
        (rb"\x00...ftyp", "an MP4 video"),
    )
)


class ImageUnavailable(Exception):
    """An image a page shows that cannot be read from its input; ``str(exc)`` says why."""


class ImageSource(Protocol):
    """Where a record's images are read: its archive (``warc_images``) or its folder (``html_files``).
    Small when pickled (a path), since records travel to extraction workers."""

    def fetch(self, url: str, max_bytes: int) -> bytes:
        """The image at ``url``; raises :class:`ImageUnavailable` with the reason."""
        ...


@dataclass
class Record:
    """One input record, decoded. Exactly one of ``html`` / ``text`` is set unless ``status`` is error."""

    id: str
    url: str
    source: str
    domain: str = ""
    fetched_at: str | None = None
    html: str | None = None
    text: str | None = None
    encoding: str | None = None
    truncated: bool = False
    status: str = "ok"
    error: str | None = None
    content_hash: str = ""
    images: ImageSource | None = None  # None: the input holds no images (tables), inline ones aside


@dataclass
class IngestStats:
    """What was read: records per format and records skipped (non-HTML WARC records) by type."""

    records: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"records": dict(self.records), "skipped": dict(self.skipped)}


def record_id(url: str, content: bytes) -> str:
    """Stable id: the same URL with the same content always gets the same id."""
    return hashlib.sha1(url.encode("utf-8", "replace") + b"\n" + content).hexdigest()[:20]


def domain_of(url: str) -> str:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


def error_record(url: str, source: str, reason: str, content: bytes = b"") -> Record:
    return Record(
        id=record_id(url or source, content),
        url=url,
        source=source,
        domain=domain_of(url),
        status="error",
        error=reason,
    )


def record_from_bytes(
    payload: bytes,
    *,
    url: str,
    source: str,
    settings: IngestSettings,
    declared_charset: str | None = None,
    fetched_at: str | None = None,
    images: ImageSource | None = None,
) -> Record:
    """Decode one HTML payload into a record; the id hashes the bytes exactly as received."""
    truncated = len(payload) > settings.max_page_bytes
    rid = record_id(url, payload)
    if truncated:
        payload = payload[: settings.max_page_bytes]
    if not payload.strip():
        return Record(
            id=rid, url=url, source=source, domain=domain_of(url), status="error", error="empty page"
        )
    kind = binary_kind(payload)
    if kind:  # an image or a PDF served as text/html: decoding would make a page of noise
        reason = f"binary content, not a text page: {kind}"
        return Record(id=rid, url=url, source=source, domain=domain_of(url), status="error", error=reason)
    decoded = decode_html(payload, declared_charset)
    return Record(
        id=rid,
        url=url,
        source=source,
        domain=domain_of(url),
        fetched_at=fetched_at,
        html=decoded.text,
        encoding=decoded.encoding,
        truncated=truncated,
        content_hash=hashlib.sha1(payload).hexdigest(),
        images=images,
    )


def binary_kind(payload: bytes) -> str | None:
    """What a payload is when its first bytes are those of a known binary format, else None."""
    head = payload[:64].lstrip()
    return next((name for pattern, name in _BINARY_SIGNATURES if pattern.match(head)), None)
