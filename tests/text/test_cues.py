"""Cue features (cues.py): the lexicon's groups found in normalised text, and pairs found close together."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest

from classifier.text.cues import PAIRS, CueFeatures, CueFinder, cue_feature_names, parse_lexicon
from classifier.text.normalize import normalize_text


def groups_in(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for cue in CueFinder().find(normalize_text(text)):
        found.setdefault(cue.group, []).append(cue.text)
    return found


def pairs_in(text: str) -> set[str]:
    row = CueFeatures().fit(None).transform(pd.Series([normalize_text(text)])).toarray()[0]
    names = cue_feature_names()
    return {
        name.removeprefix("cue=") for name, value in zip(names, row, strict=True) if "+" in name and value
    }


def test_a_listing_is_a_drug_near_a_price_weight_and_stash() -> None:
    found = groups_in("Мефедрон 2 г — 18 000 ₸, тайник в Алматы; оплата USDT")
    assert found["drug"] == ["мефедрон"]
    assert found["delivery"] == ["тайник"] and "оплата" in found["offer"]
    assert {"drug+price", "drug+weight", "drug+delivery", "delivery+price"} <= pairs_in(
        "Мефедрон 2 г — 18 000 ₸, тайник в Алматы; оплата USDT"
    )


def test_a_legal_shop_with_prices_and_a_handle_has_no_drug_pair() -> None:
    pairs = pairs_in("Мёд алтайский 1 кг — 5000 тг, доставка по городу, пишите @honey_example")
    assert "weight+price" in pairs
    assert not {p for p in pairs if p.startswith(("drug", "slang", "euphemism"))}


def test_disguised_and_compound_words_count() -> None:
    found = groups_in("Требуются курьеры-кл@дмены, оплата за адрес 5000 тг, залог")
    assert found["recruit"] == ["требуются", "курьеры-кладмены"] and found["drug_job"] == [
        "кладмены",
        "залог",
    ]
    assert found["pay"] == ["за адрес"]
    assert groups_in("М.Е.Ф и 3акладки")["drug"] == ["меф"]
    assert groups_in("меfедрон, zакладки")["delivery"] == ["закладки"]


def test_transliterated_names_count() -> None:
    found = groups_in("MEF i zakladki, kladmen nuzhen")
    assert found["drug"] == ["mef"] and found["delivery"] == ["zakladki"]
    assert found["drug_job"] == ["kladmen"]


def test_a_warning_is_counted_as_a_warning() -> None:
    found = groups_in("Полиция задержала закладчика с 2 кг мефедрона")
    assert found["warning"] == ["полиция", "задержала"]
    assert "warning+drug" in pairs_in("Полиция задержала закладчика с 2 кг мефедрона")


def test_cues_far_apart_are_no_pair() -> None:
    filler = " ".join(["слово"] * 30)
    assert "drug+price" not in pairs_in(f"мефедрон {filler} 5000 тг")
    assert "drug+price" in pairs_in(f"мефедрон {' '.join(['слово'] * 5)} 5000 тг")


def test_kazakh_cues() -> None:
    found = groups_in("Есірткі сатамын, бағасы 10 мың теңге, жасырын жер")
    assert found["drug"] == ["есірткі"] and {"сатамын", "бағасы"} <= set(found["offer"])
    assert found["delivery"] == ["жасырын жер"] and found["price"] == ["10 мың"]


def test_feature_block_shape_names_and_pickling() -> None:
    features = CueFeatures(weight=0.5).fit(None)
    matrix = features.transform(pd.Series(["меф 1г 5к", "", "мёд"]))
    assert matrix.shape == (3, len(features.get_feature_names_out()))
    assert 0 < matrix.toarray().max() <= 0.5 + 1e-9  # pairs are 1.0, counts log(1 + n), scaled by weight
    assert matrix[1].nnz == 0
    restored = pickle.loads(pickle.dumps(features))
    assert (
        restored.transform(pd.Series(["меф 1г 5к"])) != features.transform(pd.Series(["меф 1г 5к"]))
    ).nnz == 0
    assert len(PAIRS) == len({*PAIRS})


def test_the_fitted_lexicon_travels_with_the_model() -> None:
    """A lexicon edit after training must not change what a trained model reads."""
    features = CueFeatures().fit(None)
    features.lexicon_ = parse_lexicon({"drug": {"label": "наркотик", "entries": ["мёд"]}})
    features._finder_obj = None
    restored = pickle.loads(pickle.dumps(features))
    assert list(restored.get_feature_names_out()[:1]) == ["cue=drug"]
    assert restored.transform(pd.Series(["мёд"])).toarray()[0, 0] > 0


@pytest.mark.parametrize("entry", ["сол* для ванн*", "фото точки"])
def test_phrases_match_across_spaces(entry: str) -> None:
    lexicon = parse_lexicon({"euphemism": {"label": "эвфемизм", "entries": [entry]}})
    text = "продам «соли  для ванной»" if "сол" in entry else "фото точки после оплаты"
    assert [c.group for c in CueFinder(lexicon).find(text)] == ["euphemism"]


def test_stance_pairs_tell_a_report_from_an_offer() -> None:
    """With stance, "drug near price" counts only away from warning words; near them it is a warned pair."""
    features = CueFeatures(stance=True).fit(None)
    names = list(features.get_feature_names_out())
    offer, report = features.transform(
        pd.Series(
            [
                normalize_text("Мефедрон 2 г — 18 000 тг, пиши @shop_example"),
                normalize_text("Полиция изъяла мефедрон 2 г стоимостью 18 000 тг"),
            ]
        )
    ).toarray()
    plain, warned = names.index("cue=drug+price"), names.index("cue=warned:drug+price")
    assert (offer[plain], offer[warned]) == (1.0, 0.0)
    assert (report[plain], report[warned]) == (0.0, 1.0)
    assert len(names) == len(cue_feature_names(stance=True)) > len(cue_feature_names())
