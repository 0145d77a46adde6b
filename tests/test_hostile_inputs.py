"""Hostile inputs: each gives an error row with a clear reason or a sensible extraction, within the time
and memory bounds of params.yaml, and the good pages around it all come through.

Small hostile files are in ``tests/resources/hostile/``; the large ones (a 50 MB page, gzip bombs, broken
WARCs, ...) are written by ``tests/hostile_corpus.py`` into a temporary folder.

Nothing here depends on how fast the machine is. What is read is checked with the page time limit off,
so a slow machine cannot turn a page into an error row; that the huge pages are cheap is checked by the
path they take (the element guard's full-text read), and their speed is measured by the benchmarks. The
time limit itself is tested on a page that is slow by construction: tests/conftest.py arms the slow
point ``extract.page`` (``classifier.common.faults``) to sleep ten minutes on any page of ``SLOW_HOST``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml

from classifier.common.config import DEFAULT_PARAMS, Settings, load_settings
from classifier.common.limits import check_memory, peak_rss_mb, time_limit
from classifier.extract.documents import extract_document
from classifier.extract.run import extract_documents
from classifier.ingest.partitions import plan_partitions, read_partition
from classifier.ingest.records import IngestStats, Record
from classifier.ingest.sources import iter_records
from classifier.ingest.tables import record_from_row
from hostile_corpus import EXPECTED_GOOD, HOSTILE_URL, good_page, write_corpus
from slow_pages import SLOW_HOST, SLOW_SECONDS

HOSTILE = Path(__file__).parent / "resources" / "hostile"
SETTINGS = load_settings()
LOCAL = replace(SETTINGS, extract=replace(SETTINGS.extract, n_jobs=1, page_timeout_seconds=0))
SLOW_PAGE = Record(
    id="slow", url=f"https://{SLOW_HOST}/page", source="test", html="<p>Медленная страница</p>"
)


@dataclass(frozen=True)
class Outcome:
    """What one record must give: its URL ('' when it has none), status, and a fragment of its error
    (error) or of its text or title (ok)."""

    url: str
    status: str
    says: str


def good(i: int) -> Outcome:
    url, _ = good_page(i)
    return Outcome(url, "ok", f"Магазин №{i}" if i % 2 == 0 else f"парк №{i}")


def hostile(name: str, status: str, says: str) -> Outcome:
    return Outcome(HOSTILE_URL.format(name=name), status, says)


JUNK = Outcome("", "error", "unexpected bytes after the record at offset")  # after a too small length
BINARY = "binary content, not a text page"
WARCS = {
    "bombs.warc.gz": [
        good(10),
        hostile("content-encoding-bomb", "error", BINARY),  # 5 MB of the gigabyte of zeros: NUL bytes
        good(11),
        hostile("member-bomb", "ok", "Магазин №99"),  # the ad, then spaces: cut at ingest.max_page_bytes
        good(12),
    ],
    "odd_pages.warc.gz": [
        good(20),
        hostile("empty", "error", "empty page"),
        good(21),
        hostile("png", "error", f"{BINARY}: a PNG image"),
        good(22),
        hostile("pdf", "error", f"{BINARY}: a PDF document"),
        good(23),
        hostile("charset-lie", "ok", "мефедрон кристалл"),  # UTF-8 declared as koi8-r
        good(24),
        hostile("nul", "ok", "шишки АК-47"),  # "ши\0шки\0": the NUL bytes are dropped
        good(25),
        hostile("undefined-charset", "ok", "мефедрон кристалл"),
        good(26),
    ],
    # the record as its length has it (the start of the page), then the rest as junk
    "length_short.warc": [
        good(30),
        hostile("content-length-300", "ok", "Магазин №7"),
        JUNK,
        good(31),
        good(32),
    ],
    "length_short.warc.gz": [
        good(30),
        hostile("content-length-300", "ok", "Магазин №7"),
        JUNK,
        good(31),
        good(32),
    ],
    "length_long.warc": [
        good(30),
        hostile("content-length+300", "error", "Content-Length (1000) runs into the next record"),
        good(31),
        good(32),
    ],
    # a whole gzip member: the record ends where its member does, complete
    "length_long.warc.gz": [good(30), hostile("content-length+300", "ok", "Магазин №7"), good(31), good(32)],
    "junk.warc": [good(40), Outcome("", "error", "first line: this is not a WARC record"), good(41)],
    "corrupt_member.warc.gz": [good(50), Outcome("", "error", "broken WARC after offset"), good(51)],
    "truncated.warc.gz": [
        *(good(60 + i) for i in range(4)),
        Outcome(good_page(64)[0], "error", "is cut off"),
    ],
}
PAGES = {  # generated single pages: all cut at ingest.max_page_bytes, and still read
    "big_page.html": Outcome("", "ok", "Жители Шымкента обсуждают новый парк"),
    "nested_tags.html": Outcome("", "ok", "@deep_hostile_example"),  # 100,000 levels deep
    "long_line_text.html": Outcome("", "ok", "закладки мефедрон парк фонтан"),
    "long_line_tag.html": Outcome("", "ok", "закладки мефедрон парк фонтан"),
    "long_token.html": Outcome("", "ok", "a.a.a.a.a"),
}
FILES = {  # tests/resources/hostile/
    "charset_lie_cp1251.html": [Outcome("", "ok", "Закладки в Шымкенте")],  # says utf-8
    "charset_lie_utf16.html": [Outcome("", "ok", "Закладки в Шымкенте")],  # UTF-16 without a BOM
    "nul_bytes.html": [Outcome("", "ok", "Закладки в Шымкенте")],
    "png_as_html.html": [Outcome("", "error", f"{BINARY}: a PNG image")],
    "pdf_as_html.html": [Outcome("", "error", f"{BINARY}: a PDF document")],
    "empty.html": [Outcome("", "error", "empty page")],
    "whitespace_only.html": [Outcome("", "error", "empty page")],
    "broken_lines.jsonl": [
        Outcome("https://jsonl.example/ad", "ok", "Магазин №70"),
        Outcome("", "error", "invalid JSON on line 2"),
        Outcome("https://jsonl.example/news", "ok", "новый парк"),
        Outcome("", "error", "invalid JSON on line 4: 'utf-8' codec can't decode"),
        Outcome("", "error", "line 5 is not a JSON object"),
        Outcome("https://jsonl.example/last", "ok", "@last_hostile_example"),
        Outcome("", "error", "invalid JSON on line 8: maximum recursion depth exceeded"),  # [[[[...
        Outcome("https://jsonl.example/surrogate", "ok", "закладки \ufffd @surrogate"),  # "\ud800"
        Outcome("", "error", "invalid JSON on line 10: Unterminated string"),  # cut off, no newline
    ],
    "no_html_column.csv": [
        Outcome(f"https://csv.example/{i}", "error", "no 'html' or 'text' column") for i in (1, 2)
    ],
    "malformed_rows.csv": [
        Outcome("https://csv.example/good-1", "ok", "Мефедрон и шишки"),
        Outcome("", "error", "malformed CSV row: ',' expected after '\"' (row 2)"),
        Outcome("", "error", "malformed CSV row: 4 fields, the header has 2 (row 3)"),
        Outcome("https://csv.example/good-2", "ok", "новый парк"),
        Outcome("https://csv.example/short", "error", "row has an empty html and text"),
        Outcome("", "error", "malformed CSV row: a quote opened in it never closes"),
    ],
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    write_corpus(folder)
    return folder


def _read(path: Path, settings: Settings = LOCAL) -> list[Record]:
    return list(iter_records([path], settings.ingest, IngestStats()))


def _check(outcome: Outcome, status: str, error: str, texts: tuple[str, ...], url: str, where: str) -> None:
    assert status == outcome.status, f"{where}: {status} ({error}), expected {outcome}"
    if outcome.url:
        assert url == outcome.url, where
    if status == "error":
        assert outcome.says in error, f"{where}: {error!r}"
    else:
        assert any(outcome.says in text for text in texts), f"{where}: {texts[0][:200]!r}"


def _check_docs(docs: list[dict], expected: list[Outcome], where: str) -> None:
    assert len(docs) == len(expected), f"{where}: {[(d['url'], d['status'], d['error']) for d in docs]}"
    for i, (doc, outcome) in enumerate(zip(docs, expected, strict=True)):
        texts = (doc["text"], doc["title"])
        _check(outcome, doc["status"], doc["error"] or "", texts, doc["url"], f"{where} #{i}")


@pytest.mark.parametrize("name", sorted(WARCS))
def test_broken_warcs_lose_nothing_around_the_break(corpus: Path, name: str) -> None:
    docs = [extract_document(record, LOCAL.extract) for record in _read(corpus / name)]
    _check_docs(docs, WARCS[name], name)
    ok = [d["url"] for d in docs if d["status"] == "ok"]
    assert [u for u in ok if u in EXPECTED_GOOD[name]] == EXPECTED_GOOD[name]


def test_broken_warc_error_rows_name_the_place_and_the_next_record(corpus: Path) -> None:
    records = list(iter_records([corpus / "length_short.warc"], LOCAL.ingest))
    short, junk, after = records[1:4]
    start, end = (int(r.source.rsplit(":", 1)[1]) for r in (short, junk))
    assert short.url == HOSTILE_URL.format(name="content-length-300") and short.status == "ok"
    assert junk.error == (
        f"broken WARC after offset {end}: unexpected bytes after the record at offset {start} (junk, or its"
        f" Content-Length is too small); read on at the next record, offset {after.source.rsplit(':', 1)[1]}"
    )
    cut = [r for r in iter_records([corpus / "truncated.warc.gz"], LOCAL.ingest) if r.error]
    assert len(cut) == 1 and cut[0].error.endswith("nothing readable after it")


@pytest.mark.parametrize("name", sorted(PAGES))
@pytest.mark.parametrize("engine", ["trafilatura", "resiliparse"])
def test_huge_and_deep_pages_are_cut_and_read_the_cheap_way(corpus: Path, name: str, engine: str) -> None:
    settings = replace(LOCAL, extract=replace(LOCAL.extract, engine=engine))
    (record,) = _read(corpus / name, settings)
    assert record.truncated == (name != "nested_tags.html")  # 10-50 MB, cut at max_page_bytes
    assert len(record.html.encode()) <= settings.ingest.max_page_bytes
    doc = extract_document(record, settings.extract)
    _check_docs([doc], [PAGES[name]], f"{name} ({engine})")
    # pages of over 20,000 elements (trafilatura takes minutes on them) and pages deeper than lxml reads
    # (resiliparse's parser, which also loses nothing) are read as full text: no main-content search
    guarded = name in ("big_page.html", "nested_tags.html") and (engine, name) != (
        "resiliparse",
        "big_page.html",
    )
    assert doc["extractor"] == ("fulltext" if guarded else engine)
    assert len(doc["text"]) <= settings.extract.max_text_chars
    if name != "nested_tags.html":
        assert len(doc["text"]) == settings.extract.max_text_chars
        assert doc["truncated"]
    else:
        assert doc["contacts"]["telegram"] == ["@deep_hostile_example"]


@pytest.mark.parametrize("name", sorted(FILES))
def test_small_hostile_files(name: str) -> None:
    docs = [extract_document(record, LOCAL.extract) for record in _read(HOSTILE / name)]
    _check_docs(docs, FILES[name], name)


def test_charset_lies_and_nul_bytes_give_the_real_words() -> None:
    docs = {
        name: extract_document(next(iter_records([HOSTILE / name], LOCAL.ingest)), LOCAL.extract)
        for name in ("charset_lie_cp1251.html", "charset_lie_utf16.html", "nul_bytes.html")
    }
    assert docs["charset_lie_cp1251.html"]["encoding"] == "windows-1251"
    assert docs["charset_lie_utf16.html"]["encoding"] == "utf-16-le"
    assert docs["charset_lie_utf16.html"]["contacts"]["telegram"] == ["@utf16_hostile_example"]
    nul = docs["nul_bytes.html"]
    assert "Магазин" in nul["text"] and "\x00" not in nul["text"] + nul["title"]
    assert nul["contacts"]["telegram"] == ["@nul_hostile_example"]
    assert nul["contacts"]["phone"] == ["+77000000003"]


@pytest.mark.parametrize("name", sorted(set(WARCS) - {"bombs.warc.gz"}))  # the bombs: the same code, 10 s
@pytest.mark.parametrize("size", [1, 2])
def test_partitions_of_broken_warcs_read_as_the_whole(corpus: Path, name: str, size: int) -> None:
    inputs = [str(corpus / name)]
    whole = [(r.id, r.url, r.source, r.status, r.error) for r in iter_records(inputs, LOCAL.ingest)]
    parts = plan_partitions(inputs, size)
    split = [
        (r.id, r.url, r.source, r.status, r.error)
        for part in parts
        for r in read_partition(part, LOCAL.ingest, IngestStats())
    ]
    assert split == whole
    assert len(parts) >= len(EXPECTED_GOOD[name]) // size  # the plan goes on past the break


def test_a_page_over_the_time_limit_becomes_an_error_row() -> None:
    quick = replace(LOCAL.extract, page_timeout_seconds=0.5)
    handler, (outer, _) = signal.getsignal(signal.SIGALRM), signal.getitimer(signal.ITIMER_REAL)
    started = time.perf_counter()
    doc = extract_document(SLOW_PAGE, quick)
    seconds = time.perf_counter() - started
    assert doc["status"] == "error"
    assert doc["error"] == "extraction took longer than 0.5 s"
    assert seconds < SLOW_SECONDS / 2  # the limit cut the page off: it sleeps for ten minutes
    # the handler given back, and pytest-timeout's timer (if it uses one) with what is left of its time
    assert signal.getsignal(signal.SIGALRM) is handler
    left, _ = signal.getitimer(signal.ITIMER_REAL)
    assert left == 0 if outer == 0 else outer - seconds - 1 < left < outer
    (page,) = iter_records([HOSTILE / "charset_lie_cp1251.html"], LOCAL.ingest)
    assert extract_document(page, quick)["status"] == "ok"


def test_the_time_limit_is_off_outside_the_main_thread() -> None:
    armed: list[bool] = []

    def run() -> None:
        with time_limit(5) as on:
            armed.append(on)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    with time_limit(5) as on:
        armed.append(on)
    with time_limit(0) as on:
        armed.append(on)
    assert armed == [False, True, False]


def test_the_time_limit_gives_an_enclosing_timer_back() -> None:
    saved, handler = signal.getitimer(signal.ITIMER_REAL), signal.getsignal(signal.SIGALRM)
    try:
        signal.setitimer(signal.ITIMER_REAL, 100)
        with time_limit(2) as armed:
            assert armed and signal.getitimer(signal.ITIMER_REAL)[0] <= 2
        assert 99 < signal.getitimer(signal.ITIMER_REAL)[0] <= 100
        with time_limit(200) as armed:  # the enclosing timer is due first: it stays as it is
            assert not armed and signal.getitimer(signal.ITIMER_REAL)[0] <= 100
    finally:
        signal.setitimer(signal.ITIMER_REAL, *saved)
        signal.signal(signal.SIGALRM, handler)


@pytest.mark.slow
def test_the_time_limit_holds_in_extraction_workers() -> None:
    """With n_jobs=2, pages run in joblib's worker processes, in their main thread: the limit applies.

    The slow page sleeps ten minutes in a worker; the others take milliseconds, far within the limit."""
    quick = replace(
        SETTINGS, extract=replace(SETTINGS.extract, n_jobs=2, batch_size=1, page_timeout_seconds=5)
    )
    records = [*iter_records([HOSTILE / "charset_lie_cp1251.html"], quick.ingest), SLOW_PAGE]
    records += list(iter_records([HOSTILE / "nul_bytes.html"], quick.ingest))
    docs = list(extract_documents(records, quick.extract))
    assert [d["status"] for d in docs] == ["ok", "error", "ok"]
    assert docs[1]["error"] == "extraction took longer than 5 s"


def test_table_cells_cut_inside_a_character_or_to_nothing() -> None:
    tiny = replace(LOCAL.ingest, max_page_bytes=7)
    text = record_from_row({"url": "u", "text": "ааааа"}, "rows.jsonl:1", tiny)  # 2 bytes a letter
    assert (text.status, text.text, text.truncated) == ("ok", "ааа", True)
    html = record_from_row({"url": "u", "html": "<p>жжж</p>"}, "rows.jsonl:2", tiny)
    assert (html.status, html.html) == ("ok", "<p>жж")
    nothing = record_from_row({"url": "u", "html": "ж"}, "rows.jsonl:3", replace(tiny, max_page_bytes=1))
    assert nothing.status == "error" and "nothing left of the page" in nothing.error


def test_lone_surrogates_reach_neither_the_cache_nor_the_outputs(tmp_path: Path) -> None:
    (row,) = [r for r in iter_records([HOSTILE / "broken_lines.jsonl"], LOCAL.ingest) if "surrogate" in r.url]
    assert row.text == "закладки \ufffd @surrogate_hostile_example"
    built = Record(id="r1", url="https://a.example/", source="test", text="закладки \ud800")  # not via ingest
    cache = tmp_path / "cache.sqlite"
    (first,) = extract_documents([built], LOCAL.extract, cache)
    (second,) = extract_documents([built], LOCAL.extract, cache)  # read back from the cache
    assert first["status"] == "ok" and second == first


def test_peak_memory_is_measured_and_checked(caplog: pytest.LogCaptureFixture) -> None:
    peak = peak_rss_mb()
    assert peak > 10
    with caplog.at_level(logging.WARNING, logger="classifier.common.limits"):
        assert check_memory(peak * 100) >= peak
        assert not caplog.records
        check_memory(1)
    assert "over the budget of 1 MB (score.memory_budget_mb)" in caplog.text


# -- the whole corpus through `classifier score` ------------------------------------------------------
def _inputs(corpus: Path) -> tuple[list[str], dict[str, list[Outcome]]]:
    """Every hostile input, and the outcomes per input file name in the order records are read."""
    tables = sorted(p for p in HOSTILE.iterdir() if p.suffix in (".jsonl", ".csv"))
    warcs = [corpus / name for name in sorted(WARCS)]
    inputs = [HOSTILE, *tables, corpus, *warcs]  # the folders give their HTML files
    expected = {**FILES, **{name: [outcome] for name, outcome in PAGES.items()}, **WARCS}
    return [str(p) for p in inputs], expected


def _by_input(rows: list[dict]) -> dict[str, list[dict]]:
    """Rows grouped by input file, in reading order (the queue file is ranked)."""
    grouped: dict[str, list[tuple[int, dict]]] = {}
    for row in rows:
        file, _, position = row["source"].rpartition(":")
        if not position.isdigit():
            file, position = row["source"], "0"
        # in a WARC.gz, the junk after a record is reported at the record's offset, after it
        grouped.setdefault(Path(file).name, []).append(((int(position), row["status"] != "ok"), row))
    return {
        name: [row for _, row in sorted(items, key=lambda item: item[0])] for name, items in grouped.items()
    }


def _run(command: list[str]) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run a command; its output, wall time and peak RSS in MB (of it or of any child it waited for)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage, not every child of pytest's
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    peak = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return subprocess.CompletedProcess(command, process.returncode, output), wall, peak


@pytest.mark.slow
def test_scoring_the_whole_hostile_corpus(corpus: Path, exported_model: Path, tmp_path: Path) -> None:
    raw = yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))
    raw["score"] |= {"log_to_mlflow": False}
    raw["extract"] |= {"n_jobs": 2, "page_timeout_seconds": 0}  # the limit has its own tests, above
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    settings = load_settings(params)
    inputs, expected = _inputs(corpus)
    out = tmp_path / "queue.jsonl"
    executable = str(Path(sys.executable).with_name("classifier"))
    command = [executable, "--params", str(params), "score", *inputs, "--model", str(exported_model)]
    command += ["--allow-untrusted-model", "--out", str(out), "--db", f"sqlite:///{tmp_path / 'cases.db'}"]
    command += ["--checkpoints", str(tmp_path / "runs"), "--no-cache"]

    finished, wall, peak = _run(command)

    assert finished.returncode == 0, finished.stdout[-3000:]
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == sum(len(v) for v in expected.values())
    by_input = _by_input(rows)
    assert sorted(by_input) == sorted(expected)
    for name, outcomes in expected.items():
        got = by_input[name]
        assert len(got) == len(outcomes), f"{name}: {[(r['url'], r['status'], r['error']) for r in got]}"
        for i, (row, outcome) in enumerate(zip(got, outcomes, strict=True)):
            texts = (row["excerpt"], row["title"])
            _check(outcome, row["status"], row["error"], texts, row["url"], f"{name} #{i}")
    # the memory budget of params.yaml (the time the pages take is measured by the benchmarks)
    budget = settings.score.memory_budget_mb
    assert peak <= budget, f"peak RSS {peak:.0f} MB over the budget of {budget:.0f} MB"
    assert "over the budget" not in finished.stdout
    summary_peak = float(finished.stdout.split("peak_rss_mb")[1].split()[0])
    assert 50 < summary_peak <= budget
    print(f"scored {len(rows)} records in {wall:.1f}s, peak RSS {peak:.0f} MB (summary: {summary_peak} MB)")
