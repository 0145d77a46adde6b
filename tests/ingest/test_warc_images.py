"""The images a crawl archived (``ingest/warc_images.py``): indexed by URL from the records' headers,
then read by offset; a broken stretch of the archive hides no image after it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from classifier.common.config import IngestSettings
from classifier.ingest.records import IngestStats
from classifier.ingest.warc import warc_entries
from classifier.ingest.warc_images import (
    ArchivedImage,
    ImageUnavailable,
    archived_images,
    read_archived_image,
)
from warc_files import write_warc

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # the bytes are not decoded here (extract/images.py does)
JPEG = b"\xff\xd8\xff\xe0" + b"\x11" * 3000
PAGE = b"<html><body><img src='/menu.png'><p>\xd0\xbc\xd0\xb5\xd0\xbd\xd1\x8e</p></body></html>"


def crawl(tmp_path: Path, gzip: bool = True) -> Path:
    return write_warc(
        tmp_path / ("crawl.warc.gz" if gzip else "crawl.warc"),
        [
            ("https://shop.example/", PAGE, "text/html; charset=utf-8"),
            ("https://shop.example/menu.png", PNG, "image/png"),
            ("https://cdn.example/photo.jpg", JPEG, "IMAGE/JPEG; q=1"),
            ("https://shop.example/app.js", b"alert(1)", "application/javascript"),
            ("https://shop.example/menu.png", b"a second capture", "image/png"),
        ],
        gzip=gzip,
    )


@pytest.mark.parametrize("gzip", [True, False])
def test_the_image_responses_are_indexed_by_url_and_read_by_offset(tmp_path: Path, gzip: bool) -> None:
    path = crawl(tmp_path, gzip)
    index = archived_images(path, IngestSettings())
    assert sorted(index) == ["https://cdn.example/photo.jpg", "https://shop.example/menu.png"]
    assert index["https://cdn.example/photo.jpg"].mime == "image/jpeg"
    assert (
        read_archived_image(path, index["https://shop.example/menu.png"], 10_000) == PNG
    )  # the first capture
    assert read_archived_image(path, index["https://cdn.example/photo.jpg"], 10_000) == JPEG


def test_an_image_larger_than_allowed_or_not_where_the_index_says_is_unavailable(tmp_path: Path) -> None:
    path = crawl(tmp_path)
    image = archived_images(path, IngestSettings())["https://shop.example/menu.png"]
    with pytest.raises(ImageUnavailable, match="larger than 100 bytes"):
        read_archived_image(path, image, 100)
    with pytest.raises(ImageUnavailable, match=re.escape("no record of https://shop.example/other.png")):
        read_archived_image(
            path, ArchivedImage("https://shop.example/other.png", image.offset, "image/png"), 10_000
        )
    with pytest.raises(ImageUnavailable):
        read_archived_image(path, ArchivedImage(image.url, image.offset + 3, "image/png"), 10_000)


def test_images_after_a_broken_stretch_are_still_indexed(tmp_path: Path) -> None:
    data = crawl(tmp_path, gzip=False).read_bytes()
    cut = data.index(b"https://cdn.example/photo.jpg")  # junk in the middle of the archive's records
    broken = tmp_path / "broken.warc"
    broken.write_bytes(data[: cut - 200] + b"\x00garbage\x00" * 50 + data[cut - 200 :])
    entries = list(warc_entries(broken, IngestSettings(), IngestStats(), payloads=False))
    assert any(e.rec_type == "broken" for e in entries)  # the junk did break the archive there
    index = archived_images(broken, IngestSettings())
    assert "https://cdn.example/photo.jpg" in index
    assert read_archived_image(broken, index["https://cdn.example/photo.jpg"], 10_000) == JPEG
