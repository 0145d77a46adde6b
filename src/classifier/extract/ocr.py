"""Text in images (issue 20): sellers post price lists and posters as pictures to slip past text filters.

Tesseract through tesserocr (its wheel bundles libtesseract) reads Debian's language data
(``tesseract-ocr-rus``, ``-kaz``, ``-eng`` in ``/usr/share/tesseract-ocr/5/tessdata``). OCR is optional:
without tesserocr or the data, :func:`ocr_status` says why, once per process in the log, and every image
becomes an error "OCR is off: …", so the rest of the pipeline runs as before.

Every image ends as one :class:`ImageText`: its text and Tesseract's mean confidence, or an error with the
reason (too small, too large, a decompression bomb, truncated, too many on the page, timed out). One
Tesseract instance per thread is reused (loading the models takes longer than reading a price list), and
results are kept by the image's SHA-256, in memory and in an SQLite file, so the same picture on a thousand
mirror pages is read once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from PIL import Image

from classifier.common.config import INTERIM_DIR, ExtractSettings
from classifier.common.faults import slow_point
from classifier.extract.images import TOO_SMALL, ImageLimits, ImageRefused, open_for_ocr

log = logging.getLogger(__name__)

OCR_VERSION = "1"  # change it when the preprocessing changes: cached texts from before are not read then
DEBIAN_TESSDATA = Path("/usr/share/tesseract-ocr/5/tessdata")
OCR_CACHE = INTERIM_DIR / "ocr_cache.sqlite"  # the on-disk cache a caller passes when extract.cache is on
OCR_OFF = "OCR is off"
TOO_MANY = "skipped"
TIMED_OUT = "timed out"
RECOGNITION_FAILED = "recognition failed"
# results not kept: they depend on the machine or its load, not on the image
NOT_CACHED = (OCR_OFF, TIMED_OUT, RECOGNITION_FAILED)


@dataclass(frozen=True)
class ImageText:
    """What was read from one image: ``text`` (one line per line read) or ``error`` with the reason."""

    name: str  # where the image came from (its URL or file name), as the caller gave it
    sha256: str
    text: str = ""
    confidence: float = 0.0  # Tesseract's mean word confidence, 0-1
    error: str = ""
    width: int = 0  # from the header, when it was read
    height: int = 0

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass(frozen=True)
class OcrStatus:
    available: bool
    reason: str  # why not, when not available
    tessdata: Path


_reported: set[str] = set()
_report_lock = threading.Lock()


def tessdata_dir(settings: ExtractSettings) -> Path:
    """extract.ocr_tessdata, else $TESSDATA_PREFIX, else where Debian's packages put the data."""
    return Path(settings.ocr_tessdata or os.environ.get("TESSDATA_PREFIX") or DEBIAN_TESSDATA)


def ocr_status(settings: ExtractSettings) -> OcrStatus:
    """Whether OCR can run with these settings and, if not, why; the reason is logged once per process."""
    tessdata = tessdata_dir(settings)
    reason = _missing(settings, tessdata)
    if reason:
        _report_once(reason, quiet=not settings.ocr)
    return OcrStatus(available=not reason, reason=reason, tessdata=tessdata)


def _missing(settings: ExtractSettings, tessdata: Path) -> str:
    if not settings.ocr:
        return "extract.ocr is false"
    if importlib.util.find_spec("tesserocr") is None:
        return "the Python package tesserocr is not installed (bash scripts/setup-venv.sh installs it)"
    languages = [lang for lang in settings.ocr_languages.split("+") if lang]
    if not languages:
        return "extract.ocr_languages names no language"
    absent = [lang for lang in languages if not (tessdata / f"{lang}.traineddata").is_file()]
    if absent:
        packages = " ".join(f"tesseract-ocr-{lang}" for lang in absent)
        return f"no language data for {', '.join(absent)} in {tessdata} (apt-get install {packages})"
    return ""


