from __future__ import annotations

import html
import json
import random
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from classifier.common.config import CorpusSettings
from classifier.corpus.build import generate_corpus
from classifier.corpus.obfuscate import KINDS, obfuscate
from classifier.corpus.pages import FamilyIndex, Page, iter_pages, make_page
from classifier.corpus.templates import TemplateError, load_families, parse_family, render_family
from classifier.text.normalize import normalize_text

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


# --- mirrors: a blocked shop re-posted on new sites with the same text and contacts ------------------

MIRRORED = replace(CorpusSettings(), mirror_share=0.5)
WALLET = re.compile(r"\b(?:bc1qexample\w+|TExample\w+)")
BOT_OR_HANDLE = re.compile(r"@\w+_example")


def _contacts(text: str) -> set[str]:
    found = set(BOT_OR_HANDLE.findall(text)) | set(WALLET.findall(text))
    return found | {re.sub(r"\D", "", p) for p in PHONE.findall(text)}


def _site(url: str) -> str:
    host = re.sub(r"^https?://", "", url).split("/")[0]
    return url.rstrip("/").rsplit("/", 1)[-1] if host == "t.me" else host


@pytest.fixture(scope="module")
def mirrored_pages() -> list[tuple[Page, int | None]]:
    return list(iter_pages(MIRRORED, n=300, seed=3, families=FamilyIndex(FAMILIES)))


def test_mirrors_follow_their_original(mirrored_pages: list[tuple[Page, int | None]]) -> None:
    assert len(mirrored_pages) == 300  # mirrors count towards n
    originals = [p for p, origin in mirrored_pages if origin is None]
    positives = [p for p in originals if p.labels["label"]]
    mirrored = {origin for _, origin in mirrored_pages if origin is not None}
    assert 0.3 < len(mirrored) / len(positives) < 0.7  # about mirror_share of the positive originals
    assert all(mirrored_pages[o][0].labels["label"] == 1 for o in mirrored)
    # originals keep positive_share; mirrors (all positive) come on top of it
    share = sum(p.labels["label"] for p in originals) / len(originals)
    # about 200 originals: a binomial share's standard deviation is 0.035, so 3.5 of them
    assert abs(share - MIRRORED.positive_share) < 0.125, share
    for position, (page, origin) in enumerate(mirrored_pages):
        if origin is None:
            continue
        original = mirrored_pages[origin][0]
        assert origin < position <= origin + 3  # written right after the original (1-3 mirrors)
        assert all(o == origin for _, o in mirrored_pages[origin + 1 : position])
        for key in ("label", "category", "family", "kind", "hard_negative", "lang", "obfuscations"):
            assert page.labels[key] == original.labels[key], key
        assert _site(page.url) != _site(original.url)
        assert page.fetched_at > original.fetched_at
        # the same blocks in the same order, at most one line about the move added
        extra = list(page.blocks)
        for block in original.blocks:
            extra.remove(block)
        assert len(extra) <= 1 and [b for b in page.blocks if b not in extra] == list(original.blocks)
        assert _contacts("\n".join(page.blocks)) == _contacts("\n".join(original.blocks))
        assert original.labels["title"] in page.labels["title"]
        if not page.labels["malformed"] and not page.labels["in_image"]:  # damaged markup may cut the end
            # off; an image page shows its blocks in pictures (tests/corpus/test_image_pages.py)
            text = html.unescape(page.html)
            assert all(line in text for b in original.blocks for line in b.split("\n") if line.strip())


def test_mirrors_vary_like_reposts(mirrored_pages: list[tuple[Page, int | None]]) -> None:
    pairs = [(mirrored_pages[o][0], p) for p, o in mirrored_pages if o is not None]
    assert len(pairs) >= 30
    assert len({_site(p.url) for _, p in pairs}) == len(pairs)  # every mirror on a site of its own
    assert any(m.labels["layout"] != o.labels["layout"] for o, m in pairs)
    assert any(m.encoding != o.encoding for o, m in pairs)
    assert any(m.labels["title"] != o.labels["title"] for o, m in pairs)
    assert any(len(m.blocks) > len(o.blocks) for o, m in pairs)


def test_mirror_contacts_are_fake(mirrored_pages: list[tuple[Page, int | None]]) -> None:
    for page, origin in mirrored_pages:
        if origin is None:
            continue
        text = "\n".join((page.labels["title"], *page.blocks))
        assert all(h.lower().endswith("_example") for h in HANDLE.findall(text)), text
        assert all(re.sub(r"\D", "", p)[1:10] == "700000000" for p in PHONE.findall(text)), text
        host = re.sub(r"^https?://", "", page.url).split("/")[0]
        assert host == "t.me" or host.endswith((".example", ".invalid")), page.url


