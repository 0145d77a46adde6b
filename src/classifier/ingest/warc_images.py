"""The images a crawl archived, for OCR (issue 20): an index of a WARC's ``image/*`` responses by URL,
and reading one image by its offset.

A WARC is read in byte-range partitions, so a page and the images it shows may lie in different ones.
The index is built in one pass over the records' headers only (``warc.warc_entries`` without payloads:
broken stretches are passed over as reading the archive passes them), and an image is then read where
the index says it starts, whichever partition asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from classifier.common.config import IngestSettings
from classifier.ingest.records import IngestStats
from classifier.ingest.warc import warc_entries


@dataclass(frozen=True)
class ArchivedImage:
    url: str
    offset: int  # where its record starts in the archive
    mime: str


class ImageUnavailable(Exception):
    """An indexed image that cannot be read: its record changed, broke, or is larger than allowed."""


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
