"""Pages whose key text is only in a picture (issue 20): sellers post price lists as photos and
screenshots, so that a text filter sees a title and an image. The demo corpus makes a share
``corpus.image_share`` of its pages, positive and negative alike, this way, so that training and
evaluation meet the case; OCR (``extract/ocr.py``) reads the pictures back.

This module draws the pictures and the markup that shows them; ``pages.py`` decides which pages get
them. A picture is the page's text blocks in Debian's DejaVu Sans, dark on a light (sometimes tinted)
background, wrapped to a width, then mildly spoiled as a phone photo or a re-saved screenshot is: a
slight turn, faint noise or blur, JPEG compression. Mildly: with 3% salt-and-pepper noise Tesseract
rus+kaz+eng loses the Kazakh marks (Қ→К, ү→у), and a corpus whose Kazakh pictures cannot be read
teaches nothing. Everything is drawn from the ``random.Random`` passed in, so a seed gives the same bytes.
"""

from __future__ import annotations

import io
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # Debian's fonts-dejavu-core
MAX_LINES = 30  # lines per picture: a longer text is posted as several pictures, as an album is
TELEGRAM_CDN = "https://cdn4.telesco.pe.example/file"  # where Telegram previews load post photos from
# what a poster writes next to the picture: never the offer, on both sides alike (no label cue)
CAPTIONS = {
    "ru": ("Подробности на фото", "Актуально", "Смотрите фото 👇", "Всё на картинке", "👇👇👇", "Обновили"),
    "kk": ("Толығырақ суретте", "Өзекті", "Суретті қараңыз 👇", "Барлығы суретте", "👇👇👇", "Жаңартылды"),
}
# zero-width joiners and emoji variation selectors: DejaVu draws them as visible marks, a phone does not
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", *map(chr, range(0xFE00, 0xFE10))}


def font_problem(path: Path = FONT_PATH) -> str:
    """Why pictures cannot be drawn, or "" when they can: without the font the pages stay text."""
    if path.is_file():
        return ""
    return f"no font {path} (apt-get install fonts-dejavu-core); image pages were not made"


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont:
    # the basic layout engine: the same glyph positions with or without libraqm on the machine
    return ImageFont.truetype(str(FONT_PATH), size, layout_engine=ImageFont.Layout.BASIC)


@lru_cache(maxsize=1)
def _notdef() -> tuple[tuple[int, int], bytes]:
    mask = _font(24).getmask("\u0378")  # an unassigned code point: the font's "missing glyph" box
    return mask.size, bytes(mask)


@lru_cache(maxsize=8192)
def _as_letters(char: str) -> str:
    """A character the font lacks, as the plain characters it is a style of (NFKC), if the font has
    those; else nothing."""
    plain = unicodedata.normalize("NFKC", char)
    return plain if plain != char and all(drawable(c) for c in plain) else ""


@lru_cache(maxsize=8192)
def drawable(char: str) -> bool:
    """Whether DejaVu Sans has a glyph for ``char``: a missing one renders as the .notdef box.

    Emoji (🔥, ✅, 💰) are not in DejaVu; a poster's picture would show them, ours drops them rather than
    draw boxes that OCR reads as letters. Symbols the font has (₸, ❄, ☎, →) stay.
    """
    if char in _INVISIBLE:
        return False
    if char.isspace():  # line breaks and spaces: the layout, not glyphs
        return True
    if unicodedata.category(char) in ("Cc", "Cf"):
        return False
    mask = _font(24).getmask(char)
    return (mask.size, bytes(mask)) != _notdef()


def printable(text: str) -> str:
    """``text`` as a picture shows it: stylised letters the font lacks (𝐚, 𝐏: mathematical bold) drawn
    as the letters they are, as any picture of them shows a letter; other characters the font lacks
    (emoji) left out, and the spaces their loss doubled with them."""
    kept = "".join(c if drawable(c) else _as_letters(c) for c in text)
    return "\n".join(" ".join(line.split()) for line in kept.splitlines())


