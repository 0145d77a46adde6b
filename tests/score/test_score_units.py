"""Unit tests for the scoring helpers: priority, duplicate grouping, drift and the run checkpoint.

Texts are realistic Russian/Kazakh ads and news; every contact in them is fake (``*_example``
handles, ``+7 700 000 00 0X`` phones, ``.example`` domains).
"""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from classifier.common.config import ScoreSettings, load_settings
from classifier.score.checkpoint import Checkpoint
from classifier.score.drift import drift_report, histogram, plot_histogram, psi, reference_scores
from classifier.score.duplicates import (
    MAX_REPRESENTATIVES,
    MinHasher,
    UnionFind,
    band_keys,
    contact_keys,
    grouped,
    link,
    similarity,
)
from classifier.score.priority import priority, recency, source_kind
from classifier.text.normalize import normalize_text

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def project() -> ScoreSettings:
    return load_settings().score


# -- texts ----------------------------------------------------------------------------------------
AD = (
    "Магазин кладов работает круглосуточно по всему Алматы и области. В наличии мефедрон кристаллы, "
    "альфа пвп, гашиш и шишки лучшего качества. Закладки магнитом и прикопом в удобных районах, фото и "
    "координаты сразу после оплаты. Оплата на карту или криптовалютой, для постоянных клиентов скидки до "
    "двадцати процентов. Новым покупателям бонус на первый заказ и бесплатная доставка курьером. "
    "Перезаклад при ненаходе в течение часа, оператор всегда на связи. Пишите в телеграм {handle} или "
    "звоните {phone}, отвечаем быстро и без лишних вопросов."
)
SHOP_AD = AD.format(handle="@klad_shop_example", phone="+7 700 000 00 01")
# a mirror of the same post: other handle and phone (the same placeholders after normalisation)
MIRROR_AD = AD.format(handle="@klad_mirror_example", phone="+7 700 000 00 02")
# the handle replaced by a phone: one placeholder token differs
PHONE_ONLY_AD = AD.format(handle="+7 700 000 00 03", phone="+7 700 000 00 02")
# a repost with a sign-off sentence appended
SIGNED_AD = SHOP_AD + " Работаем без выходных уже пятый год."
# a repost with a sentence inserted in the middle
INSERTED_AD = SHOP_AD.replace(
    "по всему Алматы и области.",
    "по всему Алматы и области. Работаем без выходных уже пятый год, сотни довольных клиентов.",
)
OTHER_AD = (
    "Продам соль и меф в Астане, качество проверено, вес честный. Закладки по всем районам города, клад "
    "в течение часа после оплаты. Принимаем оплату на киви и карты, от пяти грамм скидка. Пиши в личку "
    "@stepnoy_example, работаем без выходных, оператор отвечает быстро."
)
KAZAKH_AD = (
    "Алматы бойынша закладкалар, мефедрон және гашиш сапасы жоғары. Тапсырыс беру үшін телеграм арқылы "
    "жазыңыз @dala_example, төлем картаға немесе криптовалютамен. Жаңа клиенттерге жеңілдік бар, жеткізу "
    "тегін."
)
NEWS = (
    "Полиция Алматы задержала организатора интернет-магазина по продаже наркотиков. По данным ведомства, "
    "подозреваемый размещал объявления в телеграм-каналах и делал закладки в спальных районах города. "
    "Изъято более ста граммов мефедрона, возбуждено уголовное дело."
)


def signature(hasher: MinHasher, text: str) -> np.ndarray:
    result = hasher.signature(normalize_text(text))
    assert result is not None
    return result


def link_texts(texts: list[str], settings: ScoreSettings, extra: list[tuple[str, int]] = ()) -> list[int]:
    """Cluster roots for texts the way the engine does: band keys (plus extra keys) -> link."""
    hasher = MinHasher(settings.minhash_permutations, settings.shingle_words)
    sigs = [signature(hasher, t) for t in texts]
    pairs = [(key, i) for i, s in enumerate(sigs) for key in band_keys(s, settings.lsh_bands)]
    pairs += list(extra)
    roots = link(grouped(sorted(pairs)), lambda members: [sigs[m] for m in members], len(texts), settings)
    return roots.tolist()


