"""Saved pages: an ``.html``/``.htm`` file or a folder of them, one record per file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from classifier.common.config import IngestSettings
from classifier.ingest.records import IngestStats, Record, error_record, record_from_bytes

HTML_SUFFIXES = (".html", ".htm", ".xhtml")


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
            yield error_record(url, str(file), f"unreadable file: {exc}")
            continue
        stats.records["html"] += 1
        yield record_from_bytes(payload, url=url, source=str(file), settings=settings)
