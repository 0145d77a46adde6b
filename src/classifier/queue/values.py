"""Value conversions shared by the case store's modules: times in UTC, text PostgreSQL accepts, JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any


def utc(value: datetime | str | None) -> datetime | None:
    """An aware UTC datetime from an ISO string or datetime; naive values are taken as UTC.

    SQLite returns naive datetimes and PostgreSQL aware ones: everything is compared in aware UTC.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC)


def clean_text(value: Any) -> str:
    """A string PostgreSQL accepts: crawled pages can carry NUL characters, which ``text`` rejects."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text.replace("\x00", "") if "\x00" in text else text


def clean_images(images: Any) -> list[dict[str, Any]]:
    """A page's images as extraction lists them (number, URL, text, confidence, reason), with only
    those keys and text PostgreSQL accepts; anything else in the list is dropped."""
    kept = []
    for image in images if isinstance(images, list) else []:
        if isinstance(image, Mapping):
            kept.append(
                {
                    "n": to_int(image.get("n")),
                    "url": clean_text(image.get("url")),
                    "text": clean_text(image.get("text")),
                    "confidence": to_float(image.get("confidence")),
                    "error": clean_text(image.get("error")),
                }
            )
    return kept


def to_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    number = float(value)
    return None if number != number else number  # NaN is missing, and sorts badly


def to_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def public(row: Mapping[str, Any]) -> dict[str, Any]:
    """A result row as a plain dict, datetimes as ISO 8601 UTC strings (JSON-ready for the web app)."""
    out = dict(row)
    for name, value in out.items():
        if isinstance(value, datetime):
            out[name] = utc(value).isoformat()
    return out


def json_dumps(value: Any) -> str:
    """JSON columns as readable UTF-8 (Cyrillic stays Cyrillic); numpy numbers and the like as text.

    NUL characters come out escaped (``\\u0000``), which PostgreSQL's ``json`` type accepts.
    """
    return json.dumps(value, ensure_ascii=False, default=str)


IN_LIST_LIMIT = 5000  # values per IN list: under the drivers' bound-parameter limits (SQLite: 32,766)
