"""Tables the web app hands out as CSV files for a spreadsheet: the filtered queue and the audit log.

They are for people, not for training: every text cell is ``spreadsheet_safe`` (crawled text may start
with ``=HYPERLINK(``). The file starts with a UTF-8 byte-order mark and separates cells with ``;``,
because that is what Excel in a Russian locale opens as columns of Cyrillic text without an import dialog
(without the mark it reads the file as Windows-1251, and it splits on the locale's list separator, ``;``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

from fastapi.responses import StreamingResponse

from classifier.common.outputs import spreadsheet_safe

BYTE_ORDER_MARK = "\ufeff"
ROWS_PER_CHUNK = 500


def csv_download(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> StreamingResponse:
    """``rows`` under ``header`` as a CSV attachment named ``filename``, written as they are read."""
    disposition = f"attachment; filename=\"{filename.encode('ascii', 'replace').decode()}\"; filename*=UTF-8''{quote(filename)}"
    return StreamingResponse(
        _chunks(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )


def _chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write(BYTE_ORDER_MARK)
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow(["" if cell is None else spreadsheet_safe(cell) for cell in row])
        if n % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
