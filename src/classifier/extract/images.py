"""Opening untrusted image bytes for OCR: every check the header allows is made before a pixel is
decoded, and whatever Pillow raises on a hostile file becomes a reason, never an exception.

``Image.open`` reads only the header; ``load`` decodes. A decompression bomb (a small file whose header
claims 40000×40000 pixels) is refused from its header, by ``extract.ocr_max_pixels``; Pillow's own
``DecompressionBombError`` (``Image.MAX_IMAGE_PIXELS``, far above that limit) is a second line, turned
into the same reason. A truncated or corrupt file stays an error: ``ImageFile.LOAD_TRUNCATED_IMAGES`` is
never switched on, so other users of Pillow in the process keep its safe default too.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps

# the formats pages carry images in; no EPS (Pillow runs Ghostscript for it), no rarely used decoders
ALLOWED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")
# reasons start with one of these, so callers can count them without parsing the rest
TOO_SMALL = "too small"
TOO_LARGE = "too large"
UNREADABLE = "not a readable image"
# Tesseract reads text whose letters are 20-30 pixels high best: a small image (a thumbnail, a banner)
# is enlarged twice before reading; larger ones are left alone, where enlarging made results worse
UPSCALE_BELOW_SIDE = 300


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int
    min_side: int


@dataclass(frozen=True)
class PreparedImage:
    """Grayscale pixels for Tesseract, and the size the file's header gave (before any enlarging)."""

    pixels: Image.Image
    width: int
    height: int


class ImageRefused(Exception):
    """An image not read; ``str(exc)`` is the reason, ``size`` the header's width and height if read."""

    def __init__(self, reason: str, size: tuple[int, int] = (0, 0)):
        super().__init__(reason)
        self.size = size


def open_for_ocr(data: bytes, limits: ImageLimits) -> PreparedImage:
    """The image as 8-bit grayscale on white, upright, ready for Tesseract; raises :class:`ImageRefused`."""
    if len(data) > limits.max_bytes:
        raise ImageRefused(
            f"{TOO_LARGE}: {len(data):,} bytes (extract.ocr_max_bytes is {limits.max_bytes:,})"
        )
    image = _open_header(data)
    size = image.size
    width, height = size
    if width * height > limits.max_pixels:
        raise ImageRefused(
            f"{TOO_LARGE}: {width}×{height} pixels (extract.ocr_max_pixels is {limits.max_pixels:,})", size
        )
    if min(width, height) < limits.min_side:
        raise ImageRefused(
            f"{TOO_SMALL}: {width}×{height} pixels (extract.ocr_min_side is {limits.min_side})", size
        )
    try:
        image.load()  # the only place pixels are decoded
        upright = ImageOps.exif_transpose(image)  # phone photos are stored sideways with an EXIF turn
        return PreparedImage(_grayscale_on_white(upright), width, height)
    except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, EOFError ... on hostile data
        raise ImageRefused(f"{UNREADABLE}: {_describe(exc)}", size) from None
    finally:
        image.close()


def _open_header(data: bytes) -> Image.Image:
    if not data:
        raise ImageRefused(f"{UNREADABLE}: no bytes")
    try:
        return Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageRefused(f"{TOO_LARGE}: a decompression bomb ({exc})") from None
    except Image.UnidentifiedImageError:
        raise ImageRefused(f"{UNREADABLE}: not one of {', '.join(ALLOWED_FORMATS)}") from None
    except Exception as exc:
        raise ImageRefused(f"{UNREADABLE}: {_describe(exc)}") from None


def _grayscale_on_white(image: Image.Image) -> Image.Image:
    """Transparent parts become white (converted directly they turn black and hide dark text)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    gray = image.convert("L")
    if max(gray.size) < UPSCALE_BELOW_SIDE:
        gray = gray.resize((gray.width * 2, gray.height * 2), Image.Resampling.LANCZOS)
    return gray


def _describe(exc: Exception) -> str:
    message = str(exc).strip()
    return f"{type(exc).__name__}: {message[:200]}" if message else type(exc).__name__
