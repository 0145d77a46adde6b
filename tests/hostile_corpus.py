"""The large hostile inputs, written at test time so that no 50 MB file is committed.

Small hostile files live in ``tests/resources/hostile/``; this module writes the rest: a 50 MB page,
100,000 nested tags, 10 MB single lines, gzip bombs (as an HTTP ``Content-Encoding`` and as a WARC
gzip member), a truncated WARC.gz, WARCs whose ``Content-Length`` is too short or too long, junk
between records and a corrupt gzip member. In every WARC, each hostile record sits between good
pages (a drug-sale ad and a news article), so that tests can check nothing around it is lost.

    python tests/hostile_corpus.py OUT_DIR

``EXPECTED_GOOD`` says, per generated WARC, which URLs must come out as good pages: tests compare it
with what ingestion and scoring give.
"""

from __future__ import annotations

import gzip
import sys
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

MB = 1 << 20
AD = (
    '<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Закладки Алматы №{i}</title>'
    '<meta name="description" content="Мефедрон и шишки с доставкой"></head><body><div class="post">'
    "<h1>Магазин №{i}</h1><p>В наличии мефедрон кристалл, шишки АК-47 и гашиш. Закладки по всему городу"
    " круглосуточно, оплата биткоином или на карту.</p><p>Оператор в Telegram @shop_hostile_example,"
    " телефон +7 700 000 00 0{d}. Постоянным клиентам скидка.</p></div></body></html>"
)
NEWS = (
    '<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Новости Шымкента №{i}</title>'
    "</head><body><nav>Главная · Город · Спорт</nav><article><h1>В Шымкенте открыли парк №{i}</h1>"
    + "<p>В Абайском районе Шымкента открыли новый парк с фонтанами, велодорожками и детскими"
    " площадками. На открытие пришли жители района и представители акимата.</p>"
    * 4
    + "</article><footer>© 2025 news.example</footer></body></html>"
)


def good_page(i: int) -> tuple[str, bytes]:
    """The i-th good page: ads and news articles alternate; each has its own URL and text."""
    if i % 2:
        return f"https://news.example/{i}", NEWS.format(i=i).encode()
    return f"https://shop.example/{i}", AD.format(i=i, d=i % 10).encode()


# -- pages -------------------------------------------------------------------------------------
def _write_chunks(path: Path, chunks: Iterator[bytes]) -> Path:
    with path.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
    return path


