"""Duplicate grouping on datasketch MinHash and the shared identifier keys (issue 18).

Signatures, band keys and contact keys are stored (run checkpoints, the case store's bank) and compared
with ones made by other processes and versions, so they are pinned here to the values they have today.
Texts are demo-corpus pages or fake ads; every contact is fake (``*_example`` handles,
``+7 700 000 00 0X`` phones, ``.example`` and ``.invalid`` domains).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from classifier.common.config import ScoreSettings, load_settings
from classifier.corpus.pages import iter_pages
from classifier.extract.fast_engine import extract_html_fast
from classifier.score.duplicates import MinHasher, band_keys, contact_keys, grouped, link
from classifier.text.normalize import normalize_text

# a normalised text (contacts are placeholder tokens) and what it gives today
TEXT = "магазин кладов работает круглосуточно по всему алматы пишите в телеграм _tg_ или звоните _phone_"
SIGNATURE_START = [414360611, 189785883, 219183999, 619075496, 688816501, 535090, 229669565, 351823597]
BAND_KEYS_START = ["b0:5127c4dd8721cfef", "b1:0616e5a174565c73"]


@pytest.fixture(scope="module")
def project() -> ScoreSettings:
    return load_settings().score


def hasher(settings: ScoreSettings) -> MinHasher:
    return MinHasher(settings.minhash_permutations, settings.shingle_words)


# -- signatures ---------------------------------------------------------------------------------------
def test_signature_is_pinned() -> None:
    """A datasketch upgrade (2.0 changed its default scheme) or another hash must not change stored values."""
    minhasher = MinHasher(128, 3)
    signature = minhasher.signature(TEXT)
    assert signature is not None and signature.dtype == np.uint32 and signature.shape == (128,)
    assert signature[:8].tolist() == SIGNATURE_START
    assert band_keys(signature, 32)[:2] == BAND_KEYS_START
    sketch = minhasher.sketch(TEXT)
    assert sketch is not None and sketch[1] == len(minhasher.shingles(TEXT)) == 12


def test_scheme_names_what_makes_a_signature() -> None:
    assert MinHasher(128, 3).scheme == "datasketch-affine32-sha1_32:seed=1:perm=128:words=3"
    assert MinHasher(64, 4, seed=2).scheme != MinHasher(128, 3).scheme


def test_signature_and_keys_are_the_same_in_another_process(project: ScoreSettings) -> None:
    """Another interpreter with another str hash seed: nothing may depend on Python's hash()."""
    contacts = {"telegram": ["@Klad_Shop_Example"], "phone": ["8 (700) 000-00-01"], "onion": ["x.example"]}
    settings = replace(project, link_contacts=("telegram", "phone", "wallet", "onion"))
    code = (
        "import json, sys; from dataclasses import replace;"
        "from classifier.common.config import load_settings;"
        "from classifier.score.duplicates import MinHasher, band_keys, contact_keys;"
        "text, contacts, kinds = json.loads(sys.stdin.read());"
        "settings = replace(load_settings().score, link_contacts=tuple(kinds));"
        "sig = MinHasher(settings.minhash_permutations, settings.shingle_words).signature(text);"
        "print(json.dumps([sig.tolist(), band_keys(sig, settings.lsh_bands), contact_keys(contacts, settings)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps([TEXT, contacts, list(settings.link_contacts)]),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "18"},
        timeout=600,
    )
    signature = hasher(settings).signature(TEXT)
    here = [signature.tolist(), band_keys(signature, settings.lsh_bands), contact_keys(contacts, settings)]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == here
    assert here[2] == ["c:telegram:@klad_shop_example", "c:phone:+77000000001"]  # no such onion


