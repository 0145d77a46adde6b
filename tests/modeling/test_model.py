from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from classifier.common.config import ModelSettings
from classifier.modeling.explanations import Evidence, explain
from classifier.modeling.model import (
    CATEGORIES,
    MIN_BOOSTED_ROWS,
    ScoringHead,
    build_pipeline,
    fit_pipeline,
    load_model_file,
    make_estimator,
    predict,
    save_model,
)
from classifier.text.normalize import normalize_text
from classifier.text.words import tokenize

SMALL = ModelSettings(folds=3, min_df=1)

# Hand-written documents with fake contacts only: family -> (category, texts); "none" is a negative.
FAMILIES: dict[str, tuple[str, list[str]]] = {
    "s1": (
        "sale",
        [
            "Меф кристаллы 1г — 15000 тг. Закладки по Алматы: магнит, прикоп. Оператор @shop_example.",
            "Мефедрон высшего качества, 2г — 28000 тг. Клад в течение часа. Пиши @shop_example.",
        ],
    ),
    "s2": (
        "sale",
        [
            "Шишки АК-47, 1г — 12000 тг. Перезаклад при ненаходе. Бот @green_example.",
            "Бошки и гаш в наличии. Тайник по городу, оплата на карту или USDT. @green_example",
        ],
    ),
    "s3": (
        "sale",
        [
            "Соль альфа, кристаллы 0,5г — 9000 тг. Закладки 24/7 в Шымкенте. Оператор @salt_example.",
            "Скорость и соль опт и розница, клады по всем районам. Пиши @salt_example.",
        ],
    ),
    "s4": (
        "sale",
        [
            "Меф сатылады! 1г бағасы 15000 теңге. Жасырын жерге тез жеткізу. Байланыс @dala_example.",
            "Тауар бар: шишки 1г — 12000 теңге. Алматы бойынша закладка, кепілдік бар. @dala_example",
        ],
    ),
    "s5": (
        "sale",
        [
            "Шымкентте кристалл сатамын, бағасы арзан. Клад жасырын жерде, ақша картаға. @kz_example",
            "Есірткі тауар тез жеткізу, әр аудан бойынша закладка. Байланыс @kz_example",
        ],
    ),
    "r1": (
        "recruitment",
        [
            "Работа закладчиком: 5000 тг за клад, выплаты каждую неделю. Без опыта, 18+. Пиши @job_example",
            "Нужны курьеры-кладмены, оплата за каждый клад, залог или фото паспорта. @job_example",
        ],
    ),
    "r2": (
        "recruitment",
        [
            "Ищем фасовщика и склад. Доход от 500000 тг в неделю, обучение бесплатно. @work_example",
            "Жұмыс бар! Закладчик керек, әр кладқа 5000 теңге, апта сайын табыс. @jumys_example",
        ],
    ),
    "r3": (
        "recruitment",
        [
            "Закладчик керек, тәжірибе керек емес, 18+. Залог немесе паспорт фото. Байланыс @jumys_example",
            "Курьер-закладчик в Караганду, выплаты каждый день, работа с телефона. @fast_example",
        ],
    ),
    "p1": (
        "propaganda",
        [
            "Кто не пробовал меф от @shop_example — много потерял. Клад всегда на месте, рекомендую.",
            "Где взять шишки в Алматы? Только у @green_example, лучший кайф, всем советую.",
        ],
    ),
    "p2": (
        "propaganda",
        [
            "Меф көңіл-күйді көтереді, бір рет көріңдер! @shop_example дүкені ең жақсысы.",
            "Соль даёт настоящий кайф, кто не пробовал — зря. Бери у @salt_example, кладут честно.",
        ],
    ),
    "n1": (
        "none",
        [
            "Полиция Алматы задержала сбытчика, изъято 150 граммов мефедрона. Возбуждено уголовное дело.",
            "Сотрудники полиции изъяли 2 кг марихуаны и пресекли канал сбыта через закладки.",
        ],
    ),
    "n2": (
        "none",
        [
            "Суд приговорил закладчика к 10 годам лишения свободы за сбыт синтетических наркотиков.",
            "Шымкент полициясы есірткі сатушыны ұстады, 200 грамм есірткі тәркіленді.",
        ],
    ),
    "n3": (
        "none",
        [
            "Полиция қызметкерлері ата-аналарды балаларын қадағалауға шақырады. Қылмыстық іс қозғалды.",
            "Памятка родителям: сленг закладчиков — меф, соль, клад. Звоните на линию 102.",
        ],
    ),
    "n4": (
        "none",
        [
            "Аптека: парацетамол 500 мг — 350 тг, доставка по Алматы за 2 часа. +7 700 000 00 01",
            "Нурофен 200 мг — 1200 тг, витамины — 900 тг. Заказ на сайте apteka.example, оплата картой.",
        ],
    ),
    "n5": (
        "none",
        [
            "Дәріхана: дәрі-дәрмекті 2 сағатта жеткізу. Парацетамол — 350 теңге. +7 700 000 00 02",
            "Наркологическая клиника: анонимно, 24/7, выезд нарколога на дом. +7 700 000 00 03",
        ],
    ),
    "n6": (
        "none",
        [
            "Требуются курьеры в доставку еды. Оплата от 300000 тг в месяц, график гибкий. +7 700 000 00 04",
            "Курьер на личном авто, выплаты каждую неделю, официальное трудоустройство.",
        ],
    ),
    "n7": (
        "none",
        [
            "Тамақ жеткізу қызметіне курьерлер керек. Айына 300000 теңге табыс, ресми жұмыс.",
            "Водитель-экспедитор, развоз товаров по магазинам Караганды, зарплата два раза в месяц.",
        ],
    ),
    "n8": (
        "none",
        [
            "Семена томатов и огурцов, рассада клубники, удобрения. Доставка по Шымкенту.",
            "Семена газонной травы 1 кг — 4500 тг. Садовый центр, самовывоз со склада.",
        ],
    ),
    "n9": (
        "none",
        [
            "Морская соль для ванн с лавандой, 1 кг — 2500 тг. Доставка курьером по Алматы.",
            "Тұз, ұн, қант сатылады. Дүкен күн сайын ашық, бағасы арзан.",
        ],
    ),
    "n10": (
        "none",
        [
            "Горнолыжный курорт: первый снег выпал, трассы открыты. Прокат лыж от 5000 тг.",
            "Продаю фен для волос и марки для коллекции, недорого. Звоните +7 700 000 00 05",
        ],
    ),
}
TRAIN = pd.DataFrame(
    [
        {"text": text, "label": int(category != "none"), "category": category, "family": family}
        for family, (category, texts) in FAMILIES.items()
        for text in texts
    ]
)
PROBES = pd.DataFrame(
    {
        "text": [
            "Меф и шишки, закладки по Караганде, 1г — 14000 тг. Пиши @new_example.",
            "Аптека: витамины и лекарства с доставкой по Караганде. +7 700 000 00 06",
        ]
    }
)


