"""The images a crawl archived, for OCR (issue 20): an index of a WARC's ``image/*`` responses by URL,
and reading one image by its offset.

A WARC is read in byte-range partitions, so a page and the images it shows may lie in different ones.
The index is built in one pass over the records' headers only (``warc.warc_entries`` without payloads:
broken stretches are passed over as reading the archive passes them), and an image is then read where
the index says it starts, whichever partition asks. :class:`ArchiveImages` is what a record read from
an archive carries: the archive's path, the index built on the first image asked for, once per process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from classifier.common.config import IngestSettings
from classifier.ingest.records import ImageUnavailable, IngestStats
from classifier.ingest.warc import warc_entries

__all__ = ["ArchiveImages", "ArchivedImage", "ImageUnavailable", "archived_images", "read_archived_image"]


@dataclass(frozen=True)
class ArchivedImage:
    url: str
    offset: int  # where its record starts in the archive
    mime: str


def archived_images(path: Path, settings: IngestSettings) -> dict[str, ArchivedImage]:
    """The archive's image responses by URL; a URL captured twice keeps its first capture, as pages do."""
    found: dict[str, ArchivedImage] = {}
    for entry in warc_entries(path, settings, IngestStats(), payloads=False):
        if entry.rec_type == "response" and entry.mime.startswith("image/") and entry.url:
            found.setdefault(entry.url, ArchivedImage(entry.url, entry.offset, entry.mime))
    return found


def read_archived_image(path: Path, image: ArchivedImage, max_bytes: int) -> bytes:
    """The bytes of ``image``, read from its offset; ImageUnavailable says why they cannot be."""
    from warcio.archiveiterator import ArchiveIterator

    with path.open("rb") as stream:
        stream.seek(image.offset)
        try:
            record = next(iter(ArchiveIterator(stream)), None)
            if record is None or record.rec_headers.get_header("WARC-Target-URI") != image.url:
                raise ImageUnavailable(f"no record of {image.url} at offset {image.offset}")
            data = record.content_stream().read(max_bytes + 1)
        except ImageUnavailable:
            raise
        except Exception as exc:  # warcio raises plain Exceptions on broken records
            raise ImageUnavailable(f"record at offset {image.offset} unreadable: {exc}") from exc
    if len(data) > max_bytes:
        raise ImageUnavailable(f"larger than {max_bytes} bytes")
    return data


_INDEXES: dict[tuple[str, int, int], dict[str, ArchivedImage]] = {}
_INDEX_LOCK = threading.Lock()
_KEPT_INDEXES = 4  # archives a process reads at a time; an index is about 200 bytes per image


@dataclass(frozen=True)
class ArchiveImages:
    """The images of one archive, as a record carries them: only the path travels to a worker."""

    path: Path
    settings: IngestSettings

    def fetch(self, url: str, max_bytes: int) -> bytes:
        image = self._index().get(url)
        if image is None:
            raise ImageUnavailable("not in the archive (the crawl did not fetch it)")
        return read_archived_image(self.path, image, max_bytes)

    def _index(self) -> dict[str, ArchivedImage]:
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise ImageUnavailable(f"the archive cannot be read: {exc}") from exc
        key = (str(self.path), stat.st_size, stat.st_mtime_ns)  # a rewritten archive is indexed again
        with _INDEX_LOCK:  # Dask workers may run partitions of one archive in threads
            index = _INDEXES.get(key)
            if index is None:
                index = archived_images(self.path, self.settings)
                if len(_INDEXES) >= _KEPT_INDEXES:
                    _INDEXES.pop(next(iter(_INDEXES)))
                _INDEXES[key] = index
        return index
