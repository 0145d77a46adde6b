"""The lines of a bank import file (``classifier bank import``): read, checked, and their contacts normalised.

One resource a line, in CSV (a header row names the columns) or JSONL (one JSON object a line); what
each column holds is in ``classifier bank --help``. A line that cannot be imported gives its reason instead,
with its line number, so that none is lost silently (``bank_import`` reports both).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from classifier.common.surrogates import without_surrogates
from classifier.queue.schema import CATEGORIES
from classifier.queue.values import clean_text, now, utc
from classifier.text.contacts import CONTACT_FIELDS, PATTERNS, find_contacts
from classifier.text.identifiers import phone_number, telegram_name

IMPORT_DECISIONS = ("confirmed", "rejected")
IMPORT_COLUMNS = ("url", "text", "handles", "wallets", "phones", "decision", "date", "category")
REQUIRED_COLUMNS = ("url", "decision", "date")
IMPORT_FORMATS = (".csv", ".jsonl", ".ndjson")
# what the errors say is expected; `classifier bank --help` (cli/arguments.py) says it at length
EXPECTED = (
    "the columns are url, decision (confirmed or rejected) and date (2024-03-01), and optionally handles,"
    " wallets, phones, text and category (sale, recruitment or propaganda): see classifier bank --help"
)
_SEPARATORS = re.compile(r"[\s,;]+")
_PHONE_SEPARATORS = re.compile(r"\s*[,;]\s*")  # a phone is written with spaces: "+7 700 000 00 01"
_MAX_FUTURE = timedelta(days=1)  # time zones: "today" somewhere is tomorrow in UTC


@dataclass
class ImportLine:
    """One line of an import file, checked: what becomes a case, its bank keys and its decision."""

    line: int  # where it starts in the file (1 is the first line, a CSV file's header)
    url: str
    decision: str
    date: datetime
    text: str = ""
    category: str | None = None
    contacts: dict[str, list[str]] = field(default_factory=dict)

    @property
    def host_url(self) -> str:
        """The URL with a host urlsplit can read: ``shop.example/x`` is read as ``//shop.example/x``."""
        return self.url if "//" in self.url else f"//{self.url}"


def read_lines(
    path: Path, max_text_chars: int, content: bytes | None = None
) -> Iterator[tuple[int, ImportLine | str]]:
    """(line number, the checked line or why it cannot be imported) for every line of the file (whose
    bytes are ``content`` when given).

    A file that cannot be read as a whole (its kind, its encoding, a CSV header without the required
    columns) raises :class:`ValueError` before any line is given.
    """
    kind = path.suffix.lower()
    if kind not in IMPORT_FORMATS:
        raise ValueError(
            f"{path}: a bank import is .csv or .jsonl, not {kind or 'a file without suffix'}; {EXPECTED}"
        )
    text = _decoded(path, path.read_bytes() if content is None else content)
    raw = _csv_rows(path, text) if kind == ".csv" else _jsonl_rows(text)
    for number, row in raw:
        if isinstance(row, str):
            yield number, row
            continue
        try:
            yield number, parse_line(number, row, max_text_chars)
        except ValueError as exc:
            yield number, str(exc)