# -- priority.source_kind ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://t.me/s/klad_shop_example", "telegram"),
        ("t.me/klad_shop_example/123", "telegram"),
        ("https://telegram.me/klad_shop_example", "telegram"),
        ("tg://resolve?domain=klad_shop_example", "telegram"),
        ("http://abcdefghijklmnop2345.onion/shop", "onion"),
        ("https://abcdefghijklmnop2345.onion.ly/catalog", "onion"),
        ("https://vk.com/wall-123456_789", "social"),
        ("https://m.vk.com/klad_example", "social"),
        ("https://www.instagram.com/klad_example/", "social"),
        ("https://forum.example/profile/klad_example", "social"),
        ("https://www.olx.kz/d/obyavlenie/mefedron-IDabc.html", "classifieds"),
        ("https://krisha.kz/a/show/1000", "classifieds"),
        ("https://board.example/obyavleniya/almaty/42", "classifieds"),
        ("https://news.example/proisshestviya/2024/05/zaderzhan", "web"),
        ("https://WWW.NEWS.EXAMPLE/Kazakhstan", "web"),
        ("lenta.example/news/1", "web"),
        ("", "web"),
        pytest.param(
            "https://yandex.com/search/?text=закладки",
            "web",
        ),
        pytest.param(
            "https://news.example/idei-dlya-biznesa",
            "web",
        ),
    ],
)
def test_source_kind(url: str, kind: str) -> None:
    assert source_kind(url) == kind


# -- priority.recency -------------------------------------------------------------------------------
def test_recency_halves_every_half_life(project: ScoreSettings) -> None:
    settings = replace(project, recency_half_life_days=10.0, min_recency=0.0)
    assert recency(NOW.isoformat(), NOW, settings) == pytest.approx(1.0)
    assert recency((NOW - timedelta(days=10)).isoformat(), NOW, settings) == pytest.approx(0.5)
    assert recency((NOW - timedelta(days=20)).isoformat(), NOW, settings) == pytest.approx(0.25)
    assert recency((NOW - timedelta(days=5)).isoformat(), NOW, settings) == pytest.approx(2**-0.5)


def test_recency_floor_and_project_values(project: ScoreSettings) -> None:
    assert project.recency_half_life_days == 30 and project.min_recency == 0.5
    assert recency("2024-05-02T12:00:00+00:00", NOW, project) == pytest.approx(0.5)  # 30 days
    assert recency("2024-05-17T12:00:00+00:00", NOW, project) == pytest.approx(2**-0.5)  # 15 days
    assert recency("2019-01-01T00:00:00Z", NOW, project) == 0.5  # the floor, not 0.5 ** 60
    floor = replace(project, min_recency=0.2)
    assert recency("2019-01-01T00:00:00Z", NOW, floor) == 0.2


def test_recency_future_and_timezones(project: ScoreSettings) -> None:
    settings = replace(project, min_recency=0.0)
    assert recency("2024-06-03T00:00:00Z", NOW, settings) == 1.0  # clock skew: never above 1
    # 17:00 in Almaty (+05:00) is 12:00 UTC: exactly 30 days before NOW
    assert recency("2024-05-02T17:00:00+05:00", NOW, settings) == pytest.approx(0.5)
    almaty_now = NOW.astimezone(timezone(timedelta(hours=5)))
    assert recency("2024-05-02T12:00:00Z", almaty_now, settings) == pytest.approx(0.5)


@pytest.mark.parametrize("fetched_at", ["", None, "вчера", "2024-13-45", "01.05.2024 10:00", "not a date"])
def test_recency_unknown_or_unparsable_is_fresh(fetched_at: str | None, project: ScoreSettings) -> None:
    assert recency(fetched_at, NOW, replace(project, min_recency=0.0)) == 1.0  # type: ignore[arg-type]


def test_recency_naive_fetched_at_is_read_in_nows_timezone(project: ScoreSettings) -> None:
    settings = replace(project, min_recency=0.0)
    assert recency("2024-05-02T12:00:00", NOW, settings) == pytest.approx(0.5)
    assert recency("2024-05-02", NOW, settings) == pytest.approx(0.5 ** (30.5 / 30))
    naive_now = NOW.replace(tzinfo=None)
    assert recency("2024-05-02T12:00:00", naive_now, settings) == pytest.approx(0.5)


def test_recency_aware_fetched_at_with_naive_now(project: ScoreSettings) -> None:
    value = recency("2024-05-02T12:00:00Z", NOW.replace(tzinfo=None), project)
    assert project.min_recency <= value <= 1.0


