"""Malformed HTML for the demo corpus: breakers that damage a rendered page the way real pages are damaged.

Each breaker damages markup only (tags, attributes, the document's end), never the escaped text;
`break_html` picks some of them and applies them in a fixed order.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable


def _paragraph_in_inline(doc: str, rng: random.Random) -> str:
    spans = [m.span() for m in re.finditer(r"<p[ >].*?</p>", doc, flags=re.S)]
    if not spans:
        return doc
    start, end = rng.choice(spans)
    tag = rng.choice(("span", "font", "b", "em"))
    return f"{doc[:start]}<{tag}>{doc[start:end]}</{tag}>{doc[end:]}"


def _mismatched_nesting(doc: str, rng: random.Random) -> str:
    anchors = list(re.finditer(r"(<a [^>]*>)([^<]*)</a>", doc))
    if not anchors:
        return doc
    m = rng.choice(anchors)
    return f"{doc[: m.start()]}<b>{m.group(1)}{m.group(2)}</b></a>{doc[m.end() :]}"


def _stray_closers(doc: str, rng: random.Random) -> str:
    starts = [m.start() for m in re.finditer(r"<div[ >]", doc)]
    for pos in sorted(rng.sample(starts, min(len(starts), rng.randint(1, 3))), reverse=True):
        doc = doc[:pos] + rng.choice(("</div>", "</span>", "</td></tr>", "</b>")) + doc[pos:]
    return doc


def _unclosed_tags(doc: str, rng: random.Random) -> str:
    return re.sub(r"</(li|p|div|span)>", lambda m: "" if rng.random() < 0.25 else m.group(0), doc)


def _unquoted_attributes(doc: str, rng: random.Random) -> str:
    return re.sub(
        r'(\s[a-z-]+)="([\w#/.:?=-]+)"',
        lambda m: f"{m.group(1)}={m.group(2)}" if rng.random() < 0.6 else m.group(0),
        doc,
    )


def _broken_end(doc: str, rng: random.Random) -> str:
    """Drop </body></html>, or leave a comment open where they were."""
    tail = re.search(r"</body>\s*</html>\s*$", doc)
    cut = tail.start() if tail else len(doc)
    if rng.random() < 0.5:
        return doc[:cut]
    return doc[:cut] + rng.choice(("<!-- counter ", "<!-- /.wrapper\n", "<!--noindex-->\n<!-- Metrika "))


_BREAKERS: tuple[Callable[[str, random.Random], str], ...] = (
    _paragraph_in_inline,
    _mismatched_nesting,
    _stray_closers,
    _unclosed_tags,
    _unquoted_attributes,
    _broken_end,
)


def break_html(doc: str, rng: random.Random) -> str:
    """Damage a page the way hand-written and CMS pages are damaged; its text stays."""
    chosen = [b for b in _BREAKERS if rng.random() < 0.6] or [rng.choice(_BREAKERS)]
    for breaker in chosen:  # in _BREAKERS order: the document's end is cut last
        doc = breaker(doc, rng)
    return doc
