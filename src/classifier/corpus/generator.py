"""`classifier demo-data`: a deterministic WARC of Russian, Kazakh and mixed pages, with labels.

Each page: draw a label, language and category (or hard / ordinary negative), pick a family of that
cell, render it, maybe disguise it, put it in a layout, encode it (utf-8, windows-1251, koi8-r;
declared in the HTTP header, a meta tag or not at all) and write it as a WARC response record.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from classifier.config import CorpusSettings
from classifier.corpus.generators import PageContext, gen_site
from classifier.corpus.layouts import render_page
from classifier.corpus.obfuscate import KINDS, obfuscate
from classifier.corpus.templates import Family, Renderer, load_families
from classifier.ingest import record_id

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
)
_START = datetime(2025, 1, 1, tzinfo=UTC)
_IMAGE_EVERY = 150  # a crawl also brings back images: ingestion must count and skip them
_TINY_JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


@dataclass(frozen=True)
class Page:
    url: str
    html: str
    labels: dict[str, Any]
    encoding: str
    declared: str
    fetched_at: datetime


def _weighted(rng: random.Random, shares: Mapping[str, float]) -> str:
    keys = list(shares)
    return rng.choices(keys, weights=[shares[k] for k in keys])[0]


class FamilyIndex:
    """Families by cell: (label, category or hard/ordinary, language)."""

    def __init__(self, families: tuple[Family, ...]):
        self.cells: dict[tuple[int, str, str], list[Family]] = defaultdict(list)
        for fam in families:
            self.cells[(fam.label, self._group(fam), fam.lang)].append(fam)

    @staticmethod
    def _group(fam: Family) -> str:
        if fam.label == 1:
            return fam.category
        return "hard" if fam.hard else "ordinary"

    def pick(self, rng: random.Random, label: int, group: str, lang: str) -> Family:
        candidates = self.cells.get((label, group, lang))
        if not candidates:  # an empty cell borrows from other languages, then from the whole label
            candidates = [
                f for (lb, g, _), fams in self.cells.items() if lb == label and g == group for f in fams
            ]
        if not candidates:
            candidates = [f for (lb, _, _), fams in self.cells.items() if lb == label for f in fams]
        if not candidates:
            raise ValueError(f"no family with label {label}")
        return rng.choice(candidates)


def page_url(layout: str, ctx: PageContext) -> str:
    rng = ctx.rng
    site = gen_site(ctx)
    number = rng.randint(1000, 999999)
    if layout == "telegram":
        return f"https://t.me/s/{site.split('.')[0].replace('-', '_')}_example"
    return {
        "shop": f"https://{site}/catalog/item-{number}",
        "forum": f"https://forum.{site}/threads/{number}/",
        "classifieds": f"https://{site}/obyavlenie/{number}.html",
        "social": f"https://{site}/wall-{number}_{rng.randint(1, 9999)}",
        "news": f"https://{site}/news/{rng.choice([2024, 2025, 2026])}/{rng.randint(1, 12):02d}/{number}",
        "bare": f"https://{site}/" + rng.choice(["", "index.html", f"p{number}.htm"]),
    }[layout]


def make_page(index: int, rng: random.Random, families: FamilyIndex, settings: CorpusSettings) -> Page:
    label = int(rng.random() < settings.positive_share)
    lang = _weighted(rng, settings.language_shares)
    if label:
        group = _weighted(rng, settings.category_shares)
    else:
        group = "hard" if rng.random() < settings.hard_negative_share else "ordinary"
    family = families.pick(rng, label, group, lang)
    ctx = PageContext(rng=rng, lang=family.lang)
    text = Renderer(family, ctx).render()
    blocks, title = list(text.blocks), text.title
    if not label and rng.random() < settings.negative_contact_share:
        blocks.append(Renderer(family, ctx).expand("{neutral_contact}"))
    kinds: list[str] = []
    if label and rng.random() < settings.obfuscated_share:
        kinds = rng.sample(sorted(KINDS), k=rng.choice([1, 1, 2]))
        blocks = [obfuscate(b, rng, kinds) for b in blocks]
        title = obfuscate(title, rng, kinds)
    layout = rng.choice(family.layouts)
    url = page_url(layout, ctx)
    encoding = _weighted(rng, settings.encoding_shares)
    declared = _weighted(rng, settings.charset_declared)
    malformed = rng.random() < settings.malformed_share
    html = render_page(
        layout,
        title=title,
        blocks=blocks,
        lang=family.lang,
        url=url,
        rng=rng,
        charset_meta=encoding if declared == "meta" else None,
        malformed=malformed,
    )
    labels = {
        "url": url,
        "label": label,
        "category": family.category,
        "family": family.name,
        "kind": family.kind,
        "hard_negative": family.hard,
        "lang": family.lang,
        "layout": layout,
        "encoding": encoding,
        "charset_declared": declared,
        "obfuscations": "+".join(kinds),
        "malformed": malformed,
        "title": title,
    }
    fetched_at = _START + timedelta(minutes=7 * index + rng.randint(0, 6))
    return Page(url, html, labels, encoding, declared, fetched_at)


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


def generate_corpus(
    out_dir: Path, settings: CorpusSettings, n: int | None = None, seed: int | None = None
) -> dict:
    """Write ``pages.warc.gz``, ``labels.csv`` and ``summary.json`` to ``out_dir``; return the summary."""
    n = settings.n_pages if n is None else n
    rng = random.Random(settings.seed if seed is None else seed)
    families = FamilyIndex(load_families())
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with (out_dir / "pages.warc.gz").open("wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        writer.write_record(
            writer.create_warcinfo_record("pages.warc.gz", {"software": "classifier demo-data"})
        )
        for index in range(n):
            page = make_page(index, rng, families, settings)
            body = page.html.encode(page.encoding, errors="xmlcharrefreplace")
            date = page.fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            _write_exchange(writer, page.url, date, body, _http_headers(page, body))
            rows.append({"id": record_id(page.url, body), **page.labels})
            if index % _IMAGE_EVERY == _IMAGE_EVERY - 1:
                image = StatusAndHeaders("200 OK", [("Content-Type", "image/jpeg")], protocol="HTTP/1.1")
                _write_exchange(writer, page.url.rstrip("/") + "/logo.jpg", date, _TINY_JPEG, image)
    with (out_dir / "labels.csv").open("w", encoding="utf-8", newline="") as handle:
        table = csv.DictWriter(handle, fieldnames=LABEL_COLUMNS)
        table.writeheader()
        table.writerows(rows)
    summary = summarise(rows)
    (out_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return summary


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts by label, category, language, layout, encoding, declaration, obfuscation and families."""

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
        "families": len({r["family"] for r in rows}),
    }