# -- priority.priority ------------------------------------------------------------------------------
def test_priority_documented_formula(project: ScoreSettings) -> None:
    expected = 100 * 0.9 * 1.0 * 1.1 * (1 + 0.15 * math.log(8)) * 0.75
    assert priority(0.9, "sale", "telegram", 8, 0.75, project) == pytest.approx(expected, abs=1e-4)
    # "priority 100 means a certain, severe, single, fresh page from an ordinary web source"
    assert priority(1.0, "sale", "web", 1, 1.0, project) == 100.0
    # the params.yaml comment: a shop seen on 8 mirrors weighs 1.3x a single page
    ratio = priority(0.8, "sale", "web", 8, 1.0, project) / priority(0.8, "sale", "web", 1, 1.0, project)
    assert ratio == pytest.approx(1.31, abs=0.01)


def test_priority_is_monotone_in_score_and_cluster_size(project: ScoreSettings) -> None:
    by_score = [priority(s, "sale", "web", 1, 1.0, project) for s in np.linspace(0.0, 1.0, 21)]
    assert by_score[0] == 0.0
    assert all(a < b for a, b in itertools.pairwise(by_score))
    by_size = [priority(0.7, "sale", "web", n, 1.0, project) for n in range(1, 60)]
    assert all(a < b for a, b in itertools.pairwise(by_size))
    assert priority(0.7, "sale", "web", 0, 1.0, project) == by_size[0]  # size 0 counts as a single page


def test_priority_severity_from_settings(project: ScoreSettings) -> None:
    def value(category: str | None, settings: ScoreSettings = project) -> float:
        return priority(0.8, category, "web", 1, 1.0, settings)

    assert value("sale") == value("recruitment") > value("propaganda") > value("none")
    assert value("propaganda") == pytest.approx(0.7 * value("sale"))
    assert value(None) == value("none") == pytest.approx(0.5 * value("sale"))
    assert value("weapons") == value("none")  # an unknown category weighs as "none"
    custom = replace(project, severity={"sale": 1.0, "propaganda": 2.0, "none": 0.1})
    assert value("propaganda", custom) == pytest.approx(2 * value("sale", custom))
    assert value("recruitment", custom) == pytest.approx(0.1 * value("sale", custom))


def test_priority_source_weights_from_settings(project: ScoreSettings) -> None:
    def value(kind: str, settings: ScoreSettings = project) -> float:
        return priority(0.8, "sale", kind, 1, 1.0, settings)

    assert value("telegram") == value("onion") == pytest.approx(1.1 * value("web"))
    assert value("social") == value("classifieds") == value("web")
    assert value("gopher") == value("web")  # an unknown kind weighs 1
    heavy = replace(project, source_weights={**project.source_weights, "classifieds": 3.0})
    assert value("classifieds", heavy) == pytest.approx(3 * value("web", heavy))


def test_priority_scales_with_freshness(project: ScoreSettings) -> None:
    fresh = priority(0.8, "sale", "web", 3, 1.0, project)
    assert priority(0.8, "sale", "web", 3, 0.5, project) == pytest.approx(fresh / 2, abs=1e-4)


@pytest.mark.parametrize("score", [None, float("nan"), np.float64("nan")])
def test_priority_error_rows_get_zero(score: float | None, project: ScoreSettings) -> None:
    assert priority(score, "sale", "telegram", 50, 1.0, project) == 0.0
    assert priority(0.001, "none", "web", 1, 0.5, project) > 0.0


# -- duplicates.MinHasher ---------------------------------------------------------------------------
def test_minhash_signature_shape_and_stability_across_instances() -> None:
    first, second = MinHasher(), MinHasher()
    sig = signature(first, SHOP_AD)
    assert sig.dtype == np.uint32 and sig.shape == (128,)
    assert np.array_equal(sig, signature(second, SHOP_AD))
    assert not np.array_equal(sig, signature(MinHasher(seed=2), SHOP_AD))
    assert MinHasher(permutations=64).signature(normalize_text(SHOP_AD)).shape == (64,)


