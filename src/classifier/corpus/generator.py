"""`classifier demo-data`: a deterministic WARC of Russian, Kazakh and mixed pages, with labels.

Each page: either a written text (share ``written_share``, taken whole from ``corpus/written/``), or a
template: draw a label, language and category (or hard / ordinary negative), pick a family of that
cell and render it. Then maybe disguise it, put it in a layout, encode it (utf-8, windows-1251, koi8-r;
declared in the HTTP header, a meta tag or not at all) and write it as a WARC response record.

Sellers churn: a blocked shop comes back within days on a new site or channel with the same text, bot
and wallet. So a share ``mirror_share`` of the positive pages is re-posted as 1-3 *mirrors*, written
right after the original: the same blocks and contacts on another site, maybe in another layout and
encoding, sometimes with a marked title or a line about the move, fetched a few days later.
``labels.csv`` names the original of each mirror in ``mirror_of``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from classifier.config import CorpusSettings
from classifier.corpus.generators import PageContext, gen_site, load_vocab
from classifier.corpus.layouts import render_page
from classifier.corpus.obfuscate import KINDS, obfuscate
from classifier.corpus.templates import Family, Renderer, load_families
from classifier.corpus.written import BY_AUTHOR, WrittenDeck, load_written
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
    "mirror_of",  # the id of the original page for a mirror; empty for originals
)
_START = datetime(2025, 1, 1, tzinfo=UTC)
_IMAGE_EVERY = 150  # a crawl also brings back images: ingestion must count and skip them
_FINGERPRINTED = (".py", ".yaml", ".yml", ".json", ".jsonl", ".txt")  # what a corpus is made from
_TINY_JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


@dataclass(frozen=True)
class Page:
    url: str
    html: str
    labels: dict[str, Any]
    encoding: str
    declared: str
    fetched_at: datetime
    blocks: tuple[str, ...] = ()  # the text blocks as placed in the layout (mirrors re-use them)
    family: Family | None = None  # what the text came from (mirrors keep its layouts and language)


def _weighted(rng: random.Random, shares: Mapping[str, float]) -> str:
    keys = list(shares)
    return rng.choices(keys, weights=[shares[k] for k in keys])[0]


class FamilyIndex:
    """Families by cell: (label, category or hard/ordinary, language)."""

    def __init__(self, families: tuple[Family, ...]):
        self.cells: dict[tuple[int, str, str], list[Family]] = defaultdict(list)
        self.by_name: dict[str, Family] = {}
        for fam in families:
            self.cells[(fam.label, self._group(fam), fam.lang)].append(fam)
            self.by_name[fam.name] = fam

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


def _site_of(url: str) -> str:
    """The site a page lives on: the host, or the channel for Telegram previews."""
    parts = urlsplit(url)
    if parts.hostname == "t.me":
        return "t.me/" + parts.path.strip("/").split("/")[-1]
    return parts.hostname or ""


def _dress(
    rng: random.Random,
    family: Family,
    layout: str,
    url: str,
    title: str,
    blocks: list[str],
    settings: CorpusSettings,
) -> tuple[str, str, str, bool]:
    """Encoding, its declaration, malformedness and the HTML of one page."""
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
    return html, encoding, declared, malformed


# Emoji that legitimate shops, cafés and channels decorate their lines with (none is a drug code)
_DECORATION = ("🔥", "✅", "📦", "📍", "💰", "🚚", "⭐", "🎉", "👉", "❗", "💯", "🛒", "📞", "🌸", "🎁", "⚠️")


def _with_emoji(blocks: list[str], rng: random.Random) -> list[str]:
    """Up to three lines of a legitimate page start with an emoji, as many real posts do."""
    chosen = set(rng.sample(range(len(blocks)), k=min(len(blocks), rng.randint(1, 3))))
    return [f"{rng.choice(_DECORATION)} {b}" if i in chosen else b for i, b in enumerate(blocks)]


def _template_text(
    rng: random.Random, families: FamilyIndex, settings: CorpusSettings
) -> tuple[Family, str, list[str]]:
    """A family drawn for a label, language and category, rendered, with surface cues on both sides."""
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
    if not label and rng.random() < settings.negative_short_share:  # a post, a comment, a teaser
        blocks = blocks[: rng.randint(1, 2)]
    if not label and rng.random() < settings.negative_contact_share:
        blocks.append(Renderer(family, ctx).expand("{neutral_contact}"))
    if label and rng.random() < settings.positive_phone_share:
        blocks.append(Renderer(family, ctx).expand("{seller_phone}"))
    if not label and rng.random() < settings.negative_emoji_share:
        blocks = _with_emoji(blocks, rng)
    return family, title, blocks


def make_page(
    index: int,
    rng: random.Random,
    families: FamilyIndex,
    settings: CorpusSettings,
    taken: set[str] | None = None,
    written: WrittenDeck | None = None,
) -> Page:
    """One original page: a template family's text, or (share ``written_share``) a written text.

    ``taken`` holds the Telegram channels used so far: a channel is one resource, so two unrelated
    posts never share one (its name gets the page's number instead of a new draw, keeping the stream).
    """
    kinds: list[str] = []
    written_text = bool(written) and rng.random() < settings.written_share
    if written_text:
        text = written.deal()  # contacts, emoji and disguise as its author wrote them
        family, title, blocks = text.family, text.title, list(text.blocks)
        kinds = [BY_AUTHOR] if text.disguised else []
        if not family.label and len(blocks) > 2 and rng.random() < settings.written_negative_short_share:
            # a preview, as feeds show long posts: the opening and the last line (where contacts sit);
            # else shortness alone would tell sellers' posts (tests/test_shortcut_audit.py)
            blocks = [*blocks[: rng.randint(1, 2)], blocks[-1]]
    else:
        family, title, blocks = _template_text(rng, families, settings)
    label = family.label
    ctx = PageContext(rng=rng, lang=family.lang)
    # Legitimate pages are disguised as often: stylised shop names, warnings quoting "3акладки", typos.
    # Otherwise disguise itself would tell the label (tests/test_shortcut_audit.py).
    share = settings.obfuscated_share if label else settings.negative_obfuscated_share
    if not kinds and rng.random() < share:  # a written text its author disguised stays as written
        kinds = rng.sample(sorted(KINDS), k=rng.choice([1, 1, 2]))
        blocks = [obfuscate(b, rng, kinds) for b in blocks]
        title = obfuscate(title, rng, kinds)
    layout = rng.choice(family.layouts)
    if not label and not written_text and rng.random() < settings.negative_telegram_share:
        layout = "telegram"  # shops, cafés, news agencies and the police post on Telegram channels too
    url = page_url(layout, ctx)
    if taken is not None and layout == "telegram" and _site_of(url) in taken:
        url = url.removesuffix("_example") + f"_{index}_example"
    html, encoding, declared, malformed = _dress(rng, family, layout, url, title, blocks, settings)
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
        "mirror_of": "",
    }
    fetched_at = _START + timedelta(minutes=7 * index + rng.randint(0, 6))
    return Page(url, html, labels, encoding, declared, fetched_at, tuple(blocks), family)


def _mirror_words(key: str, lang: str, rng: random.Random) -> list[str]:
    pools = load_vocab()["mirror"][key]
    side = rng.choice(["ru", "kk"]) if lang == "mixed" else ("kk" if lang == "kk" else "ru")
    return pools[side]


def make_mirror(
    original: Page,
    family: Family,
    rng: random.Random,
    settings: CorpusSettings,
    after: datetime | None = None,
    taken: set[str] | None = None,
) -> Page:
    """A re-post of ``original`` on another site: its blocks and contacts, fetched 1-4 days after ``after``.

    ``after`` is the fetch time of the shop's previous appearance (default: the original's), so that
    a chain of mirrors moves forward in time. Another layout of the family half of the time, a fresh
    encoding and declaration, a title marked as a mirror on a quarter of mirrors and a line about the
    move on a third. The mirror avoids the original's site and the sites in ``taken`` (the sites the
    corpus has used so far), and adds its own to ``taken``.
    """
    taken = set() if taken is None else taken
    taken.add(_site_of(original.url))
    ctx = PageContext(rng=rng, lang=family.lang)
    layout = original.labels["layout"] if rng.random() < 0.5 else rng.choice(family.layouts)
    url = page_url(layout, ctx)
    while _site_of(url) in taken:
        url = page_url(layout, ctx)
    taken.add(_site_of(url))
    title, blocks = original.labels["title"], list(original.blocks)
    if rng.random() < 0.25:
        title = rng.choice(_mirror_words("title_marks", family.lang, rng)).replace("{title}", title)
    if rng.random() < 0.33:
        note = rng.choice(_mirror_words("notes", family.lang, rng))
        blocks.insert(0 if rng.random() < 0.6 else len(blocks), note)
    html, encoding, declared, malformed = _dress(rng, family, layout, url, title, blocks, settings)
    labels = {
        **original.labels,
        "url": url,
        "layout": layout,
        "encoding": encoding,
        "charset_declared": declared,
        "malformed": malformed,
        "title": title,
    }
    previous = original.fetched_at if after is None else after
    fetched_at = previous + timedelta(days=rng.randint(1, 4), minutes=rng.randint(0, 1439))
    return Page(url, html, labels, encoding, declared, fetched_at, tuple(blocks))


def iter_pages(
    settings: CorpusSettings, n: int, seed: int, families: FamilyIndex | None = None
) -> Iterator[tuple[Page, int | None]]:
    """``n`` pages in WARC order, each with the position of its original (None for originals).

    Originals come from one random stream and mirrors from another, so the originals are the pages
    a corpus without mirrors has, in the same order: mirrors add copies, they do not change what the
    model learns from (training drops them, see ``datasets.demo_dataset``). Positives are therefore a
    little above ``positive_share`` over all pages.
    """
    families = families or FamilyIndex(load_families())
    written = WrittenDeck(load_written(), seed) if settings.written_share > 0 else None
    rng, mirror_rng = random.Random(seed), random.Random(f"mirrors:{seed}")
    seen: set[str] = set()  # sites used so far: a mirror always moves to a site not seen before
    position = 0
    while position < n:
        page = make_page(position, rng, families, settings, taken=seen, written=written)
        origin = position
        seen.add(_site_of(page.url))
        yield page, None
        position += 1
        if not page.labels["label"] or mirror_rng.random() >= settings.mirror_share:
            continue
        family, last = page.family or families.by_name[page.labels["family"]], page.fetched_at
        for _ in range(min(mirror_rng.randint(1, 3), n - position)):
            mirror = make_mirror(page, family, mirror_rng, settings, after=last, taken=seen)
            yield mirror, origin
            last = mirror.fetched_at
            position += 1


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
