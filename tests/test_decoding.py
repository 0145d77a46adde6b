from __future__ import annotations

import pytest

from classifier.decoding import charset_from_content_type, decode_html, plausibility, sniff_meta_charset

RUSSIAN = (
    "<html><body><p>Продаётся дом в Шымкенте, недорого. Звоните вечером, обсудим цену.</p></body></html>"
)


@pytest.mark.parametrize("encoding", ["utf-8", "windows-1251", "koi8-r", "cp866"])
def test_undeclared_cyrillic_is_detected(encoding: str) -> None:
    decoded = decode_html(RUSSIAN.encode(encoding))
    assert decoded.text == RUSSIAN
    assert decoded.method in ("utf-8", "detected")


def test_declared_charset_is_used() -> None:
    decoded = decode_html(RUSSIAN.encode("windows-1251"), declared="windows-1251")
    assert (decoded.text, decoded.method) == (RUSSIAN, "header")


def test_wrong_declaration_is_overruled() -> None:
    decoded = decode_html(RUSSIAN.encode("koi8-r"), declared="windows-1251")
    assert decoded.text == RUSSIAN
    assert decoded.encoding == "koi8-r"


def test_meta_charset_is_read() -> None:
    page = RUSSIAN.replace(
        "<html>", '<html><meta http-equiv="Content-Type" content="text/html; charset=koi8-r">'
    )
    decoded = decode_html(page.encode("koi8-r"))
    assert (decoded.encoding, decoded.method) == ("koi8-r", "meta")


def test_unknown_declared_charset_does_not_crash() -> None:
    assert decode_html(RUSSIAN.encode("utf-8"), declared="x-no-such-charset").text == RUSSIAN


def test_kazakh_single_byte_page() -> None:
    text = "<p>Қазақстан Республикасы, Шымкент қаласы, әкімдік ғимараты. Бүгін жиналыс өтеді.</p>"
    assert decode_html(text.encode("kz1048")).text == text


def test_bom_wins() -> None:
    assert decode_html("\ufeff".encode("utf-8") + RUSSIAN.encode("utf-8")).text == RUSSIAN


def test_garbage_never_raises() -> None:
    decoded = decode_html(bytes(range(256)) * 10)
    assert isinstance(decoded.text, str)


def test_helpers() -> None:
    assert charset_from_content_type("text/html; charset=KOI8-R") == "KOI8-R"
    assert charset_from_content_type("text/html") is None
    assert sniff_meta_charset(b'<meta charset="utf-8">') == "utf-8"
    assert plausibility("обычный текст") > plausibility("ОБЫЧНЫЙ ТЕКСТ")
