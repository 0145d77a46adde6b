"""Evidence experts read (issue 15): the cues they check, named as such; never a city."""

from __future__ import annotations

import pandas as pd
from sklearn.pipeline import Pipeline

from classifier.cues import is_place_name
from classifier.model import predict_and_explain

LISTING = (
    "Магазин в Уральске. Мефедрон 1 г — 15 000 тг, гашиш 2 г — 12 000 тг. "
    "Тайник или магнит по районам, оплата USDT. Оператор @shop_example"
)


def _evidence(model: Pipeline, text: str, top_k: int = 8):
    return predict_and_explain(model, pd.DataFrame({"text": [text]}), top_k=top_k).evidence[0]


def test_a_listing_is_explained_by_its_cues(trained_model: Pipeline) -> None:
    evidence = _evidence(trained_model, LISTING)
    cues = {e.cue for e in evidence}
    assert "наркотик" in cues, evidence
    assert cues & {"цена", "вес", "тайник", "предложение", "контакт"}, evidence
    drug = next(e for e in evidence if e.cue == "наркотик")
    assert drug.term in ("мефедрон", "гашиш") and drug.sentence and drug.as_dict()["cue"] == "наркотик"
    assert all(e.weight > 0 for e in evidence)


def test_a_city_is_never_evidence(trained_model: Pipeline) -> None:
    for city in ("Уральске", "Алматы", "Шымкенте", "Караганде", "Астане"):
        evidence = _evidence(trained_model, LISTING.replace("Уральске", city), top_k=20)
        assert not [e.term for e in evidence if is_place_name(e.term)], evidence


def test_plain_words_keep_no_cue_label(trained_model: Pipeline) -> None:
    evidence = _evidence(trained_model, LISTING, top_k=20)
    assert all("cue" not in e.as_dict() for e in evidence if not e.cue)
