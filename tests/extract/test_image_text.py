"""Text in a page's images through extraction (``extract/image_text.py``): images archived with the page
in a WARC (in any partition), inline ones, images next to saved pages; hostile images are entries with a
reason while the page and its other images come out; images outside a saved page's folder are refused;
with OCR off nothing is read and pages come out as before.

Skipped when Tesseract's data is missing, but failed when CI is set: CI installs it (``.ci/run``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest

from classifier.common.config import Settings
from classifier.extract.cache import settings_fingerprint
from classifier.extract.run import extract_documents, extract_to_file, reuse_documents
from classifier.ingest.records import IngestStats
from classifier.ingest.sources import iter_records, read_input
from classifier.ingest.warc import warc_entries
from ocr_images import blank_png, decompression_bomb_png, require_ocr, text_image  # tests/ is on sys.path
from warc_files import write_warc

OFFER = ["Мефедрон 1г — 15000 тг", "Закладки по городу", "Бот: @menu_bot_example"]
KAZAKH = ["Қазақстан, жаңа өнім, ақша, ұстаз, үй, ғалым, әке"]


@pytest.fixture()
def ocr_settings(settings: Settings) -> Settings:
    require_ocr(settings.extract)
    return settings


def _page(body: str, title: str = "Магазин") -> bytes:
    return f"<html><head><title>{title}</title></head><body>{body}</body></html>".encode()


def _documents(paths: list[Path], settings: Settings) -> list[dict]:
    return list(extract_documents(iter_records([str(p) for p in paths], settings.ingest), settings.extract))


def test_an_offer_only_in_an_archived_image_becomes_the_documents_image_text(
    ocr_settings: Settings, tmp_path: Path
) -> None:
    warc = write_warc(
        tmp_path / "crawl.warc.gz",
        [
            ("https://shop.example/p", _page('<p>🔥🔥🔥</p><img src="/photo/1.jpg" alt="">'), "text/html"),
            ("https://shop.example/photo/1.jpg", text_image(OFFER), "image/jpeg"),
        ],
    )
    (doc,) = _documents([warc], ocr_settings)
    assert doc["status"] == "ok" and doc["text"] == "🔥🔥🔥"
    assert "мефедрон" in doc["image_text"].lower() and "15000" in doc["image_text"], doc["image_text"]
    (image,) = doc["images"]
    assert (image["n"], image["url"], image["error"]) == (1, "https://shop.example/photo/1.jpg", "")
    assert image["text"] == doc["image_text"] and 0.5 < image["confidence"] <= 1
    # a poster names the shop's bot: contacts and language come from the image too
    assert doc["contacts"]["telegram"] == ["@menu_bot_example"] and doc["lang"] == "ru"


def test_an_image_archived_in_another_partition_is_read(ocr_settings: Settings, tmp_path: Path) -> None:
    pages = [
        (f"https://a.example/{i}", _page(f"<p>Новости дня номер {i}</p>"), "text/html") for i in range(3)
    ]
    warc = write_warc(
        tmp_path / "crawl.warc",
        [
            ("https://shop.example/p", _page('<img src="https://cdn.example/menu.png">'), "text/html"),
            *pages,
            ("https://cdn.example/menu.png", text_image(OFFER, fmt="PNG"), "image/png"),
        ],
        gzip=False,
    )
    entries = warc_entries(warc, ocr_settings.ingest, IngestStats(), payloads=False)
    second = next(entry.offset for entry in entries if entry.url == "https://a.example/0")
    first = list(read_input(warc, "warc", ocr_settings.ingest, IngestStats(), 0, second))  # the page only
    assert [r.url for r in first] == ["https://shop.example/p"]
    (doc,) = extract_documents(first, ocr_settings.extract)
    assert "Закладки" in doc["image_text"], doc["images"]


def test_hostile_images_are_entries_with_reasons_and_lose_nothing_else(
    ocr_settings: Settings, tmp_path: Path
) -> None:
    good = text_image(OFFER)
    images = {
        "bomb.png": decompression_bomb_png(40_000, 40_000),
        "half.jpg": good[: len(good) // 2],
        "big.png": blank_png(7100, 7100),  # 50 megapixels
        "menu.jpg": good,
        "tiny.png": blank_png(8, 8),
    }
    body = (
        "<p>Прайс ниже</p>" + "".join(f'<img src="/i/{name}">' for name in images) + '<img src="/i/gone.jpg">'
    )
    warc = write_warc(
        tmp_path / "crawl.warc.gz",
        [
            ("https://shop.example/p", _page(body), "text/html"),
            *[(f"https://shop.example/i/{name}", data, "image/png") for name, data in images.items()],
            ("https://news.example/a", _page("<p>Обычная новость о погоде</p>"), "text/html"),
        ],
    )
    doc, other = _documents([warc], ocr_settings)
    assert doc["status"] == "ok" and doc["text"] == "Прайс ниже" and other["status"] == "ok"
    by_url = {image["url"].rsplit("/", 1)[1]: image for image in doc["images"]}
    assert [image["n"] for image in doc["images"]] == [1, 2, 3, 4, 5, 6]
    assert by_url["bomb.png"]["error"].startswith("too large: a decompression bomb")
    assert by_url["half.jpg"]["error"].startswith("not a readable image")
    assert by_url["big.png"]["error"].startswith("too large: 7100×7100 pixels")
    assert by_url["tiny.png"]["error"].startswith("too small")
    assert by_url["gone.jpg"]["error"] == "not read: not in the archive (the crawl did not fetch it)"
    assert "Мефедрон" in by_url["menu.jpg"]["text"] and doc["image_text"] == by_url["menu.jpg"]["text"]


def test_an_inline_image_is_read_and_a_table_row_lists_no_images_it_cannot_hold(
    ocr_settings: Settings, tmp_path: Path
) -> None:
    inline = base64.b64encode(text_image(KAZAKH)).decode()
    html = _page(f'<img src="data:image/jpeg;base64,{inline}"><img src="https://cdn.example/x.jpg">', "")
    table = tmp_path / "reports.jsonl"
    table.write_text(json.dumps({"url": "https://kz.example/p", "html": html.decode()}) + "\n")
    (doc,) = _documents([table], ocr_settings)
    (image,) = doc["images"]  # the remote image: a table's row cannot hold it, so it is not listed
    assert image["url"] == "data:image/jpeg" and set("қңөұүғә") <= set(doc["image_text"]), doc["image_text"]
    assert doc["status"] == "ok" and doc["text"] == "" and doc["lang"] == "kk"


def test_a_saved_page_reads_its_images_from_its_folder_and_nothing_outside_it(
    ocr_settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "saved"
    (folder / "shop_files").mkdir(parents=True)
    (folder / "shop_files" / "menu.jpg").write_bytes(text_image(OFFER))
    (tmp_path / "secret.jpg").write_bytes(text_image(["не отсюда"]))
    body = '<img src="shop_files/menu.jpg"><img src="../secret.jpg"><img src="shop_files/none.png">'
    (folder / "shop.html").write_bytes(_page(body))
    (doc,) = _documents([folder], ocr_settings)
    errors = [image["error"] for image in doc["images"]]
    assert "Мефедрон" in doc["image_text"] and "отсюда" not in doc["image_text"]
    assert errors[1:] == ["not read: outside the input folder", errors[2]]
    assert errors[2].startswith("not read: not in the folder")


def test_with_ocr_off_no_image_is_read_and_an_image_only_page_has_no_text(
    ocr_settings: Settings, tmp_path: Path
) -> None:
    warc = write_warc(
        tmp_path / "crawl.warc.gz",
        [
            ("https://shop.example/p", _page('<img src="/1.jpg">', ""), "text/html"),
            ("https://shop.example/1.jpg", text_image(OFFER), "image/jpeg"),
        ],
    )
    on = _documents([warc], ocr_settings)[0]
    off_settings = replace(ocr_settings, extract=replace(ocr_settings.extract, ocr=False))
    off = _documents([warc], off_settings)[0]
    assert on["status"] == "ok" and "Мефедрон" in on["image_text"]
    assert (off["status"], off["error"], off["images"]) == ("error", "no text on the page", [])
    # cached documents are keyed by whether images are read: turning OCR on re-reads the pages
    assert settings_fingerprint(ocr_settings.extract) != settings_fingerprint(off_settings.extract)


def test_a_documents_table_keeps_the_images_and_the_summary_counts_them(
    ocr_settings: Settings, tmp_path: Path
) -> None:
    warc = write_warc(
        tmp_path / "crawl.warc.gz",
        [
            ("https://shop.example/p", _page('<img src="/1.jpg"><img src="/2.jpg">'), "text/html"),
            ("https://shop.example/1.jpg", text_image(OFFER), "image/jpeg"),
        ],
    )
    table = tmp_path / "documents.parquet"
    summary = extract_to_file([str(warc)], table, ocr_settings)
    assert summary["images"] == {"text read": 1, "not read": 1}
    reused = reuse_documents(table, [str(warc)], ocr_settings.extract)
    assert reused is not None
    images = reused.loc[0, "images"]
    assert [image["n"] for image in images] == [1, 2] and "Мефедрон" in reused.loc[0, "image_text"]


def test_a_page_whose_main_content_is_a_picture_is_not_read_as_its_footer(
    ocr_settings: Settings, tmp_path: Path
) -> None:
    """A short main text gives way to the page's full visible text (footers included), unless the
    page's pictures carry text: then they and the main text are the page's content."""
    footer = "ТОО «Магазин». Все права защищены. Политика конфиденциальности. " * 4
    body = f"<main><p>Прайс на фото</p>{{}}</main><footer><p>{footer}</p></footer>"
    warc = write_warc(
        tmp_path / "crawl.warc.gz",
        [
            ("https://shop.example/p", _page(body.format('<img src="/offer.jpg">')), "text/html"),
            ("https://shop.example/offer.jpg", text_image(OFFER * 4), "image/jpeg"),
            ("https://shop.example/q", _page(body.format("")), "text/html"),
        ],
    )
    for engine in ("trafilatura", "resiliparse"):
        settings = replace(ocr_settings, extract=replace(ocr_settings.extract, engine=engine))
        with_picture, without = _documents([warc], settings)
        assert "Закладки" in with_picture["image_text"], engine
        assert (with_picture["text"], with_picture["extractor"]) == ("Прайс на фото", engine)
        assert "Все права защищены" in without["text"] and without["extractor"] == "fulltext", engine
