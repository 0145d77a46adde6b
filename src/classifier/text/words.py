"""Words of normalised text, as the model's word features and the review page's highlighting see them."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+")  # placeholders (_tg_) and emoji tokens (emoji_leaf) stay whole
_NONZERO_DIGIT = re.compile(r"[1-9]")


def tokenize(normalised: str) -> list[str]:
    """Words of normalised text, every digit as 0 (15000тг -> 00000тг) so that prices generalise."""
    return _TOKEN.findall(_NONZERO_DIGIT.sub("0", normalised))