def big_page(path: Path, size: int = 50 * MB) -> Path:
    """A normal-looking article page of ``size`` bytes: many paragraphs, one per line."""
    paragraph = "<p>Жители Шымкента обсуждают новый парк, фонтаны и велодорожки в Абайском районе.</p>\n"
    block = paragraph.encode() * 1000

    def chunks() -> Iterator[bytes]:
        yield b'<html><head><meta charset="utf-8"><title>Very long page</title></head><body><article>\n'
        for _ in range(size // len(block)):
            yield block
        yield b"</article></body></html>\n"

    return _write_chunks(path, chunks())


def nested_page(path: Path, depth: int = 100_000) -> Path:
    """``depth`` nested ``<div>`` elements around an ad, closed again."""
    ad = "<p>Шишки и мефедрон, закладки, пиши @deep_hostile_example</p>"
    html = f"<html><body>{'<div>' * depth}{ad}{'</div>' * depth}</body></html>"
    return _write_chunks(path, iter([html.encode()]))


def long_line(size: int = 10 * MB) -> bytes:
    """``size`` bytes of Russian words with spaces and no line break."""
    words = "закладки мефедрон парк фонтан велодорожка город район жители "
    encoded = words.encode()
    return (encoded * (size // len(encoded) + 1))[:size].rsplit(b" ", 1)[0]


def long_line_pages(folder: Path, size: int = 10 * MB) -> list[Path]:
    """A 10 MB line as plain text, inside one tag, and as one token with no space at all."""
    line = long_line(size)
    token = (b"a." * (size // 2))[:size]  # the run that once made the e-mail pattern quadratic
    return [
        _write_chunks(folder / "long_line_text.html", iter([line])),
        _write_chunks(folder / "long_line_tag.html", iter([b"<html><body><p>", line, b"</p></body></html>"])),
        _write_chunks(folder / "long_token.html", iter([b"<html><body><p>", token, b"</p></body></html>"])),
    ]


# -- WARC records ------------------------------------------------------------------------------
def http_response(body: bytes, content_type: str = "text/html; charset=utf-8", *headers: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", f"Content-Type: {content_type}", *headers, "", ""]
    return "\r\n".join(lines).encode() + body


def warc_record(url: str, block: bytes, rec_type: str = "response", length: int | None = None) -> bytes:
    """One WARC record; ``length`` overrides the declared ``Content-Length`` (a broken record)."""
    record_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{rec_type} {url}")
    content_type = (
        "application/warc-fields" if rec_type == "warcinfo" else "application/http; msgtype=response"
    )
    head = (
        f"WARC/1.0\r\nWARC-Type: {rec_type}\r\nWARC-Record-ID: <urn:uuid:{record_id}>\r\n"
        f"WARC-Date: 2025-03-01T10:00:00Z\r\nWARC-Target-URI: {url}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(block) if length is None else length}\r\n\r\n"
    )
    return head.encode() + block + b"\r\n\r\n"


def page_record(url: str, body: bytes, content_type: str = "text/html; charset=utf-8") -> bytes:
    return warc_record(url, http_response(body, content_type))


def good_record(i: int) -> bytes:
    return page_record(*good_page(i))


def warcinfo() -> bytes:
    return warc_record("", b"software: tests/hostile_corpus.py\r\n", "warcinfo")


def member(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def _repeated_gzip(head: bytes, byte: bytes, size: int, tail: bytes = b"") -> bytes:
    """``head``, ``size`` copies of ``byte`` and ``tail`` as one gzip stream (~1000:1 for the run).

    A megabyte of the run is compressed once and its deflate output repeated: after a full flush the
    compressor starts afresh, so every copy would compress to the same bytes (a gigabyte in ~1 s).
    """
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block, copies, rest = byte * MB, size // MB, byte * (size % MB) + tail
    first = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeated = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    last = deflate.compress(rest) + deflate.flush()
    crc = zlib.crc32(head)
    for _ in range(copies):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(rest, crc)
    trailer = crc.to_bytes(4, "little") + ((len(head) + size + len(tail)) & 0xFFFFFFFF).to_bytes(4, "little")
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + first + repeated * copies + last + trailer


def bomb_body(size: int = 1024 * MB) -> bytes:
    """An HTTP body that is ``size`` zero bytes once its ``Content-Encoding: gzip`` is undone (~1 MB)."""
    return _repeated_gzip(b"", b"\x00", size)


def bomb_member(url: str, size: int = 1024 * MB) -> bytes:
    """A whole WARC record in one gzip member: an ad, then ``size`` spaces (~1 MB compressed)."""
    head = http_response(AD.format(i=99, d=9).encode().removesuffix(b"</body></html>"), "text/html")
    record_start = warc_record(url, b"", length=len(head) + size).removesuffix(b"\r\n\r\n")
    return _repeated_gzip(record_start + head, b" ", size, b"\r\n\r\n")


# -- hostile WARCs -----------------------------------------------------------------------------
# Hostile records are found by their URL
HOSTILE_URL = "https://hostile.example/{name}"


def _between_good(hostile: list[bytes], first: int = 0) -> list[bytes]:
    """warcinfo, then good, hostile, good, hostile, ..., good."""
    records = [warcinfo(), good_record(first)]
    for n, record in enumerate(hostile, start=1):
        records += [record, good_record(first + n)]
    return records


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def _png() -> bytes:
    """A real 64x64 grey PNG image."""
    raw = b"".join(b"\x00" + bytes((x * y) % 256 for x in range(64)) for y in range(64))
    header = _png_chunk(b"IHDR", b"\x00\x00\x00@\x00\x00\x00@\x08\x00\x00\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + header + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b"")


def bombs_warc(path: Path, size: int = 1024 * MB) -> Path:
    """gzip bombs: a Content-Encoding bomb of zeros, and a gzip member that inflates to ``size`` bytes."""
    encoded = http_response(bomb_body(size), "text/html", "Content-Encoding: gzip")
    hostile = [warc_record(HOSTILE_URL.format(name="content-encoding-bomb"), encoded), b""]
    members = [member(r) for r in _between_good(hostile, first=10)]
    members[4] = bomb_member(HOSTILE_URL.format(name="member-bomb"), size)  # the second hostile record
    return _write_chunks(path, iter(members))


def odd_pages_warc(path: Path) -> Path:
    """Pages that are not what they say: empty, an image and a PDF as text/html, charset lies, NULs."""
    ad = AD.format(i=0, d=9)
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n%%EOF\n"
    hostile = [
        page_record(HOSTILE_URL.format(name="empty"), b""),
        page_record(HOSTILE_URL.format(name="png"), _png(), "text/html"),
        page_record(HOSTILE_URL.format(name="pdf"), pdf, "text/html; charset=utf-8"),
        page_record(HOSTILE_URL.format(name="charset-lie"), ad.encode("utf-8"), "text/html; charset=koi8-r"),
        page_record(HOSTILE_URL.format(name="nul"), ad.replace("шишки", "ши\x00шки\x00").encode()),
        # a charset whose Python codec refuses every byte string
        page_record(
            HOSTILE_URL.format(name="undefined-charset"), ad.encode(), "text/html; charset=undefined"
        ),
    ]
    return _write_chunks(path, (member(r) for r in _between_good(hostile, first=20)))


def _length_warc(path: Path, delta: int, compress: bool) -> Path:
    url, body = HOSTILE_URL.format(name=f"content-length{delta:+d}"), AD.format(i=7, d=7).encode()
    block = http_response(body)
    broken = warc_record(url, block, length=len(block) + delta)
    records = [*_between_good([broken], first=30), good_record(32)]
    return _write_chunks(path, (member(r) if compress else r for r in records))


def wrong_length_warcs(folder: Path) -> list[Path]:
    """Content-Length 300 bytes too short and too long, in a WARC and a WARC.gz."""
    return [
        _length_warc(folder / f"length_{name}.{suffix}", delta, suffix.endswith("gz"))
        for name, delta in (("short", -300), ("long", 300))
        for suffix in ("warc", "warc.gz")
    ]


def junk_warc(path: Path) -> Path:
    """Two lines of junk between records of an uncompressed WARC."""
    records = _between_good([b"this is not a WARC record\r\nnor is this\r\n\r\n"], first=40)
    return _write_chunks(path, iter(records))


def corrupt_member_warc(path: Path) -> Path:
    """A gzip member whose deflate data is damaged in the middle, between good members."""
    damaged = bytearray(member(page_record(HOSTILE_URL.format(name="corrupt"), NEWS.format(i=5).encode())))
    for i in range(len(damaged) // 2, len(damaged) // 2 + 40):
        damaged[i] ^= 0x5A
    members = [member(r) for r in _between_good([b""], first=50)]
    members[2] = bytes(damaged)  # in place of the empty hostile record, already a gzip member
    return _write_chunks(path, iter(members))


def truncated_warc(path: Path) -> Path:
    """Four good pages, then the archive is cut in the middle of the fifth page's gzip member."""
    members = [member(r) for r in [warcinfo(), *(good_record(60 + i) for i in range(5))]]
    last = members[-1]
    return _write_chunks(path, iter([*members[:-1], last[: len(last) // 2]]))


# The good pages each generated WARC must still give, by file name
EXPECTED_GOOD: dict[str, list[str]] = {
    "bombs.warc.gz": [good_page(i)[0] for i in range(10, 13)],
    "odd_pages.warc.gz": [good_page(i)[0] for i in range(20, 27)],
    **{
        f"length_{name}.{suffix}": [good_page(i)[0] for i in (30, 31, 32)]
        for name in ("short", "long")
        for suffix in ("warc", "warc.gz")
    },
    "junk.warc": [good_page(i)[0] for i in (40, 41)],
    "corrupt_member.warc.gz": [good_page(i)[0] for i in (50, 51)],
    "truncated.warc.gz": [good_page(i)[0] for i in range(60, 64)],
}
WRITERS: dict[str, Callable[[Path], Path | list[Path]]] = {
    "big_page.html": big_page,
    "nested_tags.html": nested_page,
    "long_lines": long_line_pages,
    "bombs.warc.gz": bombs_warc,
    "odd_pages.warc.gz": odd_pages_warc,
    "wrong_lengths": wrong_length_warcs,
    "junk.warc": junk_warc,
    "corrupt_member.warc.gz": corrupt_member_warc,
    "truncated.warc.gz": truncated_warc,
}


def write_corpus(folder: Path) -> list[Path]:
    """Every generated hostile input into ``folder``; the written files, in a fixed order."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, writer in WRITERS.items():
        out = writer(folder if name in ("long_lines", "wrong_lengths") else folder / name)
        written += out if isinstance(out, list) else [out]
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/hostile_corpus.py OUT_DIR")
    for file in write_corpus(Path(sys.argv[1])):
        print(f"{file.stat().st_size:>12,}  {file}")