def _report_once(reason: str, quiet: bool) -> None:
    with _report_lock:
        if reason in _reported:
            return
        _reported.add(reason)
    level = logging.INFO if quiet else logging.WARNING
    log.log(level, "%s: %s; text in images is not read", OCR_OFF, reason)


class TesseractEngine:
    """Tesseract, one instance per thread, made on first use and reused; counts the images it read."""

    def __init__(self, tessdata: Path, languages: str, timeout_seconds: float = 0.0):
        self.tessdata = tessdata
        self.languages = languages
        self.timeout_ms = round(timeout_seconds * 1000)
        self.recognitions = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._apis: list = []

    def recognise(self, image: Image.Image, name: str = "") -> tuple[str, float]:
        """The text (blank lines dropped) and the mean confidence (0-1); raises TimeoutError, RuntimeError.

        The time limit counts from here: what Tesseract gets is what setting the image left of it (so a
        test meets the limit with ``slow_point("ocr.recognise")``, slow by construction)."""
        started = time.monotonic()
        api = self._api()
        with self._lock:
            self.recognitions += 1
        slow_point("ocr.recognise", name)
        api.SetImage(image)
        left_ms = self.timeout_ms - round(1000 * (time.monotonic() - started)) if self.timeout_ms else 0
        if (self.timeout_ms and left_ms <= 0) or not api.Recognize(timeout=left_ms):
            raise TimeoutError(f"after {self.timeout_ms / 1000:g} s (extract.ocr_timeout_seconds)")
        lines = (line.strip() for line in api.GetUTF8Text().splitlines())
        text = "\n".join(line for line in lines if line)
        return text, (api.MeanTextConf() / 100 if text else 0.0)

    def _api(self):  # a tesserocr.PyTessBaseAPI
        api = getattr(self._local, "api", None)
        if api is None:
            import tesserocr  # optional: ocr_status says when it is missing

            api = tesserocr.PyTessBaseAPI(path=str(self.tessdata), lang=self.languages)
            self._local.api = api
            with self._lock:
                self._apis.append(api)
        return api

    def version(self) -> str:
        import tesserocr

        return tesserocr.tesseract_version().splitlines()[0]

    def close(self) -> None:
        """Frees every thread's instance; call it when no thread reads any more."""
        with self._lock:
            apis, self._apis = self._apis, []
        for api in apis:
            api.End()
        self._local = threading.local()


class OcrCache:
    """Texts by image hash: a bounded dict per process, and an SQLite file shared by runs if given.

    The key holds a fingerprint of the settings that change what is read (languages, limits), the
    Tesseract version and :data:`OCR_VERSION`, so a changed setting never reads a stale text.
    """

    MEMORY_ENTRIES = 20_000

    def __init__(self, fingerprint: str, path: Path | None = None):
        self.fingerprint = fingerprint
        self.lock = threading.Lock()
        self.memory: dict[str, ImageText] = {}
        self.db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, check_same_thread=False, timeout=60)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS image_texts (key TEXT PRIMARY KEY, result TEXT NOT NULL)"
            )

    def get(self, sha256: str) -> ImageText | None:
        key = f"{self.fingerprint}:{sha256}"
        with self.lock:
            found = self.memory.get(key)
            if found is None and self.db is not None:
                row = self.db.execute("SELECT result FROM image_texts WHERE key = ?", (key,)).fetchone()
                if row:
                    found = ImageText(**json.loads(row[0]))
                    self._remember(key, found)
        return found

    def put(self, result: ImageText) -> None:
        if result.error.startswith(NOT_CACHED):
            return
        key = f"{self.fingerprint}:{result.sha256}"
        with self.lock:
            self._remember(key, result)
            if self.db is not None:
                with self.db:
                    self.db.execute(
                        "INSERT OR REPLACE INTO image_texts VALUES (?, ?)",
                        (key, json.dumps(asdict(result), ensure_ascii=False)),
                    )

    def _remember(self, key: str, result: ImageText) -> None:
        if len(self.memory) >= self.MEMORY_ENTRIES:
            self.memory.pop(next(iter(self.memory)))  # the oldest: dicts keep insertion order
        self.memory[key] = result

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


