"""Read crawl outputs into records: one record per input record, decoded, or an error with its reason.

Formats: WARC / WARC.gz (HTML ``response`` records), folders of ``.html``/``.htm`` files, and
JSONL / CSV / Parquet tables with a ``url`` column and an ``html`` or ``text`` column (``id`` optional).
Everything is streamed: memory does not grow with the input. A broken stretch of a WARC (a wrong
``Content-Length``, junk between records, a corrupt or cut-off gzip member) becomes one error record, and
reading goes on at the next record start after it, so nothing after the break is lost.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
import zlib
from collections import Counter
from collections.abc import Generator, Iterable, Iterator
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
_SURROGATE = re.compile("[\ud800-\udfff]")
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
    )


def binary_kind(payload: bytes) -> str | None:
    """What a payload is when its first bytes are those of a known binary format, else None."""
    head = payload[:64].lstrip()
    return next((name for pattern, name in _BINARY_SIGNATURES if pattern.match(head)), None)


def read_warc(
    path: Path, settings: IngestSettings, stats: IngestStats, start: int = 0, stop: int | None = None
) -> Iterator[Record]:
    """The archive's HTML responses; with ``start``/``stop``, only the records whose offsets lie in that
    byte range (a partition: records start where the planner saw them, so seeking lands on one)."""
    for entry in warc_entries(path, settings, stats, start, stop):
        if entry.record is not None:
            yield entry.record


@dataclass
class WarcEntry:
    """A record of an archive where it starts, its WARC type, and the record read from it (None for the
    records that are skipped: requests, images and such, and responses when payloads are not read)."""

    offset: int
    rec_type: str
    record: Record | None = None


_WARC_START = re.compile(rb"\nWARC/1\.[01]\r?\n")  # at a line start, as warcio reads it
_GZIP_MEMBER = re.compile(rb"\x1f\x8b\x08")
_SCAN_BLOCK = 1 << 20
_RECORD_GAP = 16


def warc_entries(
    path: Path,
    settings: IngestSettings,
    stats: IngestStats,
    start: int = 0,
    stop: int | None = None,
    payloads: bool = True,
) -> Iterator[WarcEntry]:
    """Every record of the archive in order, broken stretches as error entries (rec_type "broken").

    ``read_warc`` reads these; the partition planner reads them without payloads, so that partitions
    start where reading the whole archive starts a record, broken archives included.
    """
    with path.open("rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    position: int | None = start
    while position is not None and (stop is None or position < stop):
        position = yield from _warc_stretch(path, position, stop, gzipped, settings, stats, payloads)


def _warc_stretch(
    path: Path,
    position: int,
    stop: int | None,
    gzipped: bool,
    settings: IngestSettings,
    stats: IngestStats,
    payloads: bool,
) -> Generator[WarcEntry, None, int | None]:
    """The records from ``position`` on, until the archive ends (returns None) or breaks: then an error
    entry, and the offset of the next record start to read on from is returned."""
    from warcio.archiveiterator import ArchiveIterator

    arc = path.name.lower().endswith((".arc", ".arc.gz"))
    with path.open("rb") as stream:
        stream.seek(position)
        # a WARC is read as WARC only: converting ARC records would read a line of junk as an ARC header
        iterator = ArchiveIterator(stream, arc2warc=arc)
        end = position
        try:
            for warc_record in iterator:
                offset = iterator.offset  # known before the payload is read
                if stop is not None and offset >= stop:
                    return None  # the next partition's first record
                if warc_record.format != "warc" and not arc:  # a first record after junk may read as ARC
                    raise ValueError("no WARC record starts here")
                warnings = iterator.err_count
                record = _entry_record(warc_record, settings, stats) if payloads else None
                if record is not None:
                    record.source = f"{path}:{offset}"
                # warcio reads to the record's end for its length; that tells whether Content-Length was right
                end = offset + iterator.get_record_length()
                cut = _cut_off(warc_record, iterator, gzipped, arc)
                junk = iterator.err_count > warnings  # bytes other than blank lines after the record
                if not cut and not junk:
                    yield WarcEntry(offset, warc_record.rec_type, record)
                    continue
                after = _next_record_start(path, offset + 1, gzipped)
                yield from _broken_entries(path, (offset, end, after), warc_record, record, cut, gzipped)
                return after
        except Exception as exc:  # warcio raises plain Exceptions on broken archives
            failed_at = iterator.offset  # where the record it could not read starts
            after = _next_record_start(path, failed_at + 1, gzipped)
            log.warning("%s: archive broken at offset %s: %s", path, failed_at, _printable(exc))
            yield WarcEntry(failed_at, "broken", _warc_error(path, failed_at, _printable(exc), after))
            return after
    if stop is None:
        unread = _unread_tail(path, end)
        if unread:  # warcio stops quietly in a gzip member cut off before its first data
            yield WarcEntry(end, "broken", _warc_error(path, end, f"{unread} bytes unreadable", None))
    return None


def _entry_record(warc_record: Any, settings: IngestSettings, stats: IngestStats) -> Record | None:
    if warc_record.rec_type == "response":
        return _warc_response(warc_record, settings, stats)
    stats.skipped[f"warc:{warc_record.rec_type}"] += 1
    return None


def _cut_off(warc_record: Any, iterator: Any, gzipped: bool, arc: bool) -> str:
    """Why the record is not whole ('' if it is): it ends before its Content-Length does (a truncated
    file, corrupt gzip data, a wrong length) or its header is."""
    if warc_record.length is None and not arc:
        return "the record has no Content-Length: its header is cut off or damaged"
    missing = getattr(warc_record.raw_stream, "limit", 0)  # a LimitReader's bytes still to read
    if missing <= 0:
        return ""
    decompressor = getattr(iterator.reader, "decompressor", None)
    if gzipped and decompressor is not None and decompressor.eof:
        return ""  # a whole gzip member with a too large Content-Length: the record itself is complete
    return (
        f"the record is cut off {missing} bytes before the end its Content-Length ({warc_record.length})"
        " gives: a truncated file, corrupt gzip data or a wrong Content-Length"
    )


def _broken_entries(
    path: Path,
    places: tuple[int, int, int | None],
    warc_record: Any,
    record: Record | None,
    cut: str,
    gzipped: bool,
) -> Iterator[WarcEntry]:
    """A record with a wrong length: an error for it if it is cut off or runs into the next record;
    else it stands, and the bytes after it (junk, or what a too small Content-Length left out) are one.
    ``places``: where the record starts, where warcio saw it end, and the next record start."""
    offset, end, after = places
    url = warc_record.rec_headers.get_header("WARC-Target-URI") or ""
    if not cut and not gzipped and after is not None and after < end:
        cut = f"its Content-Length ({warc_record.length}) runs into the next record, at offset {after}"
    if cut:
        yield WarcEntry(offset, "broken", _warc_error(path, offset, cut, after, url))
        return
    yield WarcEntry(offset, warc_record.rec_type, record)
    # in a WARC.gz the bytes are inside the record's gzip member, which has no offset of its own
    junk_at = offset if gzipped else end
    problem = (
        f"unexpected bytes after the record at offset {offset} (junk, or its Content-Length is too small)"
    )
    yield WarcEntry(junk_at, "broken", _warc_error(path, junk_at, problem, after))


def _warc_error(path: Path, offset: int, problem: str, after: int | None, url: str = "") -> Record:
    source = f"{path}:{offset}"
    then = f"read on at the next record, offset {after}" if after is not None else "nothing readable after it"
    return _error(url, source, f"broken WARC after offset {offset}: {problem}; {then}", source.encode())


def _printable(exc: Exception, limit: int = 200) -> str:
    """An exception's message on one line, binary noise escaped (warcio quotes the bytes it could not read)."""
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in " ".join(str(exc).split()))
    return text if len(text) <= limit else text[:limit] + "..."


