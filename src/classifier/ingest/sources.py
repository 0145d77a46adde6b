"""Read crawl outputs into records: one record per input record, decoded, or an error with its reason.

An input is a file or folder in one of the formats of this package (``input_format`` tells which);
everything is streamed, so memory does not grow with the input. ``read_input`` reads one input, or a
slice of it (a partition of the Dask engine, ``ingest.partitions``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from classifier.common.config import IngestSettings
from classifier.ingest.html_files import HTML_SUFFIXES, read_html_files
from classifier.ingest.records import IngestStats, Record, error_record
from classifier.ingest.tables import TABLE_FORMATS, read_csv, read_jsonl, read_parquet
from classifier.ingest.warc import WARC_SUFFIXES, read_warc
from classifier.ingest.warc_images import ArchiveImages

_READERS = {
    "warc": read_warc,
    "html": read_html_files,
    "jsonl": read_jsonl,
    "csv": read_csv,
    "parquet": read_parquet,
}


def input_format(path: Path) -> str | None:
    """The format of an input by its name ("warc", "html", "jsonl", "csv", "parquet"), or None."""
    name = path.name.lower()
    if path.is_dir() or name.endswith(HTML_SUFFIXES):
        return "html"
    if name.endswith(WARC_SUFFIXES):
        return "warc"
    return next((fmt for suffix, fmt in TABLE_FORMATS.items() if name.endswith(suffix)), None)


def unreadable_reason(path: Path) -> str | None:
    """Why an input cannot be read at all (missing, or in no known format), or None."""
    if not path.exists():
        return "input not found"
    if input_format(path) is None:
        return f"unsupported input format: {path.name}"
    return None


def read_input(
    path: Path,
    fmt: str,
    settings: IngestSettings,
    stats: IngestStats,
    start: int = 0,
    stop: int | None = None,
    first_line: int = 1,
) -> Iterator[Record]:
    """The records of one input in format ``fmt``; ``start``/``stop`` select a slice, in the format's
    own unit (byte offset for WARC and JSONL, row for CSV, row group for Parquet, file for HTML)."""
    if fmt == "jsonl":
        return read_jsonl(path, settings, stats, start, stop, first_line)
    if fmt == "warc":
        return _with_images(read_warc(path, settings, stats, start, stop), ArchiveImages(path, settings))
    return _READERS[fmt](path, settings, stats, start, stop)


def _with_images(records: Iterator[Record], images: ArchiveImages) -> Iterator[Record]:
    """An archive's pages, each able to read the images the crawl archived with it (for OCR)."""
    for record in records:
        if record.status == "ok":
            record.images = images
        yield record


def iter_records(
    paths: Iterable[Path | str], settings: IngestSettings, stats: IngestStats | None = None
) -> Iterator[Record]:
    """Every record of every input, in input order; unreadable inputs become error records."""
    stats = stats if stats is not None else IngestStats()
    for raw_path in paths:
        path = Path(raw_path)
        reason = unreadable_reason(path)
        if reason is not None:
            yield error_record("", str(path), reason)
            continue
        yield from read_input(path, input_format(path) or "", settings, stats)
