"""Read crawl outputs into records: one record per input record, decoded, or an error with its reason.

Formats: WARC / WARC.gz (HTML ``response`` records), folders of ``.html``/``.htm`` files, and
JSONL / CSV / Parquet tables with a ``url`` column and an ``html`` or ``text`` column (``id`` optional).
Everything is streamed: memory does not grow with the input.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from classifier.config import IngestSettings
from classifier.decoding import charset_from_content_type, decode_html

log = logging.getLogger(__name__)

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
TABLE_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".parquet")
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
_TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")
_TABLE_BATCH = 1000


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


def _error(url: str, source: str, reason: str, content: bytes = b"") -> Record:
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
    )


def read_warc(
    path: Path, settings: IngestSettings, stats: IngestStats, start: int = 0, stop: int | None = None
) -> Iterator[Record]:
    """The archive's HTML responses; with ``start``/``stop``, only the records whose offsets lie in that
    byte range (a partition: records start where the planner saw them, so seeking lands on one)."""
    from warcio.archiveiterator import ArchiveIterator

    with path.open("rb") as stream:
        stream.seek(start)
        iterator = ArchiveIterator(stream, arc2warc=True)
        end = start
        try:
            for warc_record in iterator:
                # warcio's offset is where this record starts (known before its payload is read)
                if stop is not None and iterator.offset >= stop:
                    return  # the next partition's first record
                record = None
                if warc_record.rec_type == "response":
                    record = _warc_response(warc_record, settings, stats)
                else:
                    stats.skipped[f"warc:{warc_record.rec_type}"] += 1
                # offsets are known once the payload is read: warcio reads to the record's end for them
                offset = iterator.get_record_offset()
                end = offset + iterator.get_record_length()
                if record is not None:
                    record.source = f"{path}:{offset}"
                    yield record
        except Exception as exc:  # warcio raises plain Exceptions on broken archives
            log.warning("%s: archive broken after offset %s: %s", path, end, exc)
            yield _error("", f"{path}:{end}", f"broken WARC after offset {end}: {exc}")
            return
    if stop is not None:
        return
    unread = _unread_tail(path, end)
    if unread:  # warcio stops quietly at a cut-off gzip member
        yield _error("", f"{path}:{end}", f"broken WARC after offset {end}: {unread} bytes unreadable")


_RECORD_GAP = 16


def _unread_tail(path: Path, end: int) -> int:
    """Bytes after the last record warcio read, other than the blank lines that close a record."""
    size = path.stat().st_size
    if size - end > _RECORD_GAP:
        return size - end
    with path.open("rb") as handle:
        handle.seek(end)
        return 0 if not handle.read().strip() else size - end


def _warc_response(warc_record: Any, settings: IngestSettings, stats: IngestStats) -> Record | None:
    """A record for an HTML or text response; None (counted as skipped) for images, scripts and such."""
    url = warc_record.rec_headers.get_header("WARC-Target-URI") or ""
    fetched_at = warc_record.rec_headers.get_header("WARC-Date")
    content_type = ""
    if warc_record.http_headers is not None:
        content_type = warc_record.http_headers.get_header("Content-Type") or ""
    mime = content_type.split(";")[0].strip().lower()
    if mime not in _TEXT_TYPES:
        stats.skipped[f"mime:{mime}"] += 1
        return None
    try:
        payload = warc_record.content_stream().read(settings.max_page_bytes + 1)
    except Exception as exc:  # a corrupt gzip or chunked body
        return _error(url, "", f"unreadable payload: {exc}")
    stats.records["warc"] += 1
    return record_from_bytes(
        payload,
        url=url,
        source="",
        settings=settings,
        declared_charset=charset_from_content_type(content_type),
        fetched_at=fetched_at,
    )


def html_files(path: Path) -> list[Path]:
    """The HTML files of a file or folder, in the order every reader uses."""
    return (
        [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix.lower() in HTML_SUFFIXES)
    )


def read_html_files(
    path: Path, settings: IngestSettings, stats: IngestStats, start: int = 0, stop: int | None = None
) -> Iterator[Record]:
    """The pages of an HTML file or folder; ``start``/``stop`` select files by their position."""
    for file in html_files(path)[start:stop]:
        url = file.resolve().as_uri()
        try:
            with file.open("rb") as handle:
                payload = handle.read(settings.max_page_bytes + 1)
        except OSError as exc:
            yield _error(url, str(file), f"unreadable file: {exc}")
            continue
        stats.records["html"] += 1
        yield record_from_bytes(payload, url=url, source=str(file), settings=settings)


def record_from_row(row: dict[str, Any], source: str, settings: IngestSettings) -> Record:
    """A table row with ``url`` and ``html`` or ``text`` (and maybe ``id``) into a record."""
    url = _cell(row.get("url"))
    html, text = _cell(row.get("html")), _cell(row.get("text"))
    if not html and not text:
        has_columns = "html" in row or "text" in row
        reason = "row has an empty html and text" if has_columns else "table has no 'html' or 'text' column"
        record = _error(url, source, reason, json.dumps(row, default=str, sort_keys=True).encode())
    else:
        content = (html or text).encode("utf-8", "replace")
        truncated = len(content) > settings.max_page_bytes
        if truncated:
            content = content[: settings.max_page_bytes]
            html, text = (content.decode("utf-8", "ignore"), None) if html else (None, content.decode())
        record = Record(
            id=record_id(url, content),
            url=url,
            source=source,
            domain=domain_of(url),
            fetched_at=_cell(row.get("fetched_at")) or None,
            html=html or None,
            text=None if html else text,
            encoding="utf-8",
            truncated=truncated,
            content_hash=hashlib.sha1(content).hexdigest(),
        )
    given_id = _cell(row.get("id"))
    if given_id:
        record.id = given_id
    return record


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from pandas
        return ""
    return value if isinstance(value, str) else str(value)


def read_jsonl(
    path: Path,
    settings: IngestSettings,
    stats: IngestStats,
    start: int = 0,
    stop: int | None = None,
    first_line: int = 1,
) -> Iterator[Record]:
    """One record per line; ``start``/``stop`` are byte offsets of line starts, ``first_line`` the
    number of the line at ``start``."""
    with path.open("rb") as handle:
        handle.seek(start)
        lines = iter(handle.readline, b"") if stop is None else _lines_until(handle, stop)
        for number, line in enumerate(lines, start=first_line):
            source = f"{path}:{number}"
            if not line.strip():
                continue
            stats.records["jsonl"] += 1
            try:
                row = json.loads(line)
            except ValueError as exc:
                yield _error("", source, f"invalid JSON on line {number}: {exc}", line)
                continue
            if not isinstance(row, dict):
                yield _error("", source, f"line {number} is not a JSON object", line)
                continue
            yield record_from_row(row, source, settings)


def _lines_until(handle: Any, stop: int) -> Iterator[bytes]:
    while handle.tell() < stop:
        line = handle.readline()
        if not line:
            return
        yield line


def read_csv(
    path: Path, settings: IngestSettings, stats: IngestStats, start: int = 0, stop: int | None = None
) -> Iterator[Record]:
    """One record per row; ``start``/``stop`` select rows by their position (after the header)."""
    import pandas as pd

    try:
        chunks = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            chunksize=_TABLE_BATCH,
            skiprows=range(1, start + 1) if start else None,
            nrows=None if stop is None else stop - start,
        )
        row_number = start
        for chunk in chunks:
            for row in chunk.to_dict("records"):
                row_number += 1
                stats.records["csv"] += 1
                yield record_from_row(row, f"{path}:{row_number}", settings)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        yield _error("", str(path), f"unreadable CSV: {exc}")


def read_parquet(
    path: Path, settings: IngestSettings, stats: IngestStats, start: int = 0, stop: int | None = None
) -> Iterator[Record]:
    """One record per row; ``start``/``stop`` select row groups by their position."""
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        groups = list(range(parquet.num_row_groups))[start:stop]
        row_number = sum(parquet.metadata.row_group(i).num_rows for i in range(start))
        for batch in parquet.iter_batches(batch_size=_TABLE_BATCH, row_groups=groups):
            for row in batch.to_pylist():
                row_number += 1
                stats.records["parquet"] += 1
                yield record_from_row(row, f"{path}:{row_number}", settings)
    except (OSError, ValueError) as exc:
        yield _error("", str(path), f"unreadable Parquet: {exc}")


def input_format(path: Path) -> str | None:
    name = path.name.lower()
    if path.is_dir() or name.endswith(HTML_SUFFIXES):
        return "html"
    if name.endswith(WARC_SUFFIXES):
        return "warc"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".parquet"):
        return "parquet"
    return None


_READERS = {
    "warc": read_warc,
    "html": read_html_files,
    "jsonl": read_jsonl,
    "csv": read_csv,
    "parquet": read_parquet,
}


def iter_records(
    paths: Iterable[Path | str], settings: IngestSettings, stats: IngestStats | None = None
) -> Iterator[Record]:
    """Every record of every input, in input order; unreadable inputs become error records."""
    stats = stats if stats is not None else IngestStats()
    for raw_path in paths:
        path = Path(raw_path)
        if not path.exists():
            yield _error("", str(path), "input not found")
            continue
        fmt = input_format(path)
        if fmt is None:
            yield _error("", str(path), f"unsupported input format: {path.name}")
            continue
        yield from _READERS[fmt](path, settings, stats)
