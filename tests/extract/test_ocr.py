"""Text in images with the real Tesseract and Debian's rus, kaz and eng data: a Russian price list and
Kazakh letters are read; hostile images (a decompression bomb, a truncated JPEG, a 50-megapixel PNG) each
end as an error with a reason while the good images beside them are read; the same picture is read once;
without the data OCR is off, said once, and every image says so.

Skipped when Tesseract's data is missing, but failed when CI is set: CI installs it (``.ci/run``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from PIL import Image

from classifier.common.config import DEFAULT_PARAMS, ExtractSettings
from classifier.common.faults import SLOW_ENV
from classifier.extract.ocr import OCR_OFF, ImageReader, ocr_status
from ocr_images import blank_png, decompression_bomb_png, require_ocr, text_image  # tests/ is on sys.path

PRICE_LINE = "Мефедрон 1г — 15000 тг"
KAZAKH_LINE = "Қазақстан, жаңа өнім, ақша, ұстаз, үй, ғалым, әке"
KAZAKH_LETTERS = set("әғқңөұүі")


@pytest.fixture(scope="module")
def settings() -> ExtractSettings:
    settings = ExtractSettings()
    require_ocr(settings)
    return settings


@pytest.fixture(scope="module")
def reader(settings: ExtractSettings) -> Iterator[ImageReader]:
    reader = ImageReader(settings)
    yield reader
    reader.close()


def test_a_russian_price_list_with_noise_rotation_and_jpeg_artefacts_is_read(reader: ImageReader) -> None:
    image = text_image([PRICE_LINE, "Гашиш 2г — 9000 тг, закладка"], rotation=2, noise=0.01, quality=40)
    result = reader.read_image(image, "price.jpg")
    text = result.text.lower()
    assert result.ok and result.name == "price.jpg", result
    assert "мефедрон" in text and "15000" in text and "гашиш" in text, result.text
    assert 0.5 < result.confidence <= 1
    assert (result.width, result.height) > (300, 80)


def test_kazakh_letters_come_out_with_the_kaz_data(reader: ImageReader) -> None:
    result = reader.read_image(text_image([KAZAKH_LINE]), "kk.jpg")
    assert result.ok, result
    assert set(result.text.lower()) >= KAZAKH_LETTERS, result.text
    assert "қазақстан" in result.text.lower()


def test_hostile_images_are_errors_with_reasons_and_the_good_ones_still_come_out(
    reader: ImageReader,
) -> None:
    price = text_image([PRICE_LINE], seed=1)
    kazakh = text_image([KAZAKH_LINE], seed=2)
    images = [
        ("bomb.png", decompression_bomb_png(40_000, 40_000)),  # Pillow's own limit
        ("price.jpg", price),
        ("half.jpg", price[: len(price) // 2]),
        ("big.png", blank_png(7100, 7100)),  # 50 megapixels: below Pillow's limit, above ours
        ("bigger.png", decompression_bomb_png(10_000, 10_000)),
        ("not-an-image.png", b"<html><body>no</body></html>"),
        ("empty.png", b""),
        ("kk.jpg", kazakh),
    ]
    # Pillow warns of sizes between its limit and twice it (bigger.png); ours has refused them already
    with pytest.warns(Image.DecompressionBombWarning):
        results = reader.read_page_images(images)
    assert [r.name for r in results] == [name for name, _ in images]
    by_name = {r.name: r for r in results}
    assert "too large: a decompression bomb" in by_name["bomb.png"].error
    assert by_name["half.jpg"].error.startswith("not a readable image: OSError: image file is truncated")
    assert by_name["big.png"].error.startswith("too large: 7100×7100 pixels")
    assert by_name["bigger.png"].error.startswith("too large: 10000×10000 pixels")
    assert by_name["not-an-image.png"].error.startswith("not a readable image: not one of JPEG")
    assert by_name["empty.png"].error == "not a readable image: no bytes"
    assert "мефедрон" in by_name["price.jpg"].text.lower()
    assert "қазақстан" in by_name["kk.jpg"].text.lower()
    assert all(r.text == "" for r in results if r.error)


def test_too_large_a_file_is_refused_unread(settings: ExtractSettings) -> None:
    image = text_image([PRICE_LINE])
    reader = ImageReader(dataclasses.replace(settings, ocr_max_bytes=len(image) - 1))
    result = reader.read_image(image, "price.jpg")
    assert result.error.startswith(f"too large: {len(image):,} bytes")
    assert reader.engine.recognitions == 0


def test_small_images_are_skipped_and_past_the_cap_the_rest_are_skipped(settings: ExtractSettings) -> None:
    reader = ImageReader(dataclasses.replace(settings, ocr_max_images_per_page=2))
    first, second, third = (text_image([f"Закладки {n}000 тг"], seed=n) for n in (1, 2, 3))
    icon = blank_png(16, 16)
    results = reader.read_page_images(
        [("icon.png", icon), ("1.jpg", first), ("1-again.jpg", first), ("2.jpg", second), ("3.jpg", third)]
    )
    assert [r.name for r in results] == ["icon.png", "1.jpg", "1-again.jpg", "2.jpg", "3.jpg"]
    assert results[0].error == "too small: 16×16 pixels (extract.ocr_min_side is 32)"
    assert all(r.ok and "закладки" in r.text.lower() for r in results[1:4]), results
    assert results[4].error == "skipped: more than 2 images on the page (extract.ocr_max_images_per_page)"
    assert reader.engine.recognitions == 2  # an icon and a repeat do not count towards the cap
    reader.close()


def test_an_image_past_the_time_limit_is_an_error_and_is_not_cached(
    settings: ExtractSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # slow by construction: setting the image takes 0.2 s of a 0.05 s limit, whatever the machine
    monkeypatch.setenv(SLOW_ENV, "ocr.recognise@slow=0.2")
    reader = ImageReader(dataclasses.replace(settings, ocr_timeout_seconds=0.05))
    image = text_image([PRICE_LINE] * 6)
    results = [reader.read_image(image, "slow.jpg") for _ in range(2)]
    assert all(r.error == "timed out: after 0.05 s (extract.ocr_timeout_seconds)" for r in results)
    assert reader.engine.recognitions == 2  # tried again: a busy machine is not the image's fault
    reader.close()


def test_threads_share_one_reader_each_with_its_own_tesseract(reader: ImageReader) -> None:
    images = [text_image([f"Мефедрон {n}г — {n}5000 тг"], seed=10 + n) for n in range(1, 5)]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(reader.read_image, images))
    assert [f"{n}5000" in r.text for n, r in enumerate(results, 1)] == [True] * 4, results


def test_the_same_bytes_are_read_once_in_the_process_and_from_the_disk_cache(
    settings: ExtractSettings, tmp_path: Path
) -> None:
    image = text_image([PRICE_LINE], seed=5)
    cache = tmp_path / "ocr_cache.sqlite"
    reader = ImageReader(settings, cache_path=cache)
    first = reader.read_image(image, "https://shop.example/a.jpg")
    again = reader.read_image(image, "https://mirror.example/b.jpg")
    assert reader.engine.recognitions == 1
    assert again.name == "https://mirror.example/b.jpg" and again.text == first.text and first.ok
    reader.close()
    later = ImageReader(settings, cache_path=cache)  # a new process: only the file remains
    assert later.read_image(image, "c.jpg").text == first.text
    assert later.engine.recognitions == 0
    changed = ImageReader(dataclasses.replace(settings, ocr_languages="rus"), cache_path=cache)
    assert "мефедрон" in changed.read_image(image).text.lower()
    assert changed.engine.recognitions == 1  # other settings never read a text cached under these
    for each in (later, changed):
        each.close()


def test_without_the_language_data_ocr_is_off_said_once_and_every_image_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "empty").mkdir()
    off = ExtractSettings(ocr_tessdata=str(tmp_path / "empty"))
    with caplog.at_level(logging.INFO, logger="classifier.extract.ocr"):
        readers = [ImageReader(off), ImageReader(off)]
        results = readers[0].read_page_images([("a.jpg", b"\xff\xd8 a picture"), ("b.png", b"junk")])
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and caplog.records[0].levelno == logging.WARNING, messages
    assert messages[0].startswith(f"{OCR_OFF}: no language data for rus, kaz, eng in {tmp_path / 'empty'}")
    assert "apt-get install tesseract-ocr-rus tesseract-ocr-kaz tesseract-ocr-eng" in messages[0]
    assert [r.name for r in results] == ["a.jpg", "b.png"]
    assert all(r.error.startswith(f"{OCR_OFF}: no language data") for r in results)
    assert readers[0].engine.recognitions == 0


def test_ocr_switched_off_by_the_setting_is_off_with_a_quiet_note(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="classifier.extract.ocr"):
        status = ocr_status(ExtractSettings(ocr=False))
    assert not status.available and status.reason == "extract.ocr is false"
    assert all(r.levelno == logging.INFO for r in caplog.records)  # once per process: maybe said before


def test_params_yaml_writes_the_ocr_defaults_of_config_py() -> None:
    written = yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))["extract"]
    defaults = dataclasses.asdict(ExtractSettings())
    ocr_keys = {key for key in defaults if key.startswith("ocr")}
    assert {key: written.get(key) for key in ocr_keys} == {key: defaults[key] for key in ocr_keys}
