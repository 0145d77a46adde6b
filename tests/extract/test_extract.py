from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import classifier.extract.run as extract_run
from classifier.common.config import Settings
from classifier.extract.documents import extract_document
from classifier.extract.html import visible_text
from classifier.extract.run import extract_documents
from classifier.ingest.records import Record, record_from_bytes
from classifier.ingest.sources import iter_records

ARTICLE = (
    "<p>" + "В Шымкенте открыли новый парк с фонтанами и велодорожками для жителей района. " * 6 + "</p>"
)


def _record(html: str, settings: Settings, url: str = "https://site.example/page") -> Record:
    return record_from_bytes(html.encode("utf-8"), url=url, source="test", settings=settings.ingest)


def _docs(resources: Path, settings: Settings) -> dict[str, dict]:
    records = iter_records([resources], settings.ingest)
    return {Path(d["source"]).name: d for d in extract_documents(records, settings.extract)}


def test_every_fixture_gives_one_document(resources: Path, settings: Settings) -> None:
    docs = _docs(resources, settings)
    assert set(docs) == {p.name for p in resources.rglob("*.html")}  # hostile/ included
    for name in ("cp1251_no_charset.html", "koi8r_no_charset.html", "koi8r_declared_cp1251.html"):
        assert docs[name]["status"] == "ok"
        assert "Абайском районе Шымкента" in docs[name]["text"]
        assert docs[name]["lang"] == "ru"
    assert docs["kazakh_utf8.html"]["lang"] == "kk"
    assert "саябақ" in docs["kazakh_utf8.html"]["text"]


def test_hostile_fixtures_fail_cleanly(resources: Path, settings: Settings) -> None:
    docs = _docs(resources, settings)
    assert docs["empty.html"]["status"] == "error" and docs["empty.html"]["error"] == "empty page"
    assert docs["garbage.html"]["status"] == "error"
    assert docs["garbage.html"]["error"] == "binary content, not a text page"
    broken = docs["broken.html"]
    assert broken["status"] == "ok"
    assert "Продаю велосипед" in broken["text"]
    assert broken["contacts"]["phone"] == ["+77000000005"]


def test_telegram_preview(resources: Path, settings: Settings) -> None:
    doc = _docs(resources, settings)["telegram_preview.html"]
    assert doc["extractor"] == "telegram"
    assert "Меф кристалл в наличии" in doc["text"]
    assert "@operator_shym_example" in doc["contacts"]["telegram"]
    assert "@channel_example" in doc["contacts"]["telegram"]  # from the header link
    assert doc["title"] == "Канал Example – Telegram"
    assert doc["description"] == "Описание канала"


def test_short_ads_fall_back_to_visible_text(settings: Settings) -> None:
    html = (
        "<html><body><nav>Главная Каталог</nav><aside>🍁 Шишки АК-47 в наличии, пиши @green_example</aside>"
        "<footer>© 2025</footer></body></html>"
    )
    doc = extract_document(_record(html, settings), settings.extract)
    assert doc["extractor"] == "fulltext"
    assert "Шишки АК-47 в наличии" in doc["text"]
    assert doc["contacts"]["telegram"] == ["@green_example"]


def test_long_articles_use_trafilatura(settings: Settings) -> None:
    html = f"<html><body><nav>Меню сайта</nav><article><h1>Парк</h1>{ARTICLE}</article></body></html>"
    doc = extract_document(_record(html, settings), settings.extract)
    assert doc["extractor"] == "trafilatura"
    assert "Меню сайта" not in doc["text"]


def test_links_are_absolute(settings: Settings) -> None:
    html = f'<html><body>{ARTICLE}<a href="/contacts">к</a><a href="https://t.me/shop_example">tg</a></body></html>'
    doc = extract_document(_record(html, settings, url="https://site.example/a/b"), settings.extract)
    assert doc["links"] == ["https://site.example/contacts", "https://t.me/shop_example"]
    assert doc["contacts"]["telegram"] == ["@shop_example"]


def test_visible_text_keeps_the_tree(settings: Settings) -> None:
    from classifier.extract.html import parse_html

    tree = parse_html("<html><body><script>x()</script><p>один</p>два<div>три</div></body></html>")
    assert visible_text(tree) == "один\nдва\nтри"
    assert tree.find(".//script") is not None


def test_text_rows_need_no_html(settings: Settings) -> None:
    record = Record(id="r1", url="", source="t", text="Продаю гараж, звоните 87000000004", encoding="utf-8")
    doc = extract_document(record, settings.extract)
    assert (doc["status"], doc["extractor"], doc["contacts"]["phone"]) == ("ok", "text", ["+77000000004"])


def test_error_records_pass_through(settings: Settings) -> None:
    record = Record(id="r2", url="", source="t", status="error", error="input not found")
    assert extract_document(record, settings.extract)["error"] == "input not found"


def test_cache_means_no_work_the_second_time(
    resources: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache.sqlite"
    first = list(extract_documents(iter_records([resources], settings.ingest), settings.extract, cache))

    def refuse(*_args: object) -> None:
        raise AssertionError("extraction ran although every page is cached")

    monkeypatch.setattr(extract_run, "extract_document", refuse)
    second = list(extract_documents(iter_records([resources], settings.ingest), settings.extract, cache))
    assert second == first


def test_parallel_equals_serial(resources: Path, settings: Settings) -> None:
    parallel = replace(settings.extract, n_jobs=2, batch_size=2)
    serial_docs = list(extract_documents(iter_records([resources], settings.ingest), settings.extract))
    parallel_docs = list(extract_documents(iter_records([resources], settings.ingest), parallel))
    assert parallel_docs == serial_docs