def _next_record_start(path: Path, start: int, gzipped: bool) -> int | None:
    """The first offset from ``start`` on where a record starts: a ``WARC/1.x`` line, or in a WARC.gz a
    gzip member that inflates to one. None if there is none."""
    pattern, lead = (_GZIP_MEMBER, 0) if gzipped else (_WARC_START, 1)
    base = max(start - lead, 0)
    with path.open("rb") as handle:
        while True:
            handle.seek(base)
            data = handle.read(_SCAN_BLOCK)
            if len(data) <= _RECORD_GAP:
                return None
            for match in pattern.finditer(data):
                found = base + match.start() + lead
                if found >= start and (not gzipped or _holds_warc(handle, found)):
                    return found
            base += len(data) - _RECORD_GAP  # overlap: a start cut in two by the block is seen whole


def _holds_warc(handle: Any, offset: int) -> bool:
    handle.seek(offset)
    try:
        head = zlib.decompressobj(31).decompress(handle.read(4096), 16)
    except zlib.error:
        return False
    return head.startswith(b"WARC/")


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
    content = (html or text).encode("utf-8", "replace")
    truncated = len(content) > settings.max_page_bytes
    if truncated:  # cut in bytes: a character cut in two is dropped
        content = content[: settings.max_page_bytes]
        cut = content.decode("utf-8", "ignore")
        html, text = (cut, "") if html else ("", cut)
    if not html and not text:
        has_columns = "html" in row or "text" in row
        reason = "row has an empty html and text" if has_columns else "table has no 'html' or 'text' column"
        if truncated:
            reason = "nothing left of the page once cut at ingest.max_page_bytes"
        record = _error(url, source, reason, json.dumps(row, default=str, sort_keys=True).encode())
    else:
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
    # a JSON "\ud800" escape gives a lone surrogate, which no UTF-8 output (cache, queue, store) can hold
    return _SURROGATE.sub("\ufffd", value if isinstance(value, str) else str(value))


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
            except (ValueError, RecursionError) as exc:  # RecursionError: nested thousands of levels deep
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


