"""Writing the demo corpus (``classifier demo-data``): ``pages.warc.gz``, ``labels.csv`` and
``summary.json``, with a fingerprint of the settings and generator files, so that a corpus made by
other settings or code is regenerated rather than silently reused (``ensure_corpus``).

An image page's pictures (``Page.images``) follow its own response as ``image/jpeg`` responses, each
with its request, as a crawler that fetched the page's images writes them.
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

import PIL
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from classifier.common.config import CorpusSettings
from classifier.corpus.image_pages import FONT_PATH, font_problem
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
    "in_image",  # 1 when the page shows its text blocks only in pictures (its image/jpeg records follow it)
)
_IMAGE_EVERY = 150  # a crawl also brings back images: ingestion must count and skip them
_FINGERPRINTED = (".py", ".yaml", ".yml", ".json", ".jsonl", ".txt")  # what a corpus is made from
_TINY_JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


def _http_headers(page: Page, body: bytes, content_type: str = "") -> StatusAndHeaders:
    """The response's headers: the page's (with its charset when declared there), or an image's."""
    if not content_type:
        content_type = "text/html" + (f"; charset={page.encoding}" if page.declared == "header" else "")
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
    package (generator code, families, vocabulary, written texts), and what the pictures of image pages
    are drawn with (whether the font is there, Pillow's version). Kept in ``summary.json``, so that a
    corpus on disk that no longer matches is regenerated instead of silently reused."""
    digest = hashlib.sha256()
    n = settings.n_pages if n is None else n
    seed = settings.seed if seed is None else seed
    chosen = asdict(replace(settings, n_pages=n, seed=seed))
    digest.update(json.dumps(chosen, sort_keys=True, default=str).encode())
    digest.update(f"font {FONT_PATH}: {FONT_PATH.is_file()}; Pillow {PIL.__version__}".encode())
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
            for url, picture in page.images:
                _write_exchange(writer, url, date, picture, _http_headers(page, picture, "image/jpeg"))
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
    if settings.image_share > 0 and font_problem():
        summary["image_pages_off"] = font_problem()
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
        "image_pages": sum(1 for r in rows if r.get("in_image")),  # text only in pictures (mirrors included)
        "image_pages_by_label": dict(
            sorted(Counter(str(r["label"]) for r in rows if r.get("in_image")).items())
        ),
        "families": len({r["family"] for r in rows}),
    }
