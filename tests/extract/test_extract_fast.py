"""The fast extraction mode (extract.engine: resiliparse) gives the same fields as the default mode."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from classifier.cli import main
from classifier.common.config import ExtractSettings, Settings
from classifier.extract.documents import extract_document
from classifier.extract.run import extract_documents
from classifier.ingest.records import Record, record_from_bytes
from classifier.ingest.sources import iter_records

ARTICLE = (
    "<p>" + "В Шымкенте открыли новый парк с фонтанами и велодорожками для жителей района. " * 6 + "</p>"
)


@pytest.fixture()
def fast(settings: Settings) -> Settings:
    return replace(settings, extract=replace(settings.extract, engine="resiliparse", cache=False))


def _record(html: str, settings: Settings, url: str = "https://site.example/page") -> Record:
    return record_from_bytes(html.encode("utf-8"), url=url, source="test", settings=settings.ingest)


def _docs(resources: Path, settings: Settings) -> dict[str, dict]:
    records = iter_records([resources], settings.ingest)
    return {Path(d["source"]).name: d for d in extract_documents(records, settings.extract)}


def test_every_fixture_gives_the_same_kind_of_document(
    resources: Path, fast: Settings, settings: Settings
) -> None:
    docs, default = _docs(resources, fast), _docs(resources, settings)
    assert set(docs) == set(default)
    for name, doc in docs.items():
        assert set(doc) == set(default[name])
        assert (doc["status"], doc["error"]) == (default[name]["status"], default[name]["error"]), name
    for name in ("cp1251_no_charset.html", "koi8r_no_charset.html", "koi8r_declared_cp1251.html"):
        assert "Абайском районе Шымкента" in docs[name]["text"] and docs[name]["lang"] == "ru"
    assert docs["kazakh_utf8.html"]["lang"] == "kk"
    assert docs["broken.html"]["contacts"]["phone"] == ["+77000000005"]


def test_telegram_preview_reads_every_message(resources: Path, fast: Settings) -> None:
    doc = _docs(resources, fast)["telegram_preview.html"]
    assert doc["extractor"] == "telegram"
    assert "Меф кристалл в наличии" in doc["text"]
    assert "@operator_shym_example" in doc["contacts"]["telegram"]
    assert doc["title"] == "Канал Example – Telegram"
    assert doc["description"] == "Описание канала"


def test_main_content_drops_the_menu_and_short_ads_keep_their_text(fast: Settings) -> None:
    article = f"<html><body><nav>Меню сайта</nav><article><h1>Парк</h1>{ARTICLE}</article></body></html>"
    doc = extract_document(_record(article, fast), fast.extract)
    assert (
        doc["extractor"] == "resiliparse" and "Меню сайта" not in doc["text"] and "фонтанами" in doc["text"]
    )
    ad = "<html><body><nav>Главная</nav><aside>🍁 Шишки АК-47 в наличии, пиши @green_example</aside></body></html>"
    doc = extract_document(_record(ad, fast), fast.extract)
    assert "Шишки АК-47 в наличии" in doc["text"]
    assert doc["contacts"]["telegram"] == ["@green_example"]


def test_links_are_absolute_and_scripts_are_not_text(fast: Settings) -> None:
    html = (
        f'<html><body>{ARTICLE}<script>var hidden = "закладки";</script>'
        '<a href="/contacts">к</a><a href="javascript:alert(1)">x</a><a href="https://t.me/shop_example">tg</a></body></html>'
    )
    doc = extract_document(_record(html, fast, url="https://site.example/a/b"), fast.extract)
    assert doc["links"] == ["https://site.example/contacts", "https://t.me/shop_example"]
    assert "hidden" not in doc["text"]


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match=r"extract\.engine must be one of"):
        ExtractSettings(engine="beautifulsoup")


def test_the_extractor_flag_chooses_the_mode(resources: Path, tmp_path: Path) -> None:
    out = tmp_path / "docs.jsonl"
    args = ["extract", str(resources), "--out", str(out), "--no-cache", "--jobs", "1"]
    assert main([*args, "--extractor", "resiliparse"]) == 0
    assert '"extractor": "resiliparse"' in out.read_text(encoding="utf-8")
    assert main(args) == 0
    assert '"extractor": "resiliparse"' not in out.read_text(encoding="utf-8")