# -- contact keys: one definition (text.identifiers) ----------------------------------------------------
def test_contact_keys_are_the_identifier_keys_of_the_listed_kinds(project: ScoreSettings) -> None:
    contacts = {
        "telegram": ["@Klad_Shop_Example", "@klad_bot_example"],
        "whatsapp": ["+77000000002"],
        "phone": ["+77000000001", "+77000000002"],
        "wallet": ["TExampleWalletAddressQWErty0000001"],
        "onion": ["ABCDEFGHIJKLMNOP.onion.invalid"],
        "card": ["**** **** **** 0001"],
    }
    assert project.link_contacts == ("telegram", "wallet", "onion")
    assert contact_keys(contacts, project) == [
        "c:telegram:@klad_shop_example",
        "c:telegram:@klad_bot_example",
        "c:wallet:TExampleWalletAddressQWErty0000001",
        "c:onion:abcdefghijklmnop.onion.invalid",
    ]
    phones = replace(project, link_contacts=("phone", "whatsapp", "card"))
    assert contact_keys(contacts, phones) == ["c:phone:+77000000001", "c:phone:+77000000002"]
    with pytest.raises(ValueError, match="link_contacts"):
        contact_keys(contacts, replace(project, link_contacts=("telegram", "phones")))


def test_a_shared_phone_links_pages_only_where_phones_are_listed(project: ScoreSettings) -> None:
    minhasher = hasher(project)
    texts = [normalize_text(t) for t in ("Продам гараж в Алматы, звоните", "Сниму квартиру на месяц")]
    contacts = [{"phone": ["8 700 000 00 03"]}, {"whatsapp": ["+77000000003"]}]

    def roots(settings: ScoreSettings) -> list[int]:
        sigs = [minhasher.signature(t) for t in texts]
        pairs = [(k, i) for i, s in enumerate(sigs) for k in band_keys(s, settings.lsh_bands)]
        pairs += [(k, i) for i, c in enumerate(contacts) for k in contact_keys(c, settings)]
        return link(grouped(sorted(pairs)), lambda m: [sigs[i] for i in m], 2, settings).tolist()

    assert roots(project) == [0, 1]
    assert roots(replace(project, link_contacts=("phone", "whatsapp"))) == [0, 0]


# -- grouping demo pages ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(project: ScoreSettings) -> dict:
    """500 demo pages (originals and mirrors on new sites), normalised as the model reads them."""
    settings = load_settings()
    texts, origins = [], []
    for page, origin in iter_pages(settings.corpus, 500, 18):
        doc = extract_html_fast(page.html, page.url, settings.extract)
        texts.append(
            normalize_text("\n".join(f for f in (doc["title"], doc["description"], doc["text"]) if f))
        )
        origins.append(origin)
    minhasher = hasher(project)
    sketches = [minhasher.sketch(t) for t in texts]
    sigs = [s[0] for s in sketches]
    pairs = [(k, i) for i, s in enumerate(sigs) for k in band_keys(s, project.lsh_bands)]
    roots = link(
        grouped(sorted(pairs)),
        lambda m: [sigs[i] for i in m],
        len(texts),
        project,
        lambda m: [sketches[i][1] for i in m],
    )
    return {"shingles": [minhasher.shingles(t) for t in texts], "origins": origins, "roots": roots.tolist()}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b)


def test_near_copies_of_demo_pages_are_grouped(demo: dict) -> None:
    shingles, roots = demo["shingles"], demo["roots"]
    near = [
        (i, j)
        for i in range(len(shingles))
        for j in range(i + 1, len(shingles))
        if jaccard(shingles[i], shingles[j]) >= 0.9
    ]
    assert len(near) >= 5  # the corpus has such copies: the test tests something
    assert [(i, j) for i, j in near if roots[i] != roots[j]] == []


def test_different_demo_pages_are_not_grouped(demo: dict) -> None:
    """Each member of a group shares most of its text with another member: no page joins by chance."""
    shingles, roots = demo["shingles"], demo["roots"]
    groups: dict[int, list[int]] = {}
    for i, root in enumerate(roots):
        groups.setdefault(root, []).append(i)
    together = [members for members in groups.values() if len(members) > 1]
    assert together, "no group at all: nothing was tested"
    for members in together:
        for i in members:
            closest = max(
                len(shingles[i] & shingles[j]) / min(len(shingles[i]), len(shingles[j]))
                for j in members
                if j != i
            )
            assert closest >= 0.5, (i, members)
    assert len(groups) >= 0.8 * len(roots)  # most pages are nobody's copy