def _decoded(path: Path, content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc


def _csv_rows(path: Path, text: str) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    unknown = [name for name in header if name not in IMPORT_COLUMNS]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if unknown or missing or len(set(header)) < len(header):
        problem = (
            f"unknown columns {', '.join(map(repr, unknown))}"
            if unknown
            else f"no column {', '.join(missing)}"
            if missing
            else "a column named twice"
        )
        raise ValueError(f"{path}: {problem} in the header row; {EXPECTED}")
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as exc:  # the rest of the file cannot be split into cells: nothing is imported
            raise ValueError(f"{path}: line {start}: {exc}") from exc
        if cells is None:
            return
        number, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue  # an empty row is no resource
        if len(cells) > len(header):
            yield number, f"{len(cells)} cells but {len(header)} columns (a value with a comma needs quotes)"
        else:
            yield number, dict(zip(header, cells, strict=False))


def _jsonl_rows(text: str) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    for number, written in enumerate(text.split("\n"), start=1):
        if not written.strip():
            continue
        try:
            row = json.loads(written)
        except json.JSONDecodeError as exc:
            yield number, f"not JSON: {exc.msg} (column {exc.colno})"
            continue
        if not isinstance(row, dict):
            yield number, f"a JSON object is expected, not {type(row).__name__}"
            continue
        unknown = [name for name in row if name not in IMPORT_COLUMNS]
        if unknown:
            yield number, f"unknown field {unknown[0]!r}: {EXPECTED}"
        else:
            yield number, row


def parse_line(number: int, row: Mapping[str, Any], max_text_chars: int) -> ImportLine:
    """A checked line; :class:`ValueError` says what is wrong with it."""
    url = _scalar(row, "url").strip()
    if not url:
        raise ValueError("no url")
    if any(c.isspace() for c in url):
        raise ValueError(f"url {url!r} contains spaces")
    line = ImportLine(number, url, _decision(row), _date(row))
    try:
        host = urlsplit(line.host_url).hostname
    except ValueError:
        host = None
    if not host:
        raise ValueError(f"url {url!r} names no host")
    category = _scalar(row, "category").strip().lower() or None
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"category must be one of {', '.join(CATEGORIES)}, not {category!r}")
    if category is not None and line.decision != "confirmed":
        raise ValueError("a category names a confirmed violation, and this line is rejected")
    line.category = category
    line.text = clean_text(without_surrogates(_scalar(row, "text")))[:max_text_chars].strip()
    line.contacts = _contacts(row, line.text)
    return line


def _scalar(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    if value is None:
        return ""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"{name} must be text, not {type(value).__name__}")


def _decision(row: Mapping[str, Any]) -> str:
    decision = _scalar(row, "decision").strip().lower()
    if decision not in IMPORT_DECISIONS:
        raise ValueError(f"decision must be {' or '.join(IMPORT_DECISIONS)}, not {decision!r}")
    return decision


def _date(row: Mapping[str, Any]) -> datetime:
    written = _scalar(row, "date").strip()
    date = utc(written)
    if date is None and written:
        try:
            date = utc(datetime.strptime(written, "%d.%m.%Y"))
        except ValueError:
            date = None
    if date is None:
        raise ValueError(f"date must be like 2024-03-01 or 01.03.2024, not {written!r}")
    if date > now() + _MAX_FUTURE:
        raise ValueError(f"date {written!r} is in the future")
    return date


def _values(row: Mapping[str, Any], name: str, separators: re.Pattern[str] = _SEPARATORS) -> list[str]:
    """A column of several values: a list (JSONL), or text separated by spaces, commas or semicolons
    (phones: commas or semicolons)."""
    value = row.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, list):
        if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in value):
            raise ValueError(f"{name} must be a list of text")
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in separators.split(_scalar(row, name)) if v.strip()]


def _contacts(row: Mapping[str, Any], text: str) -> dict[str, list[str]]:
    """The contacts the text gives (as extraction finds them), then the listed ones, normalised the same
    way; a listed value that is no handle, wallet or phone is an error."""
    found = find_contacts([text]) if text else {}
    given: dict[str, list[str]] = {"telegram": [], "wallet": [], "phone": []}
    for value in _values(row, "handles"):
        name = telegram_name(value)
        if name is None:
            raise ValueError(f"handle {value!r} is not a Telegram name or link")
        given["telegram"].append(name)
    for value in _values(row, "wallets"):
        if not PATTERNS["wallet"].fullmatch(value):
            raise ValueError(f"wallet {value!r} is not a bitcoin, tron or ethereum address")
        given["wallet"].append(value)
    for value in _values(row, "phones", _PHONE_SEPARATORS):
        phone = phone_number(value)
        if phone is None:
            raise ValueError(f"phone {value!r} has too few digits")
        given["phone"].append(phone)
    merged = {
        kind: list(dict.fromkeys([*found.get(kind, []), *given.get(kind, [])])) for kind in CONTACT_FIELDS
    }
    return {kind: values for kind, values in merged.items() if values}
