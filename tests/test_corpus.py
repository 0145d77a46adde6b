from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from classifier.config import CorpusSettings
from classifier.corpus.generator import FamilyIndex, make_page
from classifier.corpus.obfuscate import KINDS, obfuscate
from classifier.corpus.templates import TemplateError, load_families, parse_family, render_family
from classifier.normalize import normalize_text

FAMILIES = load_families()
HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z][A-Za-z0-9_]{3,}")
PHONE = re.compile(r"(?:\+7|8)[\s\-(]*\d{3}[\s\-)]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}")
DOMAIN = re.compile(r"\b(?:[a-z0-9\-]+\.)+([a-z]{2,})\b", re.IGNORECASE)
ALLOWED_TLDS = {"example", "invalid"}
KAZAKH = set("әғқңөұүһі")


def _texts(n_per_family: int = 3):
    rng = random.Random(5)
    for fam in FAMILIES:
        for _ in range(n_per_family):
            text = render_family(fam, rng)
            yield fam, "\n".join((text.title, *text.blocks))


def test_every_family_renders() -> None:
    for fam, text in _texts():
        assert text.strip(), fam.name
        assert "{" not in text and "}" not in text, f"{fam.name}: unexpanded placeholder in {text!r}"


def test_every_cell_has_families() -> None:
    cells = Counter(
        (f.label, f.category if f.label else ("hard" if f.hard else "ordinary"), f.lang) for f in FAMILIES
    )
    for lang in ("ru", "kk", "mixed"):
        for group in ("sale", "recruitment", "propaganda"):
            assert cells[(1, group, lang)] >= 2, (group, lang)
        assert cells[(0, "hard", lang)] >= 5, lang
        assert cells[(0, "ordinary", lang)] >= 2, lang


def test_contacts_are_fake() -> None:
    for fam, text in _texts():
        for handle in HANDLE.findall(text):
            assert handle.lower().endswith("_example"), f"{fam.name}: {handle}"
        for phone in PHONE.findall(text):
            assert re.sub(r"\D", "", phone)[1:10] == "700000000", f"{fam.name}: {phone}"
        for match in DOMAIN.finditer(text):
            tld = match.group(1).lower()
            if tld in ("onion",) or re.fullmatch(r"\d+|[а-я]+", tld):
                continue
            if tld in ALLOWED_TLDS or not re.search(r"[a-z]", match.group(0)):
                continue
            # things like "т.е." or "4-MMC" are not domains; a dotted Latin name with a real TLD is
            assert tld not in {"com", "kz", "ru", "org", "net", "io", "me", "info", "biz"}, (
                f"{fam.name}: {match.group(0)}"
            )


def test_kazakh_families_are_kazakh() -> None:
    with_kazakh: Counter[str] = Counter()
    for fam, text in _texts(4):
        if fam.lang == "kk":
            assert KAZAKH & set(text.lower()), f"{fam.name} has no Kazakh letters"
        with_kazakh[fam.name] += bool(KAZAKH & set(text.lower()))
    for fam in FAMILIES:
        if fam.lang == "mixed":  # a mixed page may lean Russian, but not every time
            assert with_kazakh[fam.name] >= 2, f"{fam.name} reads as Russian"


def test_families_do_not_share_wording() -> None:
    """Whole-family hold-out only measures generalisation if families do not share phrases."""
    owners: dict[tuple[str, ...], str] = {}
    shared = Counter()
    for fam in FAMILIES:
        literal = " ".join(
            re.sub(r"\{[^{}]*\}", " ", alt) for part in fam.parts for alt in part["alts"]
        ).lower()
        words = re.findall(r"[^\W\d_]{3,}", literal)
        for gram in {tuple(words[i : i + 5]) for i in range(len(words) - 4)}:
            if gram in owners and owners[gram] != fam.name:
                shared[(owners[gram], fam.name)] += 1
            owners.setdefault(gram, fam.name)
    assert not [pair for pair, n in shared.items() if n >= 3], shared.most_common(5)


def test_bad_family_is_refused() -> None:
    with pytest.raises(TemplateError, match="category"):
        parse_family(
            {
                "name": "x",
                "label": 1,
                "category": "bogus",
                "lang": "ru",
                "layouts": ["bare"],
                "parts": [["a"]],
            },
            "t",
        )
    fam = parse_family(
        {"name": "y", "label": 0, "lang": "ru", "layouts": ["bare"], "parts": [["{nope}"]]}, "t"
    )
    with pytest.raises(TemplateError, match="unknown placeholder"):
        render_family(fam, random.Random(1))


def test_pages_are_deterministic() -> None:
    index = FamilyIndex(FAMILIES)
    settings = CorpusSettings()
    first = [make_page(i, random.Random(i), index, settings) for i in range(20)]
    again = [make_page(i, random.Random(i), index, settings) for i in range(20)]
    assert [p.html for p in first] == [p.html for p in again]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_obfuscation_changes_text_and_normalisation_mostly_undoes_it(kind: str) -> None:
    text = "Свежие закладки: мефедрон и шишки, оператор на связи, доставка по городу"
    disguised = obfuscate(text, random.Random(3), [kind], rate=1.0)
    assert disguised != text
    if kind in ("lookalike", "digits", "separators", "stylised", "invisible"):
        restored = normalize_text(disguised)
        assert sum(w in restored for w in ("закладки", "мефедрон", "шишки", "оператор")) >= 3, restored
