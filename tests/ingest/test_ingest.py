from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from classifier.common.config import Settings
from classifier.ingest.records import IngestStats, record_id
from classifier.ingest.sources import iter_records
from warc_files import write_warc

RU = "<html><body><p>Продаю велосипед в Алматы, почти новый, недорого.</p></body></html>"


def test_warc_records_decoded_and_others_counted(tmp_path: Path, settings: Settings) -> None:
    warc = write_warc(
        tmp_path / "crawl.warc.gz",
        [
            ("https://a.example/1", RU.encode("windows-1251"), "text/html"),
            ("https://b.example/2", RU.encode("koi8-r"), "text/html; charset=koi8-r"),
            ("https://c.example/logo.png", b"\x89PNG\r\n", "image/png"),
            ("https://d.example/3", RU.encode("utf-8"), "text/html; charset=utf-8"),
        ],
    )
    stats = IngestStats()
    records = list(iter_records([warc], settings.ingest, stats))
    assert [r.url for r in records] == ["https://a.example/1", "https://b.example/2", "https://d.example/3"]
    assert all(r.html == RU and r.status == "ok" for r in records)
    assert [r.encoding for r in records] == ["windows-1251", "koi8-r", "utf-8"]
    assert stats.skipped == {"warc:warcinfo": 1, "warc:request": 4, "mime:image/png": 1}
    assert records[0].id == record_id("https://a.example/1", RU.encode("windows-1251"))
    assert records[0].domain == "a.example"
    assert records[0].source.startswith(str(warc))


def test_uncompressed_warc(tmp_path: Path, settings: Settings) -> None:
    warc = write_warc(tmp_path / "crawl.warc", [("https://a.example/", RU.encode(), "text/html")], gzip=False)
    assert [r.html for r in iter_records([warc], settings.ingest)] == [RU]


def test_truncated_warc_gives_an_error_row(tmp_path: Path, settings: Settings) -> None:
    pages = [(f"https://a.example/{i}", (RU * 50).encode(), "text/html") for i in range(5)]
    warc = write_warc(tmp_path / "crawl.warc.gz", pages)
    data = warc.read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: int(len(data) * 0.7)])
    records = list(iter_records([cut], settings.ingest))
    assert records[-1].status == "error"
    assert "broken WARC" in (records[-1].error or "")
    assert all(r.status == "ok" for r in records[:-1])


def test_oversized_page_is_truncated_and_flagged(tmp_path: Path, settings: Settings) -> None:
    from dataclasses import replace

    small = replace(settings.ingest, max_page_bytes=200)
    page = tmp_path / "big.html"
    page.write_bytes(RU.encode() * 10)
    (record,) = iter_records([page], small)
    assert record.truncated and len(record.html.encode()) <= 200


def test_html_folder(resources: Path, settings: Settings) -> None:
    records = list(iter_records([resources], settings.ingest))
    by_name = {Path(r.source).name: r for r in records}
    assert "Шымкент" in by_name["cp1251_no_charset.html"].html
    assert "Шымкент" in by_name["koi8r_no_charset.html"].html
    assert "Шымкент" in by_name["koi8r_declared_cp1251.html"].html
    assert "Қазақ" not in by_name["kazakh_utf8.html"].html  # the page says "Шымкентте", not this
    assert "саябақ" in by_name["kazakh_utf8.html"].html
    assert by_name["empty.html"].status == "error" and by_name["empty.html"].error == "empty page"
    assert by_name["cp1251_no_charset.html"].url.startswith("file://")


def test_jsonl_with_broken_line(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "reports.jsonl"
    path.write_text(
        json.dumps({"url": "https://a.example/", "text": "Продаю гараж"}, ensure_ascii=False)
        + "\n{not json\n"
        + json.dumps({"id": "given-7", "url": "https://b.example/", "html": RU}, ensure_ascii=False)
        + "\n\n"
        + json.dumps(["not", "an", "object"])
        + "\n",
        encoding="utf-8",
    )
    records = list(iter_records([path], settings.ingest))
    assert [r.status for r in records] == ["ok", "error", "ok", "error"]
    assert records[0].text == "Продаю гараж" and records[0].html is None
    assert "invalid JSON on line 2" in records[1].error
    assert records[2].id == "given-7" and records[2].html == RU


def test_csv_without_html_column(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "reports.csv"
    pd.DataFrame({"url": ["https://a.example/", "https://b.example/"], "body": ["x", "y"]}).to_csv(
        path, index=False
    )
    records = list(iter_records([path], settings.ingest))
    assert len(records) == 2
    assert all(r.status == "error" and "no 'html' or 'text' column" in r.error for r in records)
    assert records[0].id != records[1].id


def test_parquet_and_csv_rows(tmp_path: Path, settings: Settings) -> None:
    frame = pd.DataFrame(
        {"url": ["https://a.example/", "https://b.example/"], "html": [RU, ""], "text": ["", "текст"]}
    )
    frame.to_parquet(tmp_path / "t.parquet")
    frame.to_csv(tmp_path / "t.csv", index=False)
    for name in ("t.parquet", "t.csv"):
        records = list(iter_records([tmp_path / name], settings.ingest))
        assert [(r.html, r.text) for r in records] == [(RU, None), (None, "текст")]


@pytest.mark.parametrize("name", ["missing.warc.gz", "notes.docx"])
def test_unusable_inputs_become_error_rows(tmp_path: Path, settings: Settings, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".docx"):
        path.write_bytes(b"PK")
    (record,) = iter_records([path], settings.ingest)
    assert record.status == "error"
    assert record.error in ("input not found", "unsupported input format: notes.docx")


def test_ids_are_stable_and_content_sensitive() -> None:
    assert record_id("u", b"a") == record_id("u", b"a")
    assert record_id("u", b"a") != record_id("u", b"b") != record_id("v", b"b")
