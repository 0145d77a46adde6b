"""JSONL / CSV / Parquet tables with a ``url`` column and an ``html`` or ``text`` column (``id``
optional), one record per row, streamed.

Each format is read as rows first (``table_rows``), which is also how labelled tables for training are
read (``modeling.datasets``): one reader per format, whatever the rows are for.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifier.common.config import IngestSettings
from classifier.common.surrogates import without_surrogates
from classifier.ingest.records import IngestStats, Record, domain_of, error_record, record_id

TABLE_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
}
_TABLE_BATCH = 1000
_CSV_FIELD_LIMIT = 1 << 30  # characters; csv's default (128 KB) is smaller than many pages


@dataclass(frozen=True)
class TableRow:
    """A row of a table where it was read (``path:row``), or why it could not be read.

    ``counted`` is False for a whole file that could not be read: no row of it was seen.
    """

    source: str
    row: dict[str, Any] | None
    error: str = ""
    raw: bytes = b""  # the unreadable bytes, so that the error record's id is stable
    counted: bool = True


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
        record = error_record(url, source, reason, json.dumps(row, default=str, sort_keys=True).encode())
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
    return without_surrogates(value if isinstance(value, str) else str(value))


def jsonl_rows(
    path: Path, start: int = 0, stop: int | None = None, first_line: int = 1
) -> Iterator[TableRow]:
    """One row per line; ``start``/``stop`` are byte offsets of line starts, ``first_line`` the
    number of the line at ``start``."""
    with path.open("rb") as handle:
        handle.seek(start)
        lines = iter(handle.readline, b"") if stop is None else _lines_until(handle, stop)
        for number, line in enumerate(lines, start=first_line):
            source = f"{path}:{number}"
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (ValueError, RecursionError) as exc:  # RecursionError: nested thousands of levels deep
                yield TableRow(source, None, f"invalid JSON on line {number}: {exc}", line)
                continue
            if not isinstance(row, dict):
                yield TableRow(source, None, f"line {number} is not a JSON object", line)
                continue
            yield TableRow(source, row)


def _lines_until(handle: Any, stop: int) -> Iterator[bytes]:
    while handle.tell() < stop:
        line = handle.readline()
        if not line:
            return
        yield line


def csv_rows(path: Path, start: int = 0, stop: int | None = None) -> Iterator[TableRow]:
    """One row per CSV row; ``start``/``stop`` select rows by their position (after the header).

    A malformed row (a stray or unclosed quote, more fields than the header) is an error of its own and
    the rows after it are read; missing trailing cells are empty, as pandas reads them.
    """
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    try:
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            yield from _csv_rows(path, csv.reader(handle, strict=True), start, stop)
    except (OSError, csv.Error) as exc:
        yield TableRow(str(path), None, f"unreadable CSV: {exc}", counted=False)


def _csv_rows(path: Path, rows: Any, start: int, stop: int | None) -> Iterator[TableRow]:
    header = next(rows, None)
    if not header:
        yield TableRow(str(path), None, "unreadable CSV: no header row", counted=False)
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
        if row_number > start:
            yield _csv_row(path, row_number, header, fields)


def _csv_row(path: Path, row_number: int, header: list[str], fields: list[str] | csv.Error) -> TableRow:
    source = f"{path}:{row_number}"
    if isinstance(fields, csv.Error):
        problem = str(fields)
        if problem == "unexpected end of data":
            problem = "a quote opened in it never closes, so the rest of the file is inside it"
        return TableRow(source, None, f"malformed CSV row: {problem} (row {row_number})", source.encode())
    if len(fields) > len(header):
        reason = f"malformed CSV row: {len(fields)} fields, the header has {len(header)} (row {row_number})"
        return TableRow(source, None, reason, "\x1f".join(fields).encode())
    row: dict[str, str] = {}
    for name, cell in zip(header, fields + [""] * (len(header) - len(fields)), strict=True):
        row.setdefault(name, cell)  # a repeated column name: the first column has it, as pandas reads it
    return TableRow(source, row)


def parquet_rows(path: Path, start: int = 0, stop: int | None = None) -> Iterator[TableRow]:
    """One row per Parquet row; ``start``/``stop`` select row groups by their position."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        groups = list(range(parquet.num_row_groups))[start:stop]
        row_number = sum(parquet.metadata.row_group(i).num_rows for i in range(start))
        for batch in parquet.iter_batches(batch_size=_TABLE_BATCH, row_groups=groups):
            for row in batch.to_pylist():
                row_number += 1
                yield TableRow(f"{path}:{row_number}", row)
    except (OSError, ValueError, pa.ArrowException) as exc:  # e.g. a column type pyarrow cannot convert
        yield TableRow(str(path), None, f"unreadable Parquet: {exc}", counted=False)


_ROWS = {"jsonl": jsonl_rows, "csv": csv_rows, "parquet": parquet_rows}


def table_rows(path: Path) -> Iterator[TableRow]:
    """The rows of a table, its format by its name (``TABLE_FORMATS``)."""
    fmt = next((f for suffix, f in TABLE_FORMATS.items() if path.name.lower().endswith(suffix)), None)
    if fmt is None:
        raise ValueError(f"{path}: a table must end in {', '.join(TABLE_FORMATS)}")
    return _ROWS[fmt](path)


def _records(
    rows: Iterator[TableRow], fmt: str, settings: IngestSettings, stats: IngestStats
) -> Iterator[Record]:
    for item in rows:
        stats.records[fmt] += item.counted
        if item.row is None:
            yield error_record("", item.source, item.error, item.raw)
        else:
            yield record_from_row(item.row, item.source, settings)


def read_jsonl(
    path: Path,
    settings: IngestSettings,
    stats: IngestStats,
    start: int = 0,
    stop: int | None = None,
    first_line: int = 1,
) -> Iterator[Record]:
    """One record per line of a JSONL file (``jsonl_rows``)."""
    return _records(jsonl_rows(path, start, stop, first_line), "jsonl", settings, stats)


def read_csv(
    path: Path, settings: IngestSettings, stats: IngestStats, start: int = 0, stop: int | None = None
) -> Iterator[Record]:
    """One record per row of a CSV file (``csv_rows``)."""
    return _records(csv_rows(path, start, stop), "csv", settings, stats)


def read_parquet(
    path: Path, settings: IngestSettings, stats: IngestStats, start: int = 0, stop: int | None = None
) -> Iterator[Record]:
    """One record per row of a Parquet file (``parquet_rows``)."""
    return _records(parquet_rows(path, start, stop), "parquet", settings, stats)
