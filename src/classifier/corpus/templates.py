"""Template families: loading, validating and rendering them into a title and text blocks.

The format is described in ``corpus/README.md``. Rendering is deterministic for a given RNG.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from classifier.corpus.slot_values import GENERATORS, PageContext, load_vocab

LAYOUTS = ("shop", "telegram", "forum", "classifieds", "social", "news", "bare")
CATEGORIES = ("sale", "recruitment", "propaganda")
LANGS = ("ru", "kk", "mixed")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_MAX_DEPTH = 5


class TemplateError(ValueError):
    """A family file that cannot be rendered: the message names the family and the problem."""


@dataclass(frozen=True)
class Family:
    name: str
    label: int
    category: str
    kind: str
    hard: bool
    lang: str
    layouts: tuple[str, ...]
    title: tuple[str, ...]
    pools: dict[str, Any]
    parts: tuple[dict[str, Any], ...]
    source: str


@dataclass(frozen=True)
class RenderedText:
    title: str
    blocks: tuple[str, ...]


def _normalise_part(part: Any, family: str) -> dict[str, Any]:
    if isinstance(part, list):
        part = {"alts": part}
    if not isinstance(part, dict) or not part.get("alts"):
        raise TemplateError(f"{family}: every part needs alternatives, got {part!r}")
    repeat = part.get("repeat", [1, 1])
    if isinstance(repeat, int):
        repeat = [repeat, repeat]
    return {
        "alts": [str(a) for a in part["alts"]],
        "p": float(part.get("p", 1.0)),
        "repeat": (int(repeat[0]), int(repeat[1])),
        "join": str(part.get("join", "\n")),
    }


def parse_family(raw: dict[str, Any], source: str) -> Family:
    name = raw.get("name")
    if not name:
        raise TemplateError(f"{source}: a family without a name")
    label = int(raw.get("label", -1))
    category = str(raw.get("category", "none"))
    lang = str(raw.get("lang", ""))
    layouts = tuple(raw.get("layouts") or ())
    problems = []
    if label not in (0, 1):
        problems.append("label must be 0 or 1")
    if label == 1 and category not in CATEGORIES:
        problems.append(f"category must be one of {CATEGORIES}")
    if lang not in LANGS:
        problems.append(f"lang must be one of {LANGS}")
    if not layouts or any(layout not in LAYOUTS for layout in layouts):
        problems.append(f"layouts must be a non-empty subset of {LAYOUTS}")
    if not raw.get("parts"):
        problems.append("parts are missing")
    if problems:
        raise TemplateError(f"{name} ({source}): " + "; ".join(problems))
    return Family(
        name=name,
        label=label,
        category=category if label == 1 else "none",
        kind=str(raw.get("kind", category)),
        hard=bool(raw.get("hard", False)) and label == 0,
        lang=lang,
        layouts=layouts,
        title=tuple(str(t) for t in raw.get("title") or ()),
        pools=dict(raw.get("pools") or {}),
        parts=tuple(_normalise_part(p, name) for p in raw["parts"]),
        source=source,
    )


def load_families_from(path: Path) -> list[Family]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [parse_family(raw, path.name) for raw in data.get("families", [])]


@cache
def load_families() -> tuple[Family, ...]:
    """Every family shipped with the package, checked for unique names."""
    folder = resources.files("classifier.corpus") / "families"
    families: list[Family] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            families.extend(load_families_from(Path(str(entry))))
    seen: set[str] = set()
    for fam in families:
        if fam.name in seen:
            raise TemplateError(f"family name {fam.name!r} is used twice")
        seen.add(fam.name)
    return tuple(families)


class Renderer:
    """Expands placeholders of one family for one page."""

    def __init__(self, family: Family, ctx: PageContext):
        self.family = family
        self.ctx = ctx

    def expand(self, template: str, depth: int = 0) -> str:
        if depth > _MAX_DEPTH:
            raise TemplateError(f"{self.family.name}: placeholders nest deeper than {_MAX_DEPTH}")
        return _PLACEHOLDER.sub(lambda m: self._fill(m.group(1), depth), template)

    def _fill(self, key: str, depth: int) -> str:
        rng = self.ctx.rng
        if "|" in key:
            return self.expand(rng.choice(key.split("|")), depth + 1)
        name, _, pin = key.partition("#")
        if pin:
            pinned_key = f"{name.lower()}#{pin}"
            if pinned_key not in self.ctx.pinned:
                self.ctx.pinned[pinned_key] = self._draw(name.lower(), depth)
            value = self.ctx.pinned[pinned_key]
        else:
            value = self._draw(name.lower(), depth)
        return value[:1].upper() + value[1:] if name[:1].isupper() else value

    def _draw(self, name: str, depth: int) -> str:
        rng = self.ctx.rng
        if name in self.family.pools:
            return self.expand(str(rng.choice(self.family.pools[name])), depth + 1)
        if name in GENERATORS:
            return GENERATORS[name](self.ctx)
        shared = load_vocab().get(name)
        if isinstance(shared, dict) and "ru" in shared:
            shared = shared[self.ctx.side()]
        if isinstance(shared, list) and shared:
            return self.expand(str(rng.choice(shared)), depth + 1)
        raise TemplateError(f"{self.family.name}: unknown placeholder {{{name}}}")

    def render(self) -> RenderedText:
        rng = self.ctx.rng
        blocks = []
        for part in self.family.parts:
            if part["p"] < 1.0 and rng.random() >= part["p"]:
                continue
            lo, hi = part["repeat"]
            count = rng.randint(lo, hi)
            alts = part["alts"]
            picks = (
                rng.sample(alts, count) if count <= len(alts) else [rng.choice(alts) for _ in range(count)]
            )
            lines = [self.expand(a).strip() for a in picks]
            block = part["join"].join(line for line in lines if line)
            if block:
                blocks.append(block)
        title = self.expand(rng.choice(self.family.title)).strip() if self.family.title else ""
        return RenderedText(title=title, blocks=tuple(blocks))


def render_family(family: Family, rng: random.Random) -> RenderedText:
    return Renderer(family, PageContext(rng=rng, lang=family.lang)).render()


def main(argv: list[str] | None = None) -> int:
    """Preview every family of a file: `python -m classifier.corpus.templates FILE.yaml`."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    for path in args.files:
        for fam in load_families_from(path):
            print(f"==== {fam.name}  label={fam.label} {fam.category} {fam.lang} {fam.layouts}")
            for _ in range(args.n):
                text = render_family(fam, rng)
                print(f"-- {text.title}\n" + "\n\n".join(text.blocks) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