def wrap(line: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap of one line to ``width`` pixels; a word longer than the width gets a line."""
    lines: list[str] = []
    current = ""
    for word in line.split():
        candidate = f"{current} {word}" if current else word
        if current and font.getlength(candidate) > width:
            lines.append(current)
            candidate = word
        current = candidate
    return [*lines, current] if current else lines


def picture_lines(blocks: Sequence[str], font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """The wrapped lines of all blocks, a blank line between blocks (as the post had them)."""
    lines: list[str] = []
    for block in blocks:
        wrapped = [w for line in printable(block).split("\n") for w in wrap(line, font, width)]
        if wrapped:
            lines.extend(([""] if lines else []) + wrapped)
    return lines


@dataclass(frozen=True)
class Style:
    """How one page's pictures look: the same for all of them, as one poster made them."""

    size: int  # font size in px; DejaVu's capitals are 0.73 em, so 20-25 px high: what Tesseract reads best
    width: int
    margin: int
    step: int  # line height
    centred: bool  # price lists and posters are often centred
    background: tuple[int, int, int]
    ink: tuple[int, int, int]

    @classmethod
    def draw(cls, rng: random.Random) -> Style:
        size = rng.randint(28, 34)
        width, margin = rng.choice((720, 800, 900)), rng.randint(24, 48)
        step, centred = round(size * rng.uniform(1.3, 1.55)), rng.random() < 0.3
        if rng.random() < 0.5:  # white paper or a screen, else a faintly tinted card
            background = (rng.randint(240, 255),) * 3
        else:
            background = (rng.randint(215, 255), rng.randint(215, 255), rng.randint(215, 255))
        ink = (rng.randint(0, 70), rng.randint(0, 70), rng.randint(0, 70))
        return cls(size, width, margin, step, centred, background, ink)


def draw_text(lines: Sequence[str], style: Style) -> Image.Image:
    """The (wrapped) lines on a clean canvas."""
    font = _font(style.size)
    height = 2 * style.margin + style.step * max(1, len(lines))
    canvas = Image.new("RGB", (style.width, height), style.background)
    draw = ImageDraw.Draw(canvas)
    for row, line in enumerate(lines):
        x = (style.width - font.getlength(line)) / 2 if style.centred else style.margin
        draw.text((x, style.margin + row * style.step), line, font=font, fill=style.ink)
    return canvas


def spoil(image: Image.Image, rng: random.Random) -> Image.Image:
    """Mild realism: a turn of up to 2°, sometimes a slight blur, faint Gaussian noise."""
    background = image.getpixel((0, 0))
    image = image.rotate(
        rng.uniform(-2.0, 2.0), resample=Image.Resampling.BILINEAR, expand=True, fillcolor=background
    )
    if rng.random() < 0.4:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.7)))
    sigma = rng.uniform(2.0, 7.0)
    noise = np.random.default_rng(rng.getrandbits(64)).standard_normal(
        (image.height, image.width, 1), dtype=np.float32
    )
    pixels = np.asarray(image, dtype=np.float32) + sigma * noise
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def to_jpeg(image: Image.Image, rng: random.Random) -> bytes:
    """JPEG at quality 60-85, as messengers and CMSs re-save uploads; no timestamps, so bytes repeat."""
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=rng.randint(60, 85))
    return out.getvalue()


def chunks(lines: list[str]) -> list[list[str]]:
    """Lines cut into pictures of at most ``MAX_LINES``, preferably at a blank line between blocks."""
    cut: list[list[str]] = [[]]
    for line in lines:
        if len(cut[-1]) >= MAX_LINES or (not line and len(cut[-1]) > MAX_LINES * 2 // 3):
            cut.append([])
        if line or cut[-1]:  # a picture never starts with a blank line
            cut[-1].append(line)
    return [c for c in cut if c]


def render_pictures(blocks: Sequence[str], rng: random.Random) -> tuple[bytes, ...]:
    """The blocks as one JPEG, or several when they run past ``MAX_LINES`` lines (an album).

    Requires the font (:func:`font_problem`); an empty text gives one blank picture."""
    style = Style.draw(rng)
    lines = picture_lines(blocks, _font(style.size), style.width - 2 * style.margin)
    return tuple(to_jpeg(spoil(draw_text(c, style), rng), rng) for c in chunks(lines) or [[]])


def image_url(page_url: str, layout: str, rng: random.Random) -> str:
    """Where the picture lives: the page's own site, or Telegram's photo CDN for a channel post."""
    key = f"{rng.getrandbits(64):016x}"
    if layout == "telegram":
        return f"{TELEGRAM_CDN}/{key}{rng.getrandbits(128):032x}.jpg"
    parts = urlsplit(page_url)
    path = {
        "shop": f"/upload/iblock/{key[:3]}/{key}.jpg",
        "forum": f"/data/attachments/{key[:4]}/{key}.jpg",
        "classifieds": f"/img/ad/{key}.jpg",
        "social": f"/photos/{key}.jpg",
        "news": f"/media/{key}.jpg",
    }.get(layout, f"/img/{key}.jpg")
    return f"{parts.scheme}://{parts.netloc}{path}"


def image_html(url: str, layout: str, page_url: str) -> str:
    """The markup that shows a picture where the text blocks were."""
    if layout == "telegram":  # a channel post's photo, as t.me/s/ previews show it
        return (
            f'<a class="tgme_widget_message_photo_wrap" href="{page_url}" '
            f"style=\"width:800px;background-image:url('{url}')\">"
            '<div class="tgme_widget_message_photo" style="padding-top:75%"></div></a>'
        )
    return f'<img src="{url}" alt="">'


def caption(lang: str, rng: random.Random) -> str:
    """A line a poster puts next to the picture, in the page's language; it never carries the offer."""
    side = rng.choice(("ru", "kk")) if lang == "mixed" else ("kk" if lang == "kk" else "ru")
    return rng.choice(CAPTIONS[side])
