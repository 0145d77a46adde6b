"""Inputs cut into partitions: the units of work the Dask engine hands to its workers.

A partition is a slice of one input that a worker reads by itself: a byte range of a WARC or a JSONL
file (starting at a record or a line), a range of rows of a CSV, of row groups of a Parquet file, or of
files of an HTML folder. Reading the partitions of the inputs in order yields exactly the records that
``ingest.iter_records`` yields, in the same order: that is what makes the distributed queue identical
to the local one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from classifier.common.config import IngestSettings
from classifier.ingest.html_files import html_files
from classifier.ingest.records import IngestStats, Record, error_record
from classifier.ingest.sources import input_format, read_input, unreadable_reason
from classifier.ingest.warc import warc_entries


@dataclass(frozen=True)
class Partition:
    path: str
    format: str  # an ingest format, or "error" for an input that is one error record
    start: int = 0  # byte offset (warc, jsonl), row (csv), row group (parquet), file (html)
    stop: int | None = None  # exclusive; None: to the end of the input
    first_line: int = 1  # jsonl: the number of the line at ``start``
    files: tuple[str, ...] = ()  # html: the partition's files, fixed when planned
    reason: str = ""  # error: why the input cannot be read


def plan_partitions(inputs: list[str], size: int) -> list[Partition]:
    """Partitions of about ``size`` records each, in input order."""
    if size < 1:
        raise ValueError(f"partition size must be at least 1, not {size}")
    parts: list[Partition] = []
    for raw in inputs:
        # kept as given, so that record sources read as in a local run; remote workers resolve relative
        # paths against their own directory: give them absolute ones (the README says so)
        path = Path(raw)
        reason = unreadable_reason(path)
        if reason is not None:
            parts.append(Partition(str(path), "error", reason=reason))
            continue
        parts.extend(_PLANNERS[input_format(path) or ""](path, size))
    return parts


def _ranges(path: Path, fmt: str, starts: list[int], **first: list[int]) -> list[Partition]:
    """Consecutive partitions from the start positions of each (the first is the input's start)."""
    bounds = [*starts[1:], None]
    return [
        Partition(str(path), fmt, start, stop, **{k: v[i] for k, v in first.items()})
        for i, (start, stop) in enumerate(zip(starts, bounds, strict=True))
    ]


def _plan_warc(path: Path, size: int) -> list[Partition]:
    """Cut before every ``size``-th response record. The records are those ``read_warc`` reads (payloads
    left unread): past a broken stretch reading resumes at a record start, and so may a partition."""
    starts, responses = [0], 0
    for entry in warc_entries(path, IngestSettings(), IngestStats(), payloads=False):
        if entry.rec_type == "response":
            if responses and responses % size == 0:
                starts.append(entry.offset)
            responses += 1
    return _ranges(path, "warc", starts)


def _plan_jsonl(path: Path, size: int) -> list[Partition]:
    starts, lines = [0], [1]
    with path.open("rb") as handle:
        offset = 0
        for number, line in enumerate(iter(handle.readline, b"")):
            if number and number % size == 0:
                starts.append(offset)
                lines.append(number + 1)
            offset += len(line)
    return _ranges(path, "jsonl", starts, first_line=lines)


def _plan_csv(path: Path, size: int) -> list[Partition]:
    """One partition per CSV file: rows cannot be found by offset (quoted newlines, blank lines), and a
    malformed row must end the file's reading as it does locally. Split large tables into files."""
    return [Partition(str(path), "csv")]


def _plan_parquet(path: Path, size: int) -> list[Partition]:
    import pyarrow.parquet as pq

    try:
        metadata = pq.ParquetFile(path).metadata
    except (OSError, ValueError):
        return [Partition(str(path), "parquet")]
    starts, rows = [0], 0
    for group in range(metadata.num_row_groups):
        if rows >= size:
            starts.append(group)
            rows = 0
        rows += metadata.row_group(group).num_rows
    return _ranges(path, "parquet", starts)


def _plan_html(path: Path, size: int) -> list[Partition]:
    files = [str(f) for f in html_files(path)]
    slices = [tuple(files[i : i + size]) for i in range(0, len(files), size)] or [()]
    return [Partition(str(path), "html", files=chunk) for chunk in slices]


_PLANNERS = {
    "warc": _plan_warc,
    "jsonl": _plan_jsonl,
    "csv": _plan_csv,
    "parquet": _plan_parquet,
    "html": _plan_html,
}


def read_partition(part: Partition, settings: IngestSettings, stats: IngestStats) -> Iterator[Record]:
    """The records of one partition, as ``iter_records`` yields them."""
    path = Path(part.path)
    if part.format == "error":
        yield error_record("", part.path, part.reason)
    elif not path.exists():  # planned on the driver, missing here: a worker without the shared disk
        raise FileNotFoundError(
            f"{path} is not readable on this worker: workers need the inputs at the same paths"
        )
    elif part.format == "html":
        for file in part.files:
            yield from read_input(Path(file), "html", settings, stats)
    else:
        yield from read_input(path, part.format, settings, stats, part.start, part.stop, part.first_line)
