"""Saved pages: an ``.html``/``.htm`` file or a folder of them, one record per file; the images a page
shows are read from the same folder (a browser's "save page" puts them in ``page_files/``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from classifier.common.config import IngestSettings
from classifier.ingest.records import ImageUnavailable, IngestStats, Record, error_record, record_from_bytes

HTML_SUFFIXES = (".html", ".htm", ".xhtml")


def html_files(path: Path) -> list[Path]:
    """The HTML files of a file or folder, in the order every reader uses."""
    return (
        [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix.lower() in HTML_SUFFIXES)
    )


@dataclass(frozen=True)
class FolderImages:
    """Images next to saved pages, by ``file:`` URL; nothing outside ``root`` is read, whatever a page
    names (``../../etc/passwd``, a symbolic link out of the folder)."""

    root: Path

    def fetch(self, url: str, max_bytes: int) -> bytes:
        parts = urlsplit(url)
        if parts.scheme != "file":
            raise ImageUnavailable("not in the folder (saved pages are read without the network)")
        file = Path(unquote(parts.path)).resolve()
        if not file.is_relative_to(self.root.resolve()):
            raise ImageUnavailable("outside the input folder")
        try:
            with file.open("rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise ImageUnavailable(f"not in the folder: {exc.strerror or exc}") from None
        if len(data) > max_bytes:
            raise ImageUnavailable(f"larger than {max_bytes} bytes")
        return data


def read_html_files(
    path: Path, settings: IngestSettings, stats: IngestStats, start: int = 0, stop: int | None = None
) -> Iterator[Record]:
    """The pages of an HTML file or folder; ``start``/``stop`` select files by their position."""
    images = FolderImages(path if path.is_dir() else path.parent)
    for file in html_files(path)[start:stop]:
        url = file.resolve().as_uri()
        try:
            with file.open("rb") as handle:
                payload = handle.read(settings.max_page_bytes + 1)
        except OSError as exc:
            yield error_record(url, str(file), f"unreadable file: {exc}")
            continue
        stats.records["html"] += 1
        yield record_from_bytes(payload, url=url, source=str(file), settings=settings, images=images)