_CSV_FIELD_LIMIT = 1 << 30  # characters; csv's default (128 KB) is smaller than many pages


def read_csv(
    path: Path, settings: IngestSettings, stats: IngestStats, start: int = 0, stop: int | None = None
) -> Iterator[Record]:
    """One record per row; ``start``/``stop`` select rows by their position (after the header).

    A malformed row (a stray or unclosed quote, more fields than the header) is an error record of its
    own and the rows after it are read; missing trailing cells are empty, as pandas reads them.
    """
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            yield from _csv_records(path, csv.reader(handle, strict=True), settings, stats, start, stop)
    except (OSError, csv.Error) as exc:
        yield _error("", str(path), f"unreadable CSV: {exc}")


def _csv_records(
    path: Path, rows: Any, settings: IngestSettings, stats: IngestStats, start: int, stop: int | None
) -> Iterator[Record]:
    header = next(rows, None)
    if not header:
        yield _error("", str(path), "unreadable CSV: no header row")
        return
    row_number = 0
    while stop is None or row_number < stop:
        try:
            fields: list[str] | csv.Error = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:  # the reader goes on with the next line
            fields = exc
        if fields == []:
            continue  # a blank line
        row_number += 1
        if row_number <= start:
            continue
        stats.records["csv"] += 1
        yield _csv_record(path, row_number, header, fields, settings)


def _csv_record(
    path: Path, row_number: int, header: list[str], fields: list[str] | csv.Error, settings: IngestSettings
) -> Record:
    source = f"{path}:{row_number}"
    if isinstance(fields, csv.Error):
        problem = str(fields)
        if problem == "unexpected end of data":
            problem = "a quote opened in it never closes, so the rest of the file is inside it"
        return _error("", source, f"malformed CSV row: {problem} (row {row_number})", source.encode())
    if len(fields) > len(header):
        reason = f"malformed CSV row: {len(fields)} fields, the header has {len(header)} (row {row_number})"
        return _error("", source, reason, "\x1f".join(fields).encode())
    row: dict[str, str] = {}
    for name, cell in zip(header, fields + [""] * (len(header) - len(fields)), strict=True):
        row.setdefault(name, cell)  # a repeated column name: the first column has it, as pandas reads it
    return record_from_row(row, source, settings)


def read_parquet(
    path: Path, settings: IngestSettings, stats: IngestStats, start: int = 0, stop: int | None = None
) -> Iterator[Record]:
    """One record per row; ``start``/``stop`` select row groups by their position."""
    import pyarrow as pa
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
    except (OSError, ValueError, pa.ArrowException) as exc:  # e.g. a column type pyarrow cannot convert
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
