"""Real Russian and Kazakh texts for decoding tests: every 20th line of ../shared/data/real when it is
there, else the small sample bundled in tests/resources (written for the tests, not copied)."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path

from classifier.common.config import SHARED_REAL_DATA

SAMPLE = Path(__file__).parent / "resources" / "cyrillic_texts.jsonl"
SINGLE_BYTE = ("windows-1251", "koi8-r", "cp866", "kz1048", "mac-cyrillic", "iso8859-5")


@cache
def real_texts() -> tuple[str, ...]:
    """The texts that some single-byte Cyrillic charset can hold, in any letter case."""
    texts: list[str] = []
    if SHARED_REAL_DATA.is_dir():
        for path in sorted(SHARED_REAL_DATA.glob("*.jsonl.gz")):
            with gzip.open(path, "rt", encoding="utf-8") as lines:
                texts += [json.loads(line)["text"] for n, line in enumerate(lines) if n % 20 == 0]
    if not texts:
        texts = [json.loads(line)["text"] for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    return tuple(t for t in texts if charsets_for(t))


def charsets_for(text: str) -> list[str]:
    """The single-byte Cyrillic charsets that can hold ``text`` in lower case, in capitals and as it is."""
    holding = []
    for charset in SINGLE_BYTE:
        try:
            text.upper().encode(charset), text.lower().encode(charset), text.encode(charset)
        except UnicodeEncodeError:
            continue
        holding.append(charset)
    return holding