def fit_small(settings: ModelSettings = SMALL, with_categories: bool = True) -> Pipeline:
    # one BLAS thread: on a two-core machine lbfgs on a tiny problem is ~10x slower with two
    with threadpool_limits(limits=1):
        return fit_pipeline(
            build_pipeline(settings),
            TRAIN[["text"]],
            TRAIN["label"],
            groups=TRAIN["family"],
            categories=TRAIN["category"] if with_categories else None,
        )


@pytest.fixture(scope="module")
def fitted() -> Pipeline:
    return fit_small()


def scores(pipeline: Pipeline, documents: pd.DataFrame) -> np.ndarray:
    return pipeline.predict_proba(documents)[:, 1]


# -- scores and labels ------------------------------------------------------------------------------
def test_predict_proba_is_a_probability(fitted: Pipeline) -> None:
    proba = fitted.predict_proba(TRAIN[["text"]])
    assert proba.shape == (len(TRAIN), 2)
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_ads_score_above_negatives_on_the_training_set(fitted: Pipeline) -> None:
    score = scores(fitted, TRAIN[["text"]])
    assert score[TRAIN["label"] == 1].min() > score[TRAIN["label"] == 0].max()


def _two_cues(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noise columns, then two cue columns; the label needs both cues' values together (xor)."""
    rng = np.random.default_rng(seed)
    cues = rng.integers(0, 2, size=(n, 2))
    features = np.column_stack([rng.normal(size=(n, 3)), cues]).astype(float)
    return features, cues[:, 0] ^ cues[:, 1]


def test_a_boosted_head_says_and_where_a_linear_one_cannot() -> None:
    """Trees over the cue columns learn a conjunction that no weighted sum of them expresses."""
    features, y = _two_cues(MIN_BOOSTED_ROWS + 100)
    linear = ScoringHead(estimator=make_estimator(SMALL), folds=3).fit(features, y)
    boosted = ScoringHead(estimator=make_estimator(SMALL), folds=3, stack_columns=2).fit(features, y)
    assert linear.booster_ is None and boosted.booster_ is not None
    assert average_precision_score(y, boosted.oof_scores_) > 0.95
    assert average_precision_score(y, linear.oof_scores_) < 0.75


def test_a_boosted_head_on_few_rows_stays_linear() -> None:
    """Trees cannot split a few dozen pages: such a head keeps the linear score."""
    features, y = _two_cues(MIN_BOOSTED_ROWS - 1)
    head = ScoringHead(estimator=make_estimator(SMALL), folds=3, stack_columns=2).fit(features, y)
    assert head.booster_ is None and len(set(head.predict_proba(features)[:, 1].round(6))) > 2


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.9, 1.01])
def test_predict_uses_the_threshold(fitted: Pipeline, threshold: float) -> None:
    pipeline = copy.deepcopy(fitted)
    pipeline[-1].threshold_ = threshold
    score = scores(pipeline, TRAIN[["text"]])
    expected = (score >= threshold).astype(int)
    np.testing.assert_array_equal(pipeline.predict(TRAIN[["text"]]), expected)
    np.testing.assert_array_equal(predict(pipeline, TRAIN[["text"]]).label, expected)