class ImageReader:
    """Reads the text in a page's images under the settings' caps, with the cache; safe to share by threads.

    ``cache_path``: an SQLite file kept across runs (:data:`OCR_CACHE`), or None for the in-memory one only.
    """

    def __init__(self, settings: ExtractSettings, cache_path: Path | None = None):
        self.settings = settings
        self.status = ocr_status(settings)
        self.limits = ImageLimits(settings.ocr_max_bytes, settings.ocr_max_pixels, settings.ocr_min_side)
        self.engine = TesseractEngine(
            self.status.tessdata, settings.ocr_languages, settings.ocr_timeout_seconds
        )
        fingerprint = ocr_fingerprint(settings, self.engine.version() if self.status.available else "")
        self.cache = OcrCache(fingerprint, cache_path if self.status.available else None)

    def read_image(self, data: bytes, name: str = "") -> ImageText:
        """The text in one image, from the cache when the same bytes were read before."""
        return self._read(data, name, hashlib.sha256(data).hexdigest())

    def _read(self, data: bytes, name: str, sha256: str) -> ImageText:
        if not self.status.available:
            return ImageText(name, sha256, error=f"{OCR_OFF}: {self.status.reason}")
        cached = self.cache.get(sha256)
        if cached is not None:
            return replace(cached, name=name)
        result = self._recognise(data, name, sha256)
        self.cache.put(result)
        return result

    def read_page_images(self, images: Iterable[tuple[str, bytes]]) -> list[ImageText]:
        """One result per ``(name, bytes)``, in order. Images too small (icons, spacers) and repeats of an
        image already read on the page do not count towards extract.ocr_max_images_per_page; past it, the
        rest are skipped with that reason."""
        cap = self.settings.ocr_max_images_per_page
        results: list[ImageText] = []
        on_page: dict[str, ImageText] = {}
        counted = 0
        for name, data in images:
            sha256 = hashlib.sha256(data).hexdigest()
            if sha256 in on_page:
                results.append(replace(on_page[sha256], name=name))
                continue
            if counted >= cap and self.status.available:
                reason = f"{TOO_MANY}: more than {cap} images on the page (extract.ocr_max_images_per_page)"
                results.append(ImageText(name, sha256, error=reason))
                continue
            result = self._read(data, name, sha256)
            counted += not result.error.startswith(TOO_SMALL)
            on_page[sha256] = result
            results.append(result)
        return results

    def _recognise(self, data: bytes, name: str, sha256: str) -> ImageText:
        try:
            image = open_for_ocr(data, self.limits)
        except ImageRefused as refused:
            width, height = refused.size
            return ImageText(name, sha256, error=str(refused), width=width, height=height)
        size = {"width": image.width, "height": image.height}
        try:
            text, confidence = self.engine.recognise(image.pixels, name)
        except TimeoutError as exc:
            return ImageText(name, sha256, error=f"{TIMED_OUT}: {exc}", **size)
        except RuntimeError as exc:  # tesserocr: data that does not load, an image it cannot take
            return ImageText(name, sha256, error=f"{RECOGNITION_FAILED}: {exc}", **size)
        finally:
            image.pixels.close()
        return ImageText(name, sha256, text, round(confidence, 3), **size)

    def close(self) -> None:
        self.engine.close()
        self.cache.close()


def ocr_fingerprint(settings: ExtractSettings, tesseract_version: str) -> str:
    """Changes whenever what is read from the same bytes may change."""
    fields = ("ocr_languages", "ocr_tessdata", "ocr_min_side", "ocr_max_pixels", "ocr_max_bytes")
    key = (
        json.dumps({f: getattr(settings, f) for f in fields}, sort_keys=True)
        + tesseract_version
        + OCR_VERSION
    )
    return hashlib.sha1(key.encode()).hexdigest()[:10]
