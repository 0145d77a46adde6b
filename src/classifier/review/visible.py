"""Characters a reader cannot see, shown as what they are: the ``visible`` filter of the templates.

Crawled URLs and titles, typed names and comments can hide characters that change what a reader sees
without being seen themselves: direction overrides (U+202E turns ``…/\u202egnp.moc.vog.ztk`` into
``…/ktz.gov.com.png``), zero-width spaces and joiners that split a name or a word, control characters.
Every such character is shown as ``[U+202E]``, so two different texts never look the same on a page.
Line breaks and tabs stay (texts are shown with their lines); a zero-width joiner between emoji stays,
since it is what joins them into one (👨‍👩‍👧).
"""

from __future__ import annotations

import re

_EMOJI = "\u2600-\u27bf\ufe0f\U0001f000-\U0001faff"
INVISIBLE = re.compile(
    "["
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # control characters, but tab, line feed, carriage return
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"  # soft hyphen, joiners, Arabic mark, fillers
    "\u200b\u200c\u200e\u200f\u202a-\u202e\u2028\u2029\u2060-\u206f"  # zero-width, direction, separators
    "\u3164\ufeff\uffa0\ufff0-\ufffb\U0001d173-\U0001d17a\U000e0000-\U000e007f"  # fillers, BOM, tags
    "]"
    f"|(?<![{_EMOJI}])\u200d|\u200d(?![{_EMOJI}])"  # a zero-width joiner that joins no emoji
)


def visible(value: object) -> str:
    """``value`` as text, each invisible character written as ``[U+XXXX]``; None is an empty text."""
    if value is None:
        return ""
    return INVISIBLE.sub(lambda found: f"[U+{ord(found.group()):04X}]", str(value))
