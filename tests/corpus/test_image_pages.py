"""Image pages of the demo corpus (issue 20): text blocks only in a picture, on both labels."""

from __future__ import annotations

import html
import io
import json
import random
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from warcio.archiveiterator import ArchiveIterator

from classifier.common.config import CorpusSettings, ExtractSettings
from classifier.corpus import build, image_pages, pages
from classifier.corpus.build import generate_corpus
from classifier.corpus.pages import FamilyIndex, Page, iter_pages
from classifier.corpus.templates import load_families
from classifier.extract.ocr import ImageReader
from ocr_images import require_ocr  # tests/ is on sys.path

FAMILIES = FamilyIndex(load_families())
MANY = replace(CorpusSettings(), image_share=0.3, mirror_share=0.5)  # many image pages and mirrors
# absolute picture URLs on a page; markup damage may have dropped an attribute's quotes (src=https://…)
SHOWN = re.compile(r"""(?:src="?|url\(')(https://[^"'\s>]+\.jpg)""")
KAZAKH = set("әғқңөұүһі")
FONT_MISSING = "no font (test)"


def _stub_pictures(blocks, rng):  # a fast stand-in where only the decision matters, not the pixels
    return (b"jpeg:" + "|".join(blocks).encode()[:40] + rng.getrandbits(16).to_bytes(2, "big"),)


@pytest.fixture(scope="module")
def many_pages() -> list[tuple[Page, int | None]]:
    return list(iter_pages(MANY, n=120, seed=5, families=FAMILIES))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    generate_corpus(folder, MANY, n=80, seed=5)
    return folder


def _responses(folder: Path) -> list[tuple[str, str, bytes]]:
    """(URL, content type, payload) of every response record, in WARC order."""
    with (folder / "pages.warc.gz").open("rb") as stream:
        return [
            (
                r.rec_headers.get_header("WARC-Target-URI"),
                r.http_headers.get_header("Content-Type"),
                r.content_stream().read(),
            )
            for r in ArchiveIterator(stream)
            if r.rec_type == "response"
        ]


def test_same_seed_same_corpus(corpus: Path, tmp_path: Path) -> None:
    generate_corpus(tmp_path, MANY, n=80, seed=5)
    assert (tmp_path / "labels.csv").read_bytes() == (corpus / "labels.csv").read_bytes()
    assert _responses(tmp_path) == _responses(corpus)  # the pictures' bytes included


def test_image_pages_show_pictures_not_their_blocks(many_pages: list[tuple[Page, int | None]]) -> None:
    shown = [p for p, _ in many_pages if p.labels["in_image"]]
    assert len(shown) >= 20 and {p.labels["label"] for p in shown} == {0, 1}
    assert any(o is not None for p, o in many_pages if p.labels["in_image"])  # mirrors of image pages
    for page, origin in many_pages:
        if not page.labels["in_image"]:
            continue
        text = html.unescape(page.html)
        assert "imageslot" not in text and page.images
        pictured = page.blocks if origin is None else many_pages[origin][0].blocks  # not a mirror's note
        lines = [line.strip() for b in pictured for line in b.split("\n") if len(line.strip()) >= 12]
        assert not [line for line in lines if line in text], page.url
        if page.labels["layout"] != "bare":  # a bare page may have no title at all
            assert page.labels["title"] in text or page.labels["malformed"]
        for url, picture in page.images:
            assert url in page.html and picture.startswith(b"\xff\xd8")  # a JPEG, shown on the page
            host = re.sub(r"^https://", "", url).split("/")[0]
            assert host.endswith(".example") or host.endswith(".invalid"), url
    assert all(not p.images for p, _ in many_pages if not p.labels["in_image"])


def test_mirrors_repost_the_same_pictures(many_pages: list[tuple[Page, int | None]]) -> None:
    pairs = [(many_pages[o][0], p) for p, o in many_pages if o is not None and p.labels["in_image"]]
    assert pairs
    for original, mirror in pairs:
        assert [b for _, b in mirror.images] == [b for _, b in original.images]
        assert not {u for u, _ in mirror.images} & {u for u, _ in original.images}