def test_minhash_signature_stable_across_processes() -> None:
    normalised = normalize_text(SHOP_AD)
    code = (
        "import sys; from classifier.score.duplicates import MinHasher;"
        "print(','.join(map(str, MinHasher().signature(sys.stdin.read()).tolist())))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=normalised,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    other = [int(x) for x in out.stdout.strip().split(",")]
    assert other == MinHasher().signature(normalised).tolist()


def test_minhash_empty_and_short_texts() -> None:
    hasher = MinHasher()
    assert hasher.signature("") is None
    assert hasher.signature(" ,.!? — ") is None
    assert hasher.shingles("меф  алматы") == {"меф алматы"}
    assert hasher.shingles("Меф Алматы закладки недорого") == {"меф алматы закладки недорого"}
    assert len(hasher.shingles("меф алматы закладки недорого круглосуточно")) == 2
    short = hasher.signature("меф алматы")
    assert short is not None
    assert similarity(short, hasher.signature("МЕФ, алматы!")) == 1.0
    assert similarity(short, hasher.signature("гашиш астана")) < 0.1


def test_minhash_copies_with_other_contacts_are_identical() -> None:
    hasher = MinHasher()
    assert similarity(signature(hasher, SHOP_AD), signature(hasher, MIRROR_AD)) == 1.0


@pytest.mark.parametrize("copy", [PHONE_ONLY_AD, SIGNED_AD], ids=["placeholder", "appended-sentence"])
def test_minhash_near_copies_are_similar(copy: str) -> None:
    hasher = MinHasher()
    assert similarity(signature(hasher, SHOP_AD), signature(hasher, copy)) >= 0.8


def test_minhash_copy_with_inserted_sentence_is_similar() -> None:
    hasher = MinHasher()
    assert similarity(signature(hasher, SHOP_AD), signature(hasher, INSERTED_AD)) >= 0.8


def test_minhash_estimates_jaccard() -> None:
    hasher = MinHasher()
    words = normalize_text(SHOP_AD).split()
    full = " ".join(words)
    errors = []
    for start in range(0, 40, 2):
        part = " ".join(words[start : start + 60])
        a, b = hasher.shingles(full), hasher.shingles(part)
        errors.append(similarity(hasher.signature(full), hasher.signature(part)) - len(a & b) / len(a | b))
    assert np.mean(np.abs(errors)) < 0.07


@pytest.mark.parametrize("other", [OTHER_AD, KAZAKH_AD, NEWS], ids=["ru-ad", "kk-ad", "news"])
def test_minhash_different_texts_on_the_topic_are_dissimilar(other: str) -> None:
    hasher = MinHasher()
    assert similarity(signature(hasher, SHOP_AD), signature(hasher, other)) < 0.3


# -- duplicates: keys and union-find -----------------------------------------------------------------
def test_band_keys() -> None:
    sig = signature(MinHasher(), SHOP_AD)
    keys = band_keys(sig, 32)
    assert len(keys) == len(set(keys)) == 32
    assert [k.split(":")[0] for k in keys] == [f"b{i}" for i in range(32)]
    assert keys == band_keys(sig.copy(), 32)
    changed = sig.copy()
    changed[5] ^= 1  # row 5 lies in band 1 (4 rows per band)
    differ = [i for i, (a, b) in enumerate(zip(keys, band_keys(changed, 32), strict=True)) if a != b]
    assert differ == [1]
    assert len(band_keys(sig, 16)) == 16


def test_similarity() -> None:
    a = np.arange(100, dtype=np.uint32)
    b = a.copy()
    b[:25] += 1000
    assert similarity(a, a) == 1.0
    assert similarity(a, b) == pytest.approx(0.75)
    assert similarity(a, a + 1) == 0.0


def test_contact_keys_only_configured_kinds_in_normal_form(project: ScoreSettings) -> None:
    contacts = {
        "telegram": ["@Klad_Shop_Example", "@klad_bot_example"],
        "phone": ["+7 700 000 00 01"],
        "wallet": ["TExampleWalletAddress000000000001"],
        "onion": ["ABCDEFGHIJKLMNOP2345.onion"],
        "email": ["shop@mail.example"],
    }
    assert project.link_contacts == ("telegram", "wallet", "onion")
    assert contact_keys(contacts, project) == [
        "c:telegram:@klad_shop_example",
        "c:telegram:@klad_bot_example",
        "c:wallet:TExampleWalletAddress000000000001",  # a Tron address is case-sensitive
        "c:onion:abcdefghijklmnop2345.onion",
    ]
    phones = replace(project, link_contacts=("phone",))
    assert contact_keys(contacts, phones) == ["c:phone:+77000000001"]  # E.164 (text.identifiers)
    assert contact_keys({}, project) == []


def test_union_find() -> None:
    found = UnionFind(6)
    found.union(4, 2)
    found.union(2, 5)
    found.union(3, 1)
    found.union(5, 4)  # already together
    assert found.roots().tolist() == [0, 1, 2, 1, 2, 2]  # a cluster is named after its first member
    found.union(5, 1)
    assert found.roots().tolist() == [0, 1, 1, 1, 1, 1]
    assert found.find(4) == 1 and found.parent[4] == 1  # path compressed


def test_grouped() -> None:
    pairs = [
        ("b0:aa", 0),
        ("b0:aa", 3),
        ("b1:bb", 1),
        ("c:telegram:@x_example", 2),
        ("c:telegram:@x_example", 4),
    ]
    assert list(grouped(pairs)) == [
        ("b0:aa", [0, 3]),
        ("b1:bb", [1]),
        ("c:telegram:@x_example", [2, 4]),
    ]
    assert list(grouped([])) == []


# -- duplicates.link ---------------------------------------------------------------------------------
def test_link_groups_copies_and_keeps_unrelated_apart(project: ScoreSettings) -> None:
    texts = [SHOP_AD, NEWS, MIRROR_AD, KAZAKH_AD, PHONE_ONLY_AD, OTHER_AD, SIGNED_AD]
    roots = link_texts(texts, project)
    assert roots == [0, 1, 0, 3, 0, 5, 0]


def test_link_shared_contact_links_records(project: ScoreSettings) -> None:
    texts = [SHOP_AD, NEWS, KAZAKH_AD, OTHER_AD]
    shared = [("c:telegram:@dala_example", 0), ("c:telegram:@dala_example", 2)]
    assert link_texts(texts, project, shared) == [0, 1, 0, 3]


def test_link_contact_shared_by_too_many_records_does_not_link(project: ScoreSettings) -> None:
    settings = replace(project, max_contact_group=3)
    texts = [SHOP_AD, NEWS, KAZAKH_AD, OTHER_AD]
    hotline = [("c:phone:+7 700 000 00 09", i) for i in range(4)]
    assert link_texts(texts, settings, hotline) == [0, 1, 2, 3]
    three = [("c:phone:+7 700 000 00 09", i) for i in (1, 2, 3)]
    assert link_texts(texts, settings, three) == [0, 1, 1, 1]


def test_link_many_exact_copies_form_one_cluster(project: ScoreSettings) -> None:
    sig = signature(MinHasher(), SHOP_AD)
    n = MAX_REPRESENTATIVES + 6
    pairs = sorted((key, i) for i in range(n) for key in band_keys(sig, project.lsh_bands))
    roots = link(grouped(pairs), lambda members: [sig] * len(members), n, project)
    assert set(roots.tolist()) == {0}


def test_link_does_not_depend_on_order(project: ScoreSettings) -> None:
    a = np.zeros(100, dtype=np.uint32)
    b, c = a.copy(), a.copy()
    a[60:80], c[60:80], b[60:80] = 1, 1, 2
    a[80:], b[80:], c[80:] = 3, 4, 4
    assert similarity(a, c) == similarity(b, c) == 0.8 and similarity(a, b) == 0.6
    for order in ([a, b, c], [c, a, b]):
        roots = link([("b0:k", [0, 1, 2])], lambda m, order=order: [order[i] for i in m], 3, project)
        assert len(set(roots.tolist())) == 1


def test_link_through_checkpoint(tmp_path: Path, project: ScoreSettings) -> None:
    """The engine's path: keys and signatures stored in the checkpoint, candidates read back by key."""
    hasher = MinHasher(project.minhash_permutations, project.shingle_words)
    texts = [SHOP_AD, NEWS, MIRROR_AD, KAZAKH_AD]
    checkpoint = Checkpoint(tmp_path / "run.db")
    keys, sigs = [], []
    for seq, text in enumerate(texts):
        sig = signature(hasher, text)
        sigs.append((seq, sig, 40))
        keys += [(key, seq) for key in band_keys(sig, project.lsh_bands)]
    keys += [("c:telegram:@dala_example", 1), ("c:telegram:@dala_example", 3)]
    checkpoint.add_chunk([row(seq) for seq in range(4)], keys, sigs)
    roots = link(grouped(checkpoint.key_groups()), checkpoint.signatures, checkpoint.committed(), project)
    assert roots.tolist() == [0, 1, 0, 1]
    checkpoint.close()


# -- drift --------------------------------------------------------------------------------------------
def test_histogram() -> None:
    shares = histogram(np.array([0.0, 0.05, 0.15, 0.95, 1.0, 1.7, -0.2]), 10)
    assert shares.shape == (10,)
    assert shares.sum() == pytest.approx(1.0)
    assert shares[0] == pytest.approx(3 / 7)  # 0.0, 0.05 and the clipped -0.2
    assert shares[1] == pytest.approx(1 / 7)
    assert shares[9] == pytest.approx(3 / 7)  # 0.95, 1.0 and the clipped 1.7
    empty = histogram(np.array([]), 5)
    assert empty.tolist() == [0.0] * 5


def test_psi() -> None:
    rng = np.random.default_rng(0)
    base = rng.beta(2, 5, size=4000)
    reference = histogram(base, 10)
    assert psi(reference, reference) == 0.0
    shifts = [psi(reference, histogram(base + d, 10)) for d in (0.05, 0.1, 0.2, 0.3)]
    assert 0 < shifts[0] < shifts[1] < shifts[2] < shifts[3]
    shifted = histogram(base + 0.2, 10)
    assert psi(shifted, reference) == pytest.approx(psi(reference, shifted), rel=1e-9)
    # an empty bin does not make the index infinite
    assert math.isfinite(psi(np.array([0.5, 0.5, 0.0]), np.array([0.0, 0.5, 0.5])))


def test_drift_report_without_reference() -> None:
    scores = np.array([0.1, 0.2, 0.5, 0.8, 0.9])
    report = drift_report(scores, 0.5, None, 10, 0.25)
    assert report["scored"] == 5
    assert report["share_above_threshold"] == pytest.approx(0.6)  # the threshold itself counts
    assert report["mean_score"] == pytest.approx(0.5)
    assert len(report["histogram"]) == 10 and sum(report["histogram"]) == pytest.approx(1.0)
    assert report["bin_edges"] == pytest.approx(np.linspace(0, 1, 11).tolist())
    assert report["psi"] is None and report["psi_warning"] is False
    assert "reference_histogram" not in report
    json.dumps(report)  # logged as drift.json
    empty = drift_report(np.array([]), 0.5, np.array([0.2, 0.4]), 10, 0.25)
    assert empty["scored"] == 0 and empty["share_above_threshold"] == 0.0 and empty["psi"] is None


def test_drift_report_with_reference_and_warning() -> None:
    rng = np.random.default_rng(1)
    reference = rng.beta(2, 5, size=3000)
    same = drift_report(rng.beta(2, 5, size=3000), 0.5, reference, 10, 0.25)
    assert same["psi"] is not None and same["psi"] < 0.05 and same["psi_warning"] is False
    assert same["reference_share_above_threshold"] == pytest.approx(np.mean(reference >= 0.5))
    assert len(same["reference_histogram"]) == 10
    shifted = drift_report(np.clip(rng.beta(5, 2, size=3000), 0, 1), 0.5, reference, 10, 0.25)
    assert shifted["psi"] > 0.25 and shifted["psi_warning"] is True
    assert shifted["share_above_threshold"] > same["share_above_threshold"]
    lenient = drift_report(np.clip(rng.beta(5, 2, size=3000), 0, 1), 0.5, reference, 10, 1e6)
    assert lenient["psi_warning"] is False
    json.dumps(shifted)


class _Head:
    def __init__(self, **attributes: object):
        self.__dict__.update(attributes)

    def fit(self, x: object, y: object = None) -> _Head:
        return self


def _pipeline(**attributes: object) -> object:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    return Pipeline([("prepare", FunctionTransformer()), ("head", _Head(**attributes))])


def test_reference_scores() -> None:
    both = reference_scores(_pipeline(reference_scores_=[0.1, 0.9], oof_scores_=[0.5]))
    assert both is not None and both.dtype == float and both.tolist() == [0.1, 0.9]
    assert reference_scores(_pipeline(oof_scores_=np.array([0.3, 0.4]))).tolist() == [0.3, 0.4]
    assert reference_scores(_pipeline(reference_scores_=[], oof_scores_=[0.7])).tolist() == [0.7]
    assert reference_scores(_pipeline()) is None
    assert reference_scores(_pipeline(reference_scores_=None, oof_scores_=[])) is None
    assert reference_scores(object()) is None


@pytest.mark.parametrize("with_reference", [False, True])
def test_plot_histogram_writes_png(tmp_path: Path, with_reference: bool) -> None:
    rng = np.random.default_rng(2)
    reference = rng.beta(2, 5, size=500) if with_reference else None
    report = drift_report(rng.beta(2, 3, size=500), 0.5, reference, 10, 0.25)
    path = plot_histogram(report, tmp_path / "score_histogram.png")
    assert path == tmp_path / "score_histogram.png"
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


# -- checkpoint ---------------------------------------------------------------------------------------
def row(seq: int, **overrides: object) -> dict:
    base = {
        "seq": seq,
        "id": f"rec-{seq:03d}",
        "url": f"https://t.me/s/klad_shop_example/{seq}",
        "title": "Закладки в Алматы — мефедрон",
        "score": 0.5 + seq / 100,
        "category": "sale",
        "source_kind": "telegram",
        "fetched_at": "2024-05-30T10:00:00Z",
        "contacts": {"telegram": ["@klad_shop_example"], "phone": ["+7 700 000 00 01"]},
    }
    return base | overrides


def chunk(seqs: range | list[int]) -> tuple[list[dict], list[tuple[str, int]], list[tuple[int, np.ndarray]]]:
    rows = [row(s) for s in seqs]
    keys = [(f"b0:{s % 2}", s) for s in seqs]
    sigs = [(s, np.full(8, s, dtype=np.uint32), 8) for s in seqs]
    return rows, keys, sigs


def count(checkpoint: Checkpoint, table: str) -> int:
    return checkpoint.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_checkpoint_add_chunk_and_committed(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path / "nested" / "run.db")
    assert checkpoint.committed() == 0
    checkpoint.add_chunk(*chunk(range(0, 3)))
    checkpoint.add_chunk(*chunk(range(3, 5)))
    assert checkpoint.committed() == 5
    assert [row[0] for row in checkpoint.scoring_inputs()] == [0, 1, 2, 3, 4]
    assert checkpoint.scores().tolist() == pytest.approx([0.5, 0.51, 0.52, 0.53, 0.54])
    assert list(checkpoint.key_groups()) == [("b0:0", 0), ("b0:0", 2), ("b0:0", 4), ("b0:1", 1), ("b0:1", 3)]
    checkpoint.close()
    reopened = Checkpoint(tmp_path / "nested" / "run.db")
    assert reopened.committed() == 5
    reopened.close()


def test_checkpoint_failed_chunk_leaves_nothing(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path / "run.db")
    checkpoint.add_chunk(*chunk(range(0, 3)))
    # seq 5 and 6 are new, seq 2 is already stored: the whole chunk must be rejected
    with pytest.raises(sqlite3.IntegrityError):
        checkpoint.add_chunk(*chunk([5, 6, 2]))
    assert checkpoint.committed() == 3
    assert count(checkpoint, "keys") == 3 and count(checkpoint, "signatures") == 3
    # rows are fine but a signature collides: the rows and keys of the chunk go too
    rows, keys, sigs = chunk(range(3, 5))
    with pytest.raises(sqlite3.IntegrityError):
        checkpoint.add_chunk(rows, keys, [*sigs, (0, np.zeros(8, dtype=np.uint32), 8)])
    assert checkpoint.committed() == 3
    assert count(checkpoint, "keys") == 3 and count(checkpoint, "signatures") == 3
    # a malformed row (no id) fails before anything is written, and the connection stays usable
    bad = row(3)
    del bad["id"]
    with pytest.raises(KeyError):
        checkpoint.add_chunk([bad], [], [])
    checkpoint.add_chunk(*chunk(range(3, 5)))
    assert checkpoint.committed() == 5
    checkpoint.close()
    reopened = Checkpoint(tmp_path / "run.db")
    assert [row[0] for row in reopened.scoring_inputs()] == [0, 1, 2, 3, 4]
    reopened.close()


def test_checkpoint_meta_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    checkpoint = Checkpoint(path)
    assert checkpoint.get("run_id") is None
    checkpoint.put(run_id="a1b2c3")
    checkpoint.put(started_at="2024-06-01T12:00:00+00:00")
    checkpoint.put(run_id="d4e5f6")  # replaced, not duplicated
    checkpoint.close()
    reopened = Checkpoint(path)
    assert reopened.get("run_id") == "d4e5f6"
    assert reopened.get("started_at") == "2024-06-01T12:00:00+00:00"
    assert count(reopened, "meta") == 2
    reopened.close()


def test_checkpoint_signatures_round_trip(tmp_path: Path) -> None:
    hasher = MinHasher()
    sigs = [(i, signature(hasher, text), 30) for i, text in enumerate((SHOP_AD, KAZAKH_AD, NEWS))]
    checkpoint = Checkpoint(tmp_path / "run.db")
    checkpoint.add_chunk([row(0), row(1), row(2)], [], sigs)
    back = checkpoint.signatures([2, 0])
    assert [s.dtype for s in back] == [np.uint32, np.uint32]
    assert np.array_equal(back[0], sigs[2][1]) and np.array_equal(back[1], sigs[0][1])
    checkpoint.close()


def test_checkpoint_ranked_order(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path / "run.db")
    checkpoint.add_chunk([row(s, score=None if s == 6 else 0.9) for s in range(7)], [], [])
    ranking = [  # (cluster_id, cluster_size, priority, seq)
        ("g-rec-000", 2, 10.0, 0),
        ("g-rec-001", 3, 40.0, 1),
        ("g-rec-002", 1, 30.0, 2),
        ("g-rec-000", 2, 50.0, 3),
        ("g-rec-001", 3, 45.0, 4),
        ("g-rec-001", 3, 5.0, 5),
        ("g-rec-006", 1, 0.0, 6),
    ]
    checkpoint.set_ranking(iter(ranking))
    ranked = list(checkpoint.ranked())
    assert [r["id"] for r in ranked] == [
        "rec-003",
        "rec-000",
        "rec-004",
        "rec-001",
        "rec-005",
        "rec-002",
        "rec-006",
    ]
    assert [r["rank"] for r in ranked] == list(range(1, 8))
    assert [r["cluster_id"] for r in ranked] == ["g-rec-000"] * 2 + ["g-rec-001"] * 3 + [
        "g-rec-002",
        "g-rec-006",
    ]
    assert [r["cluster_size"] for r in ranked] == [2, 2, 3, 3, 3, 1, 1]
    assert [r["priority"] for r in ranked] == [50.0, 10.0, 45.0, 40.0, 5.0, 30.0, 0.0]
    assert all("seq" not in r for r in ranked)
    # the rest of the payload comes back as stored
    assert ranked[0]["title"] == "Закладки в Алматы — мефедрон"
    assert ranked[0]["contacts"] == {"telegram": ["@klad_shop_example"], "phone": ["+7 700 000 00 01"]}
    assert ranked[-1]["score"] is None
    # ranking again (a resumed run) replaces the order
    checkpoint.set_ranking(iter([(c, s, 100.0 - p, q) for c, s, p, q in ranking]))
    # (a row without a score stays last, whatever priority it is given)
    again = ["rec-005", "rec-001", "rec-004", "rec-000", "rec-003", "rec-002", "rec-006"]
    assert [r["id"] for r in checkpoint.ranked()] == again
    checkpoint.close()


def test_checkpoint_set_ranking_can_be_repeated_after_a_failure(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path / "run.db")
    checkpoint.add_chunk(*chunk(range(3)))

    def failing():
        yield ("g-rec-000", 1, 10.0, 0)
        raise RuntimeError("priority failed")

    with pytest.raises(RuntimeError):
        checkpoint.set_ranking(failing())
    checkpoint.set_ranking(iter([(f"g-rec-00{s}", 1, float(s), s) for s in range(3)]))
    assert [r["id"] for r in checkpoint.ranked()] == ["rec-002", "rec-001", "rec-000"]
    checkpoint.close()


def test_checkpoint_delete_removes_files(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    checkpoint = Checkpoint(path)
    checkpoint.add_chunk(*chunk(range(3)))
    # a second open connection keeps SQLite from removing the -wal and -shm files on close
    other = sqlite3.connect(path)
    assert other.execute("SELECT COUNT(*) FROM rows").fetchone()[0] == 3
    files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    assert all(f.exists() for f in files)
    checkpoint.delete()
    other.close()
    assert not any(f.exists() for f in files)
    assert list(tmp_path.iterdir()) == []
    Checkpoint(path).delete()  # deleting a fresh checkpoint works too
