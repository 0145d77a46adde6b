"""Images for the OCR tests, drawn with Pillow and Debian's DejaVu Sans (it has Cyrillic and Kazakh
letters): text lines as a seller's picture would carry them, and hostile files built byte by byte; and
the one rule for when those tests run (``require_ocr``).
"""

from __future__ import annotations

import io
import os
import random
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from classifier.common.config import ExtractSettings
from classifier.extract.ocr import ocr_status

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def require_ocr(settings: ExtractSettings) -> None:
    """Skip the calling test without Tesseract's data or DejaVu Sans, but fail it when CI is set: CI
    installs them (``.ci/run``) and must run the OCR tests."""
    status = ocr_status(settings)
    missing = status.reason if not status.available else ("" if FONT.exists() else f"no font at {FONT}")
    if missing:
        reason = f"the OCR tests need Tesseract's data and DejaVu Sans (fonts-dejavu-core): {missing}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set: CI must run the OCR tests)")
        pytest.skip(reason)


def text_image(
    lines: list[str],
    *,
    size: int = 28,
    rotation: float = 1.5,
    noise: float = 0.01,
    quality: int = 60,
    seed: int = 0,
    fmt: str = "JPEG",
) -> bytes:
    """Dark text on white, turned by ``rotation`` degrees, with a share ``noise`` of pixels speckled and
    saved as a JPEG of ``quality`` (its artefacts), as a photographed or re-posted price list looks."""
    font = ImageFont.truetype(str(FONT), size)
    width = max(int(font.getlength(line)) for line in lines) + 2 * size
    height = (size + size // 2) * len(lines) + size
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((size, size // 2 + row * (size + size // 2)), line, font=font, fill=25)
    image = image.rotate(rotation, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC)
    speckle(image, noise, random.Random(seed))
    out = io.BytesIO()
    image.convert("RGB").save(out, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return out.getvalue()


def speckle(image: Image.Image, share: float, rnd: random.Random) -> None:
    pixels = image.load()
    for _ in range(int(image.width * image.height * share)):
        pixels[rnd.randrange(image.width), rnd.randrange(image.height)] = rnd.choice((0, 140, 255))


def decompression_bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A valid 1-bit PNG of ``width``×``height`` white pixels: a few hundred kilobytes that would
    decode to ``width * height`` bytes once Pillow converts it to grayscale."""
    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte, then the row's bits
    block, blocks = row * 1000, height // 1000
    # after a full flush deflate starts afresh, so every block of identical rows compresses to the same
    # bytes: compress one and repeat it (the image is still one valid zlib stream, made in milliseconds)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    tail = row * (height % 1000)
    checksum = 1
    for part in [block] * blocks + [tail]:
        checksum = zlib.adler32(part, checksum)
    data = (
        b"\x78\xda" + packed * blocks + packer.compress(tail) + packer.flush() + struct.pack(">I", checksum)
    )
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, grayscale
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def blank_png(width: int, height: int) -> bytes:
    """A white 1-bit PNG: small on disk whatever its size in pixels."""
    out = io.BytesIO()
    Image.new("1", (width, height), 1).save(out, "PNG")
    return out.getvalue()
