"""Writing the demo corpus (``classifier demo-data``): ``pages.warc.gz``, ``labels.csv`` and
``summary.json``, with a fingerprint of the settings and generator files, so that a corpus made by
other settings or code is regenerated rather than silently reused (``ensure_corpus``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from classifier.common.config import CorpusSettings
from classifier.corpus.pages import Page, iter_pages
from classifier.ingest.records import record_id

LABEL_COLUMNS = (
    "id",
    "url",
    "label",
    "category",
    "family",
    "kind",
    "hard_negative",
    "lang",
    "layout",
    "encoding",
    "charset_declared",
    "obfuscations",
    "malformed",
    "title",
    "mirror_of",  # the id of the original page for a mirror; empty for originals
)
_IMAGE_EVERY = 150  # a crawl also brings back images: ingestion must count and skip them
_FINGERPRINTED = (".py", ".yaml", ".yml", ".json", ".jsonl", ".txt")  # what a corpus is made from
_TINY_JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


def _http_headers(page: Page, body: bytes) -> StatusAndHeaders:
    content_type = "text/html"
    if page.declared == "header":
        content_type += f"; charset={page.encoding}"
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Date", page.fetched_at.strftime("%a, %d %b %Y %H:%M:%S GMT")),
        ("Server", "nginx"),
    ]
    return StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")


def _write_exchange(writer: WARCWriter, url: str, date: str, body: bytes, http: StatusAndHeaders) -> None:
    request = StatusAndHeaders(
        f"GET {url} HTTP/1.1", [("User-Agent", "monitor-crawler/1.0")], is_http_request=True
    )
    writer.write_record(
        writer.create_warc_record(url, "request", http_headers=request, warc_headers_dict={"WARC-Date": date})
    )
    writer.write_record(
        writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            http_headers=http,
            warc_headers_dict={"WARC-Date": date},
        )
    )


def corpus_fingerprint(settings: CorpusSettings, n: int | None = None, seed: int | None = None) -> str:
    """What a generated corpus depends on: the settings, the size and seed, and every file of this
    package (generator code, families, vocabulary, written texts). Kept in ``summary.json``, so that a
    corpus on disk that no longer matches is regenerated instead of silently reused."""
    digest = hashlib.sha256()
    n = settings.n_pages if n is None else n
    seed = settings.seed if seed is None else seed
    chosen = asdict(replace(settings, n_pages=n, seed=seed))
    digest.update(json.dumps(chosen, sort_keys=True, default=str).encode())
    package = Path(__file__).parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in _FINGERPRINTED:
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _wanted_size(summary: dict, settings: CorpusSettings) -> tuple[int, int]:
    """(pages, seed) the corpus should have: params' when it was generated from them, else as asked."""
    if summary.get("size_from_params", True):
        return settings.n_pages, settings.seed
    return int(summary["requested_pages"]), int(summary["seed"])


def ensure_corpus(
    out_dir: Path, settings: CorpusSettings, n: int | None = None, seed: int | None = None
) -> str:
    """Generate the corpus in ``out_dir`` unless the one there was made by these settings and this
    code at the size wanted: ``n``/``seed`` when given, else the size it was asked for (params' size,
    or an explicit ``n``/``seed``); returns what was done, empty when the corpus was current."""
    asked = None if n is None and seed is None else _asked_size(settings, n, seed)
    try:
        summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
        n, seed = asked or _wanted_size(summary, settings)
        files = all((out_dir / name).exists() for name in ("pages.warc.gz", "labels.csv"))
        if files and summary.get("fingerprint") == corpus_fingerprint(settings, n, seed):
            return ""
        why = "made by other corpus settings or generator files"
    except (OSError, ValueError, KeyError, TypeError):
        (n, seed), why = asked or (settings.n_pages, settings.seed), "no corpus yet"
    explicit = (n, seed) != (settings.n_pages, settings.seed)
    generate_corpus(out_dir, settings, n if explicit else None, seed if explicit else None)
    return f"demo corpus in {out_dir}: {why}; generated it ({n} pages, seed {seed})"


def _asked_size(settings: CorpusSettings, n: int | None, seed: int | None) -> tuple[int, int]:
    return (settings.n_pages if n is None else n), (settings.seed if seed is None else seed)


def generate_corpus(
    out_dir: Path, settings: CorpusSettings, n: int | None = None, seed: int | None = None
) -> dict:
    """Write ``pages.warc.gz``, ``labels.csv`` and ``summary.json`` to ``out_dir``; return the summary."""
    fingerprint = corpus_fingerprint(settings, n, seed)
    from_params = n is None and seed is None
    n = settings.n_pages if n is None else n
    seed = settings.seed if seed is None else seed
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    with (out_dir / "pages.warc.gz").open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        writer.write_record(
            writer.create_warcinfo_record("pages.warc.gz", {"software": "classifier demo-data"})
        )
        for index, (page, origin) in enumerate(iter_pages(settings, n, seed)):
            body = page.html.encode(page.encoding, errors="xmlcharrefreplace")
            date = page.fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            _write_exchange(writer, page.url, date, body, _http_headers(page, body))
            mirror_of = "" if origin is None else rows[origin]["id"]
            rows.append({**page.labels, "id": record_id(page.url, body), "mirror_of": mirror_of})
            if index % _IMAGE_EVERY == _IMAGE_EVERY - 1:
                image = StatusAndHeaders("200 OK", [("Content-Type", "image/jpeg")], protocol="HTTP/1.1")
                _write_exchange(writer, page.url.rstrip("/") + "/logo.jpg", date, _TINY_JPEG, image)
    with (out_dir / "labels.csv").open("w", encoding="utf-8", newline="") as handle:
        table = csv.DictWriter(handle, fieldnames=LABEL_COLUMNS)
        table.writeheader()
        table.writerows(rows)
    summary = {**summarise(rows), "requested_pages": n, "seed": seed, "size_from_params": from_params}
    summary["fingerprint"] = fingerprint
    (out_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return summary


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts by label, category, language, layout, encoding, declaration, obfuscation, mirrors, families."""

    def count(key: str, subset: list[dict[str, Any]] | None = None) -> dict[str, int]:
        return dict(sorted(Counter(str(r[key]) for r in (subset or rows)).items()))

    negatives = [r for r in rows if not r["label"]]
    positives = [r for r in rows if r["label"]]
    kinds = Counter(k for r in positives for k in r["obfuscations"].split("+") if k)
    return {
        "pages": len(rows),
        "label": count("label"),
        "category": count("category", positives),
        "negative_kind": count("kind", negatives),
        "hard_negatives": sum(1 for r in negatives if r["hard_negative"]),
        "lang": count("lang"),
        "layout": count("layout"),
        "encoding": count("encoding"),
        "charset_declared": count("charset_declared"),
        "obfuscated_positives": sum(1 for r in positives if r["obfuscations"]),
        "obfuscation_kinds": dict(sorted(kinds.items())),
        "malformed": sum(1 for r in rows if r["malformed"]),
        "mirrors": sum(1 for r in rows if r.get("mirror_of")),  # mirror pages (originals not counted)
        "mirrored_originals": len({r["mirror_of"] for r in rows if r.get("mirror_of")}),
        "families": len({r["family"] for r in rows}),
    }
