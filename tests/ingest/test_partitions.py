"""Partitions of an input, read one by one, give exactly the records of reading the input whole."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from classifier.common.config import IngestSettings
from classifier.ingest.partitions import plan_partitions, read_partition
from classifier.ingest.records import IngestStats
from classifier.ingest.sources import iter_records
from warc_files import write_warc

SETTINGS = IngestSettings()


def _records(inputs: list[str]) -> list[tuple]:
    return [(r.id, r.url, r.source, r.status, r.error) for r in iter_records(inputs, SETTINGS)]


def _partitioned(inputs: list[str], size: int) -> list[tuple]:
    parts = plan_partitions(inputs, size)
    return [
        (r.id, r.url, r.source, r.status, r.error)
        for p in parts
        for r in read_partition(p, SETTINGS, IngestStats())
    ]


def _warc_records(pages: list[tuple[str, bytes, str]]) -> list[bytes]:
    """Each page as its own uncompressed request and response records."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    out = []
    for url, body, content_type in pages:
        stream = io.BytesIO()
        writer = WARCWriter(stream, gzip=False)
        http = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)
        )
        out.append(stream.getvalue())
    return out


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("inputs")
    pages = [
        (
            f"https://shop{i}.example/p",
            f"<html><body><p>Закладки {i}, пиши @s{i}_example</p></body></html>".encode(),
            "text/html",
        )
        for i in range(9)
    ]
    pages.insert(4, ("https://img.example/a.jpg", b"\xff\xd8\xff", "image/jpeg"))  # skipped, not a record
    warc = write_warc(folder / "a.warc.gz", pages)
    plain = write_warc(folder / "b.warc", pages[:5], gzip=False)
    broken = folder / "broken.warc.gz"
    broken.write_bytes(warc.read_bytes()[:-200])  # cut inside the last gzip member
    rows = [{"id": f"r{i}", "url": f"https://t{i}.example/", "text": f"текст {i}"} for i in range(11)]
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines[3:3] = ["{not json", "", "[1, 2]"]
    jsonl = folder / "a.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pd.DataFrame(rows).to_csv(folder / "a.csv", index=False)
    pd.DataFrame(rows).to_parquet(folder / "a.parquet", row_group_size=3)
    html = folder / "html"
    html.mkdir()
    for i in range(5):
        (html / f"page{i}.html").write_text(
            f"<html><body><p>Страница {i}</p></body></html>", encoding="utf-8"
        )
    (folder / "nocolumn.csv").write_text("url,body\nhttps://x.example/,hello\n", encoding="utf-8")
    padded = folder / "padded.warc"  # uncompressed records with more than the usual blank lines between
    padded.write_bytes((b"\r\n" * 10).join(_warc_records(pages[:6])))
    blank_rows = folder / "blank_rows.csv"  # blank lines between rows, and a quoted field over two lines
    blank_rows.write_text(
        'url,text\nhttps://a.example/,"один\nдва"\n\nhttps://b.example/,три\n\n\nhttps://c.example/,четыре\n',
        encoding="utf-8",
    )
    gz = folder / "c.jsonl.gz"  # an unsupported input is one error record, as in a local run
    gz.write_bytes(gzip.compress(b"{}"))
    return {
        "warc.gz": str(warc),
        "warc": str(plain),
        "broken warc": str(broken),
        "jsonl": str(jsonl),
        "csv": str(folder / "a.csv"),
        "parquet": str(folder / "a.parquet"),
        "html folder": str(html),
        "csv without html": str(folder / "nocolumn.csv"),
        "padded warc": str(padded),
        "csv with blank lines": str(blank_rows),
        "unsupported": str(gz),
        "missing": str(folder / "missing.warc.gz"),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "warc.gz",
        "warc",
        "padded warc",
        "broken warc",
        "jsonl",
        "csv",
        "csv with blank lines",
        "parquet",
        "html folder",
        "csv without html",
        "unsupported",
        "missing",
    ],
)
@pytest.mark.parametrize("size", [1, 2, 4, 1000])
def test_partitions_read_the_same_records_in_the_same_order(
    inputs: dict[str, str], kind: str, size: int
) -> None:
    expected = _records([inputs[kind]])
    assert expected, kind
    assert _partitioned([inputs[kind]], size) == expected


def test_several_inputs_keep_their_order_and_are_cut_by_size(inputs: dict[str, str]) -> None:
    everything = list(inputs.values())
    assert _partitioned(everything, 3) == _records(everything)
    parts = plan_partitions([inputs["jsonl"], inputs["warc.gz"]], 4)
    assert [p.format for p in parts] == ["jsonl"] * 4 + ["warc"] * 3  # 14 lines, 9 pages
    assert parts[1].first_line == 5 and parts[1].start > 0


def test_a_partition_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        plan_partitions([], 0)