def test_threshold_comes_from_settings_until_training_sets_it(fitted: Pipeline) -> None:
    assert fitted[-1].threshold_ == fitted[-1].threshold == 0.5


def test_out_of_fold_scores_cover_every_training_document(fitted: Pipeline) -> None:
    oof = fitted[-1].oof_scores_
    assert oof.shape == (len(TRAIN),)
    assert ((oof >= 0) & (oof <= 1)).all()


def test_predict_returns_scores_labels_and_categories(fitted: Pipeline) -> None:
    result = predict(fitted, PROBES)
    np.testing.assert_allclose(result.score, scores(fitted, PROBES))
    flagged = result.label == 1
    assert flagged.any() and not flagged.all()
    assert set(result.category[flagged]) <= set(CATEGORIES)
    assert ((result.category_probability > 0) & (result.category_probability <= 1)).all()
    assert result.score[0] > result.score[1]


def test_a_page_under_the_threshold_gets_no_category(fitted: Pipeline) -> None:
    """A category is a claim about a violation: under the threshold it is "none", with 1 - score."""
    result = predict(fitted, PROBES)
    below = result.label == 0
    assert below.any()
    assert set(result.category[below]) == {"none"}
    np.testing.assert_allclose(result.category_probability[below], 1 - result.score[below])


def test_category_head_tells_recruitment_from_sale(fitted: Pipeline) -> None:
    probes = pd.DataFrame(
        {
            "text": [
                "Работа закладчиком, оплата за каждый клад, выплаты каждую неделю. @job_example",
                "Меф кристаллы 1г — 15000 тг, закладки магнит. Оператор @shop_example",
            ]
        }
    )
    assert list(predict(fitted, probes).category) == ["recruitment", "sale"]


def test_without_categories_the_head_defaults_to_sale() -> None:
    result = predict(fit_small(with_categories=False), PROBES)
    assert list(result.label) == [1, 0]
    assert list(result.category) == ["sale", "none"]
    assert np.isnan(result.category_probability[0])


# -- estimators and calibrations --------------------------------------------------------------------
@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic"])
@pytest.mark.parametrize("estimator", ["logreg", "linear_svm", "complement_nb", "sgd"])
def test_every_estimator_and_calibration_fits_and_scores(estimator: str, calibration: str) -> None:
    pipeline = fit_small(replace(SMALL, estimator=estimator, calibration=calibration))
    score = scores(pipeline, TRAIN[["text"]])
    assert score.shape == (len(TRAIN),)
    assert np.isfinite(score).all()
    assert ((score >= 0) & (score <= 1)).all()
    assert score[TRAIN["label"] == 1].mean() > score[TRAIN["label"] == 0].mean()
    assert len(pipeline[-1].coefficients()) == pipeline[:-1].transform(PROBES).shape[1]


def test_unknown_estimator_names_the_choices() -> None:
    """Refused when the settings are made, before anything is fitted."""
    with pytest.raises(
        ValueError,
        match=r"estimator must be one of logreg, linear_svm, complement_nb, sgd, not 'random_forest'",
    ):
        replace(SMALL, estimator="random_forest")
    for name in ("logreg", "linear_svm", "complement_nb", "sgd"):  # every choice names an estimator
        assert make_estimator(replace(SMALL, estimator=name)) is not None


