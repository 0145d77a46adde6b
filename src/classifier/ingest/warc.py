"""WARC / WARC.gz archives (and ARC): the HTML ``response`` records, streamed.

A broken stretch of an archive (a wrong ``Content-Length``, junk between records, a corrupt or cut-off
gzip member) becomes one error record, and reading goes on at the next record start after it, so
nothing after the break is lost.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifier.common.config import IngestSettings
from classifier.ingest.decoding import charset_from_content_type
from classifier.ingest.records import IngestStats, Record, error_record, record_from_bytes

log = logging.getLogger(__name__)
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
_TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")


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
    url: str = ""  # WARC-Target-URI
    mime: str = ""  # a response's Content-Type, without parameters, lower-case


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
                    yield WarcEntry(offset, warc_record.rec_type, record, *_described(warc_record))
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
    yield WarcEntry(offset, warc_record.rec_type, record, *_described(warc_record))
    # in a WARC.gz the bytes are inside the record's gzip member, which has no offset of its own
    junk_at = offset if gzipped else end
    problem = (
        f"unexpected bytes after the record at offset {offset} (junk, or its Content-Length is too small)"
    )
    yield WarcEntry(junk_at, "broken", _warc_error(path, junk_at, problem, after))


def _warc_error(path: Path, offset: int, problem: str, after: int | None, url: str = "") -> Record:
    source = f"{path}:{offset}"
    then = f"read on at the next record, offset {after}" if after is not None else "nothing readable after it"
    return error_record(url, source, f"broken WARC after offset {offset}: {problem}; {then}", source.encode())


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


def _content_type(warc_record: Any) -> str:
    """A response's Content-Type header as sent ("" when it has none)."""
    if warc_record.http_headers is None:
        return ""
    return warc_record.http_headers.get_header("Content-Type") or ""


def _described(warc_record: Any) -> tuple[str, str]:
    """The record's URL and, for a response, its type without parameters (``image/png``)."""
    url = warc_record.rec_headers.get_header("WARC-Target-URI") or ""
    mime = (
        _content_type(warc_record).split(";")[0].strip().lower() if warc_record.rec_type == "response" else ""
    )
    return url, mime


def _warc_response(warc_record: Any, settings: IngestSettings, stats: IngestStats) -> Record | None:
    """A record for an HTML or text response; None (counted as skipped) for images, scripts and such."""
    url = warc_record.rec_headers.get_header("WARC-Target-URI") or ""
    fetched_at = warc_record.rec_headers.get_header("WARC-Date")
    content_type = _content_type(warc_record)
    mime = content_type.split(";")[0].strip().lower()
    if mime not in _TEXT_TYPES:
        stats.skipped[f"mime:{mime}"] += 1
        return None
    try:
        payload = warc_record.content_stream().read(settings.max_page_bytes + 1)
    except Exception as exc:  # a corrupt gzip or chunked body
        return error_record(url, "", f"unreadable payload: {exc}")
    stats.records["warc"] += 1
    return record_from_bytes(
        payload,
        url=url,
        source="",
        settings=settings,
        declared_charset=charset_from_content_type(content_type),
        fetched_at=fetched_at,
    )