def test_the_warc_holds_one_picture_per_url_shown(corpus: Path) -> None:
    records = _responses(corpus)
    labels = pd.read_csv(corpus / "labels.csv", dtype=str, keep_default_na=False)
    assert set(labels["in_image"]) == {"0", "1"}
    pictures = [(u, body) for u, kind, body in records if kind == "image/jpeg" and not u.endswith("logo.jpg")]
    counted = {u: sum(1 for v, _ in pictures if v == u) for u, _ in pictures}
    position = {u: i for i, (u, _, _) in enumerate(records)}
    shown_total = 0
    for url in labels.loc[labels["in_image"] == "1", "url"]:
        page_html = records[position[url]][2].decode("utf-8", errors="replace")
        shown = SHOWN.findall(page_html)
        assert shown, url
        shown_total += len(shown)
        for i, picture in enumerate(shown, start=1):  # right after the page's own response, in page order
            assert counted.get(picture) == 1 and records[position[url] + i][0] == picture
            assert Image.open(io.BytesIO(records[position[url] + i][2])).format == "JPEG"
    assert shown_total == len(pictures)
    summary = json.loads((corpus / "summary.json").read_text(encoding="utf-8"))
    assert summary["image_pages"] == int((labels["in_image"] == "1").sum())


def test_image_pages_come_at_image_share_on_both_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "render_pictures", _stub_pictures)
    settings = replace(CorpusSettings(), mirror_share=0.0)
    labelled = [(p.labels["label"], p.labels["in_image"]) for p, _ in iter_pages(settings, 1600, 9, FAMILIES)]
    for label in (0, 1):
        flags = [flag for lb, flag in labelled if lb == label]
        assert abs(sum(flags) / len(flags) - settings.image_share) < 0.025, (label, sum(flags), len(flags))


def test_other_pages_stay_as_they_were(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "render_pictures", _stub_pictures)
    plain = list(iter_pages(replace(MANY, image_share=0.0), 150, 4, FAMILIES))
    mixed = list(iter_pages(MANY, 150, 4, FAMILIES))
    assert [o for _, o in plain] == [o for _, o in mixed]
    kept = [(a, b) for (a, _), (b, _) in zip(plain, mixed, strict=True) if not b.labels["in_image"]]
    assert 60 < len(kept) < 140
    assert all(a.html == b.html and a.labels == b.labels and a.blocks == b.blocks for a, b in kept)


def test_without_the_font_pages_stay_text(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(pages, "font_problem", lambda: FONT_MISSING)
    monkeypatch.setattr(build, "font_problem", lambda: FONT_MISSING)
    summary = generate_corpus(tmp_path, MANY, n=30, seed=5)
    assert summary["image_pages"] == 0 and summary["image_pages_off"] == FONT_MISSING


def test_pictures_are_deterministic_and_drop_what_the_font_lacks() -> None:
    blocks = ["🔥 Бал сатамыз ✅\nБағасы 3000 ₸", "Жеткізу 🚚 тегін"]
    assert image_pages.printable(blocks[0]) == "Бал сатамыз\nБағасы 3000 ₸"
    first = image_pages.render_pictures(blocks, random.Random(3))
    assert first == image_pages.render_pictures(blocks, random.Random(3))
    assert first != image_pages.render_pictures(blocks, random.Random(4))


def test_kazakh_letters_survive_the_picture_and_ocr() -> None:
    settings = ExtractSettings()
    require_ocr(settings)
    text = (
        "Қымбатты достар, жаңа өнімдер келді! Ұлттық тағамдар, үй нанын және ірімшік сатамыз. "
        "Өскемен, Шығыс Қазақстан облысы. Тапсырыс үшін хабарласыңыз: @honey_shop_example"
    )
    pictures = image_pages.render_pictures([text], random.Random(1))
    reader = ImageReader(settings)
    try:
        read = "\n".join(reader.read_image(p, "kk.jpg").text for p in pictures)
    finally:
        reader.close()
    words = [w for w in re.findall(r"\w+", text) if set(w.lower()) & KAZAKH]
    found = [w for w in words if w in re.findall(r"\w+", read)]
    assert len(found) >= 0.8 * len(words), read
    assert KAZAKH - {"һ", "ә"} <= set(read.lower()), read  # қ ң ө ұ ү і ғ read back, not К Н О У
