"""Lone surrogates: what a JSON ``"\\ud800"`` escape leaves in a Python string.

They are no characters: UTF-8 cannot encode them, so no output (SQLite, PostgreSQL, Parquet, pandas
strings) and no Rust library (lingua) takes them. Input can carry them, so every stage that hands text
on replaces them, the one way this module does.
"""

from __future__ import annotations

import re

LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD, the replacement character."""
    return LONE_SURROGATE.sub("\ufffd", text)
