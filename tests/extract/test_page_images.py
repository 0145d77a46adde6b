"""Which images a page shows (``extract/page_images.py``): the sources OCR will read, in page order, each
once; inline images decoded within their cap; nothing that is no image."""

from __future__ import annotations

import base64

from classifier.extract.html import parse_html
from classifier.extract.page_images import MAX_IMAGE_REFS, ImageRef, page_images

PAGE = "https://shop.example/catalog/index.html"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40  # the bytes are not read here: OCR opens them (extract/images.py)


def images(html: str, base: str = PAGE, max_inline_bytes: int = 1000) -> list[ImageRef]:
    return page_images(parse_html(html), base, max_inline_bytes)


def test_img_sources_in_page_order_resolved_and_each_once() -> None:
    html = """<html><head><meta property="og:image" content="/og/price.jpg"></head><body>
      <img src="menu.png" alt="  Меню   и цены ">
      <img data-src="//cdn.example/lazy.webp" src="data:,">
      <img srcset="small.jpg 320w, big.jpg 1280w, mid.jpg 640w" src="fallback.jpg">
      <img src="menu.png">
      <a class="tgme_widget_message_photo_wrap" style="width:100%;background-image:url('https://cdn4.telesco.pe/file/abc.jpg')"></a>
      <div style="background: #fff url(&quot;/bg/poster.png&quot;) no-repeat"></div>
    </body></html>"""
    found = images(html)
    assert [ref.url for ref in found] == [
        "https://shop.example/og/price.jpg",
        "https://shop.example/catalog/menu.png",
        "https://cdn.example/lazy.webp",
        "https://shop.example/catalog/big.jpg",  # the widest srcset candidate
        "https://shop.example/catalog/fallback.jpg",
        "https://cdn4.telesco.pe/file/abc.jpg",  # a Telegram post's photo, as t.me/s shows it
        "https://shop.example/bg/poster.png",
    ]
    assert found[1].alt == "Меню и цены"
    assert all(ref.data is None and not ref.error for ref in found)


def test_an_inline_image_is_decoded_and_kept_as_bytes() -> None:
    encoded = base64.b64encode(PNG).decode()
    spaced = encoded[:10] + "\n  " + encoded[10:]  # base64 split over lines, as editors write it
    found = images(f'<p>цены</p><img src="data:image/png;base64,{spaced}" alt="прайс"><img src="x.gif">')
    assert found[0] == ImageRef("data:image/png", data=PNG, alt="прайс")
    assert found[1].url == "https://shop.example/catalog/x.gif"


def test_inline_images_too_large_or_broken_are_errors_and_others_are_not_images() -> None:
    big = base64.b64encode(b"\x00" * 5000).decode()
    html = (
        f'<img src="data:image/jpeg;base64,{big}">'
        '<img src="data:image/png;base64,@@not base64@@">'
        '<img src="data:text/html;base64,PHNjcmlwdD4=">'  # no image: nothing for OCR
        '<img src="javascript:alert(1)"><img src="#top"><img src="blob:https://x.example/1"><img src="">'
        '<img src="ftp://files.example/a.png">'
    )
    found = images(html, max_inline_bytes=1000)
    assert [(ref.url, ref.data) for ref in found] == [("data:image/jpeg", None), ("data:image/png", None)]
    assert "larger than 1000 bytes" in found[0].error
    assert "not readable" in found[1].error


def test_a_page_with_thousands_of_images_gives_at_most_the_cap() -> None:
    html = "".join(f'<img src="/i/{n}.png">' for n in range(MAX_IMAGE_REFS * 3))
    found = images(html)
    assert len(found) == MAX_IMAGE_REFS
    assert found[0].url == "https://shop.example/i/0.png"


def test_without_a_page_url_only_absolute_sources_are_kept() -> None:
    found = images('<img src="/relative.png"><img src="https://abs.example/a.png">', base="")
    assert [ref.url for ref in found] == ["https://abs.example/a.png"]