def test_unknown_calibration_is_refused() -> None:
    with pytest.raises(ValueError, match="calibration must be one of sigmoid, isotonic, not 'beta'"):
        replace(SMALL, calibration="beta")


# -- explanations -----------------------------------------------------------------------------------
def test_explain_gives_reasons_for_then_against_found_in_the_document(fitted: Pipeline) -> None:
    documents = pd.DataFrame(
        {
            "text": [
                "Новый магазин в Караганде. Меф кристаллы 1г — 15000 тг! Закладки магнит, пиши @new_example.",
                "Садовый центр: семена томатов. Доставка по городу.",
            ]
        }
    )
    evidence = explain(fitted, documents, top_k=3)
    assert len(evidence) == 2
    ad = evidence[0]
    reasons_for = [e for e in ad if e.weight > 0]
    assert 1 <= len(reasons_for) <= 3 and ad[: len(reasons_for)] == reasons_for  # for first, then against
    weights = [e.weight for e in reasons_for]
    assert weights == sorted(weights, reverse=True)
    against = [e.weight for e in ad[len(reasons_for) :]]
    assert all(w < 0 for w in against) and against == sorted(against) and len(against) <= 3
    raw = documents.loc[0, "text"]
    tokens = tokenize(normalize_text(raw))
    for item in ad:
        assert isinstance(item, Evidence)
        keys = {"term", "weight", "sentence"} | ({"cue"} if item.cue else set())
        assert set(item.as_dict()) == keys | ({"kind"} if item.kind != "word" else set())
        if item.kind == "page":  # a page signal ("цены: 1") has no sentence of its own
            assert not item.sentence and item.cue == "страница"
            continue
        assert item.sentence and item.sentence in raw
        if item.cue:  # a cue is named as written ("15000 тг"), which may span words
            assert item.term in normalize_text(raw) and item.term in normalize_text(item.sentence)
        else:
            assert item.term in tokens and item.term in tokenize(normalize_text(item.sentence))
    assert {"меф", "закладки", "_tg_"} & {e.term for e in reasons_for}
    assert all(len(found) <= 6 for found in evidence)


def test_explain_points_to_the_sentence_with_the_term(fitted: Pipeline) -> None:
    text = "Доставка по городу. Закладки магнит и прикоп. Мы работаем каждый день"
    evidence = explain(fitted, pd.DataFrame({"text": [text]}), top_k=10)[0]
    by_term = {e.term: e.sentence for e in evidence}
    assert by_term.get("закладки") == "Закладки магнит и прикоп."


# -- persistence ------------------------------------------------------------------------------------
def test_save_and_load_give_identical_scores(fitted: Pipeline, tmp_path: Path) -> None:
    path = save_model(fitted, tmp_path / "model")
    assert path.exists()
    for loaded in (load_model_file(tmp_path / "model"), load_model_file(path)):
        np.testing.assert_array_equal(scores(loaded, TRAIN[["text"]]), scores(fitted, TRAIN[["text"]]))
        assert loaded[-1].threshold_ == fitted[-1].threshold_


def test_loading_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_model_file(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        load_model_file(tmp_path / "empty")


# -- input shapes -----------------------------------------------------------------------------------
def test_title_and_description_are_read_with_the_text(fitted: Pipeline) -> None:
    split = pd.DataFrame(
        {
            "title": ["Меф кристаллы, закладки", None],
            "description": ["Магазин в Алматы", "Семена и рассада"],
            "text": ["Доставка по городу.", "Доставка по городу."],
            "url": ["https://a.example", "https://b.example"],
        }
    )
    joined = pd.DataFrame(
        {
            "text": [
                "Меф кристаллы, закладки\nМагазин в Алматы\nДоставка по городу.",
                "Семена и рассада\nДоставка по городу.",
            ]
        }
    )
    np.testing.assert_allclose(scores(fitted, split), scores(fitted, joined))
    assert scores(fitted, split)[0] > scores(fitted, split[["text"]])[0]  # the title carries the ad


def test_a_list_of_strings_is_accepted(fitted: Pipeline) -> None:
    np.testing.assert_allclose(scores(fitted, list(PROBES["text"])), scores(fitted, PROBES))


def test_a_frame_without_text_is_refused(fitted: Pipeline) -> None:
    with pytest.raises(ValueError, match="text"):
        fitted.predict_proba(pd.DataFrame({"title": ["Меф"]}))