def test_without_mirrors_nothing_is_mirrored() -> None:
    pages = list(
        iter_pages(replace(MIRRORED, mirror_share=0.0), n=60, seed=3, families=FamilyIndex(FAMILIES))
    )
    assert all(origin is None for _, origin in pages)


def _labels(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "labels.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def mirrored_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mirrored")
    generate_corpus(folder, MIRRORED, n=300, seed=3)
    return folder


def test_labels_name_the_original(mirrored_corpus: Path) -> None:
    labels = _labels(mirrored_corpus)
    assert len(labels) == 300 and labels["id"].is_unique
    by_id = labels.set_index("id")
    mirrors = labels[labels["mirror_of"] != ""]
    assert len(mirrors) > 20
    assert mirrors["mirror_of"].isin(labels["id"]).all()
    originals = by_id.loc[mirrors["mirror_of"]]
    assert (originals["mirror_of"] == "").all()  # a mirror points at the original, never at a mirror
    for key in ("label", "category", "family", "kind", "hard_negative", "lang", "obfuscations"):
        assert (originals[key].to_numpy() == mirrors[key].to_numpy()).all(), key
    assert (originals["url"].to_numpy() != mirrors["url"].to_numpy()).all()
    summary = json.loads((mirrored_corpus / "summary.json").read_text(encoding="utf-8"))
    assert summary["pages"] == 300
    assert summary["mirrors"] == len(mirrors)
    assert summary["mirrored_originals"] == mirrors["mirror_of"].nunique()


def test_mirrored_corpus_is_deterministic(mirrored_corpus: Path, tmp_path: Path) -> None:
    generate_corpus(tmp_path, MIRRORED, n=300, seed=3)
    assert (tmp_path / "labels.csv").read_bytes() == (mirrored_corpus / "labels.csv").read_bytes()
    other = tmp_path / "other"
    generate_corpus(other, MIRRORED, n=300, seed=4)
    assert (other / "labels.csv").read_bytes() != (mirrored_corpus / "labels.csv").read_bytes()


@pytest.mark.slow
def test_family_split_keeps_mirrors_with_their_original(mirrored_corpus: Path) -> None:
    from classifier.modeling.training_data import split_families  # imports mlflow: slow

    labels = _labels(mirrored_corpus).assign(
        label=lambda t: t["label"].astype(int), hard_negative=lambda t: t["hard_negative"] == "True"
    )
    train, holdout = split_families(labels, 0.3, seed=1)
    side = {**dict.fromkeys(train["id"], "train"), **dict.fromkeys(holdout["id"], "holdout")}
    mirrors = labels[labels["mirror_of"] != ""]
    assert {side[m] for m in mirrors["id"]} == {"train", "holdout"}  # both sides have some
    assert all(side[m] == side[o] for m, o in zip(mirrors["id"], mirrors["mirror_of"], strict=True))


def test_a_corpus_made_by_other_settings_is_regenerated_not_reused(tmp_path: Path) -> None:
    """A data scientist changes a corpus setting: training must not silently reuse the old corpus."""
    from classifier.common.config import load_settings
    from classifier.modeling.datasets import demo_dataset

    settings = load_settings()
    generate_corpus(tmp_path, settings.corpus, n=40, seed=2)
    made = (tmp_path / "summary.json").read_text(encoding="utf-8")
    said: list[str] = []
    demo_dataset(tmp_path, settings, use_cache=False, say=said.append)
    assert said == [] and (tmp_path / "summary.json").read_text(encoding="utf-8") == made  # current: reused

    changed = replace(settings, corpus=replace(settings.corpus, written_share=0.9))
    frame = demo_dataset(tmp_path, changed, use_cache=False, say=said.append)
    assert said and "other corpus settings or generator files" in said[0] and "40 pages" in said[0]
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["fingerprint"] != json.loads(made)["fingerprint"]
    assert (summary["requested_pages"], summary["seed"]) == (40, 2)  # regenerated alike: size and seed kept
    assert frame["family"].str.startswith("written_").mean() > 0.6


def test_a_corpus_generated_from_params_follows_their_size(tmp_path: Path) -> None:
    from classifier.common.config import load_settings
    from classifier.modeling.datasets import demo_dataset

    base = load_settings()
    small = replace(base, corpus=replace(base.corpus, n_pages=30))
    generate_corpus(tmp_path, small.corpus)  # as `classifier demo-data` does: size from params
    larger = replace(base, corpus=replace(base.corpus, n_pages=45))
    said: list[str] = []
    demo_dataset(tmp_path, larger, use_cache=False, say=said.append)
    assert said and "45 pages" in said[0]
    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["requested_pages"] == 45
