"""Extracted documents cached by record id (a hash of URL and content) in one SQLite file, keyed by a
fingerprint of the settings and extractor versions, so a second run does no work and a changed
setting never reads a stale document.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

import trafilatura

from classifier.common.config import ExtractSettings
from classifier.common.surrogates import LONE_SURROGATE
from classifier.extract.documents import EXTRACTOR_VERSION
from classifier.extract.fast_engine import FAST_EXTRACTOR_VERSION
from classifier.extract.image_text import ocr_state


def settings_fingerprint(settings: ExtractSettings) -> str:
    """Changes whenever a setting or the extractor changes, so stale cache entries are never read."""
    key = json.dumps(asdict(settings), sort_keys=True) + EXTRACTOR_VERSION + trafilatura.__version__
    key += ocr_state(settings)  # Tesseract installed since, or another version: images read anew
    if settings.engine == "resiliparse":
        from importlib.metadata import version

        key += version("resiliparse") + FAST_EXTRACTOR_VERSION
    return hashlib.sha1(key.encode()).hexdigest()[:10]


class ExtractionCache:
    """Documents by record id in one SQLite file, used only by the main process.

    joblib plans tasks from its own thread while results are written from the caller's, so the
    connection is shared between threads behind a lock.
    """

    def __init__(self, path: Path, fingerprint: str):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fingerprint = fingerprint
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS documents (key TEXT PRIMARY KEY, doc TEXT NOT NULL)")

    def _key(self, record_id: str) -> str:
        return f"{self.fingerprint}:{record_id}"

    def get_many(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        keys = [self._key(i) for i in ids]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            with self.lock:
                rows = self.db.execute(
                    f"SELECT key, doc FROM documents WHERE key IN ({marks})", part
                ).fetchall()
            for key, doc in rows:
                found[key.split(":", 1)[1]] = json.loads(doc)
        return found

    def put_many(self, docs: list[dict[str, Any]]) -> None:
        rows = [(self._key(d["id"]), _cache_json(d)) for d in docs]
        with self.lock, self.db:
            self.db.executemany("INSERT OR REPLACE INTO documents VALUES (?, ?)", rows)

    def close(self) -> None:
        self.db.close()


def _cache_json(doc: dict[str, Any]) -> str:
    text = json.dumps(doc, ensure_ascii=False)
    # SQLite stores UTF-8, which has no lone surrogates; escaped, they come back from json.loads unchanged
    return json.dumps(doc) if LONE_SURROGATE.search(text) else text
