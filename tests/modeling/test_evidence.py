"""Evidence experts read: the cues they check, named as such, never a city (issue 15); every part of
the score, for and against, adding up to its log-odds (issue 16)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from classifier.common.config import ModelSettings
from classifier.modeling.explanations import Explanation, explain_scores, predict_and_explain
from classifier.modeling.model import build_pipeline, fit_pipeline, predict
from classifier.text.cues import is_place_name

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
    assert drug.weight > 0 and evidence[0].weight > 0


def test_a_city_is_never_evidence(trained_model: Pipeline) -> None:
    for city in ("Уральске", "Алматы", "Шымкенте", "Караганде", "Астане"):
        evidence = _evidence(trained_model, LISTING.replace("Уральске", city), top_k=20)
        assert not [e.term for e in evidence if is_place_name(e.term)], evidence


def test_plain_words_keep_no_cue_label(trained_model: Pipeline) -> None:
    evidence = _evidence(trained_model, LISTING, top_k=20)
    assert all("cue" not in e.as_dict() for e in evidence if not e.cue)


PIZZA = (
    "Пицца с доставкой по городу 24/7! Пепперони 30 см — 3 490 тг, Маргарита — 2 990 тг. Заказ через бот "
    "@pizza_bot_example или пишите @pizza_example в Telegram. Оплата картой или наличными курьеру."
)
NEWS = "Полиция задержала закладчика: у него изъяли 40 г мефедрона, расфасованного для тайников."


def _log_odds(score: np.ndarray) -> np.ndarray:
    return np.log(score) - np.log1p(-score)


def _check_sums(model: Pipeline, documents: pd.DataFrame) -> list[Explanation]:
    explanations = explain_scores(model, documents)
    score = predict(model, documents).score
    assert {e.units for e in explanations} == {"log-odds"}
    np.testing.assert_allclose([e.total for e in explanations], _log_odds(score), atol=1e-6)
    assert len({round(e.base, 9) for e in explanations}) == 1  # the intercept: the same for every page
    for explanation in explanations:
        sizes = [abs(p.weight) for p in explanation.parts]
        assert sizes == sorted(sizes, reverse=True) and all(sizes)
    return explanations


def test_the_parts_of_a_score_add_up_to_its_log_odds(trained_model: Pipeline) -> None:
    documents = pd.DataFrame({"text": [LISTING, PIZZA, NEWS, "Продаю велосипед, звоните +7 700 000 00 01"]})
    explanations = _check_sums(trained_model, documents)
    kinds = {p.kind for e in explanations for p in e.parts}
    assert {"word", "cue"} <= kinds, kinds
    meta_on = trained_model.named_steps["features"].named_transformers_["meta"].weight > 0
    assert ("page" in kinds) == meta_on  # page signals speak exactly when the model uses them


def test_reasons_against_are_shown_with_the_reasons_for(trained_model: Pipeline) -> None:
    [news] = explain_scores(trained_model, pd.DataFrame({"text": [NEWS]}))
    against = news.reasons_against(3)
    assert against and all(p.weight < 0 for p in against)
    shown = _evidence(trained_model, NEWS, top_k=3)
    assert [e.term for e in shown if e.weight < 0] == [p.term for p in against]


def test_the_telegram_handles_of_the_pizza_ad_are_named(trained_model: Pipeline) -> None:
    """The pizza-delivery case of issue 16: what the handles add is shown, whichever block carries it."""
    [pizza] = explain_scores(trained_model, pd.DataFrame({"text": [PIZZA]}))
    contacts = [p for p in pizza.parts if p.term == "_tg_" or p.cue == "контакт" or "Telegram" in p.term]
    assert contacts, pizza.parts


def _pizza_model(meta_weight: float) -> Pipeline:
    """A model that can learn only "two Telegram handles": the rest of the text is the same in both classes."""
    handles = "@a_example @b_example"
    texts = [PIZZA_WORDS.format(handles if i % 2 else "на сайте") + f" номер {i}" for i in range(60)]
    settings = replace(ModelSettings(), min_df=1, folds=3, C=4.0, meta_weight=meta_weight)
    return fit_pipeline(build_pipeline(settings), pd.DataFrame({"text": texts}), [i % 2 for i in range(60)])


PIZZA_WORDS = "Пицца с доставкой по городу, оплата картой, заказ {}"


def test_the_main_driver_of_a_score_is_named_first() -> None:
    model = _pizza_model(meta_weight=1.0)
    page = pd.DataFrame({"text": [PIZZA_WORDS.format("@a_example @b_example")]})
    [explanation] = _check_sums(model, page)
    top = explanation.reasons_for(1)[0]
    assert "Telegram" in top.term or top.term == "_tg_", explanation.parts[:5]
    telegram = [p for p in explanation.parts if p.kind == "page" and p.term.startswith("Telegram")]
    assert [p.term for p in telegram] == ["Telegram-контакты на странице: 2"]
    assert telegram[0].cue == "страница" and telegram[0].weight > 0


def test_a_quoted_sentence_is_never_cut_at_the_dot_of_a_number(trained_model: Pipeline) -> None:
    # the case page shades the quoted sentence in the text: cut at "25." it would start inside a number
    text = "Мефедрон 1.5 г — 25.000 тенге, закладка в течение часа. Пишите оператору @shop_example"
    evidence = _evidence(trained_model, text, top_k=20)
    quoted = {e.sentence for e in evidence if e.sentence}
    assert quoted, evidence
    for sentence in quoted:
        assert not sentence.startswith(("5 г", "000")), sentence
        assert sentence in (
            "Мефедрон 1.5 г — 25.000 тенге, закладка в течение часа.",
            "Пишите оператору @shop_example",
        )
