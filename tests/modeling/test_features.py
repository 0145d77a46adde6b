from __future__ import annotations

import itertools
import pickle
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import Stemmer

from classifier.modeling.features import (
    META_FEATURES,
    DocumentPreparer,
    MetaFeatures,
    SubwordVectorizer,
    document_texts,
    tokenize,
)

# Normalised text, as the vectorizer receives it: lower case, contacts and emoji already tokens.
TEXTS = [
    "меф кристаллы закладки магнит прикоп пиши _tg_",
    "закладки по городу меф 00000тг оператор _tg_ emoji_crystal",
    "семена томатов доставка по городу 0000тг",
    "аптека доставка лекарств по городу 000тг",
    "тауар сатылады жасырын жерге закладка байланыс _tg_",
]


# -- tokenize ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("меф 15000тг", ["меф", "00000тг"]),
        ("1г 2,5г 2024", ["0г", "0", "0г", "0000"]),
        ("пиши _tg_ или _phone_", ["пиши", "_tg_", "или", "_phone_"]),
        ("emoji_leaf emoji_snowflake 1г", ["emoji_leaf", "emoji_snowflake", "0г"]),
        ("бағасы 5000 теңге", ["бағасы", "0000", "теңге"]),
        ("", []),
    ],
    ids=["price", "weights-and-year", "placeholders", "emoji-tokens", "kazakh", "empty"],
)
def test_tokenize(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


# -- SubwordVectorizer ------------------------------------------------------------------------------
_STEMMER = Stemmer.Stemmer("russian")


def _stem(token: str) -> str:
    return _STEMMER.stemWord(token) if len(token) > 3 and not token.startswith("_") else token


def brute_force_features(text: str, low: int, high: int, bigrams: bool = True) -> Counter[str]:
    """Every feature occurrence of a text, computed the slow, obvious way (as char_wb does)."""
    tokens = tokenize(text)
    found: Counter[str] = Counter()
    for token in tokens:
        found["w=" + _stem(token)] += 1
        if token.startswith(("_", "emoji_")):
            continue
        padded = f"<{token}>"
        for n in range(low, high + 1):
            for i in range(max(1, len(padded) - n + 1)):
                found[padded[i : i + n]] += 1
            if len(padded) <= n:  # a short word counts whole once, as in scikit-learn's char_wb
                break
    if bigrams:
        for a, b in itertools.pairwise(tokens):
            found[f"b={_stem(a)} {_stem(b)}"] += 1
    return found


def dense_row(vectorizer: SubwordVectorizer, text: str) -> dict[str, float]:
    row = vectorizer.transform([text]).toarray()[0]
    names = vectorizer.get_feature_names_out()
    return {names[i]: row[i] for i in np.flatnonzero(row)}


@pytest.mark.parametrize("ngram_range", [(3, 5), (2, 4), (3, 3)], ids=["3-5", "2-4", "3-3"])
def test_transform_equals_brute_force_count(ngram_range: tuple[int, int]) -> None:
    vectorizer = SubwordVectorizer(ngram_range=ngram_range, min_df=1).fit(TEXTS)
    probes = [*TEXTS, "закладки закладки меф городу", "новый магазин меф _tg_ emoji_leaf аптека"]
    for text in probes:
        expected = brute_force_features(text, *ngram_range)
        known = {f: float(n) for f, n in expected.items() if f in vectorizer.vocabulary_}
        assert dense_row(vectorizer, text) == known


def test_vocabulary_holds_stems_ngrams_and_bigrams() -> None:
    vectorizer = SubwordVectorizer(min_df=1).fit(["закладки магнит"])
    vocab = vectorizer.vocabulary_
    assert "w=" + _stem("закладки") in vocab
    assert {"<за", "кладк", "ки>", "<магн"} <= set(vocab)
    assert f"b={_stem('закладки')} {_stem('магнит')}" in vocab
    assert sorted(vocab.values()) == list(range(len(vocab)))


def test_placeholders_and_emoji_contribute_only_their_word_feature() -> None:
    vectorizer = SubwordVectorizer(min_df=1, bigrams=False).fit(["_tg_ emoji_leaf"])
    assert set(vectorizer.vocabulary_) == {"w=_tg_", "w=emoji_leaf"}


def test_bigrams_can_be_off() -> None:
    vectorizer = SubwordVectorizer(min_df=1, bigrams=False).fit(TEXTS)
    assert not any(f.startswith("b=") for f in vectorizer.vocabulary_)


def test_min_df_drops_rare_features() -> None:
    texts = ["меф закладки", "меф магнит", "соль соль соль"]  # "соль" is frequent in one document only
    vocab = SubwordVectorizer(min_df=2).fit(texts).vocabulary_
    assert "w=меф" in vocab
    assert "w=" + _stem("закладки") not in vocab
    assert "w=" + _stem("соль") not in vocab
    assert "b=меф " + _stem("закладки") not in vocab
    everything = SubwordVectorizer(min_df=1).fit(texts).vocabulary_
    assert "w=" + _stem("соль") in everything


def test_max_features_keeps_the_most_frequent() -> None:
    vectorizer = SubwordVectorizer(min_df=1, max_features=3).fit(TEXTS)
    assert len(vectorizer.vocabulary_) == 3
    document_frequency = Counter(f for t in TEXTS for f in set(brute_force_features(t, 3, 5)))
    top = sorted(document_frequency.values(), reverse=True)[2]
    assert all(document_frequency[f] >= top for f in vectorizer.vocabulary_)


def test_unknown_word_contributes_only_known_ngrams() -> None:
    vectorizer = SubwordVectorizer(min_df=1).fit(TEXTS)
    row = dense_row(vectorizer, "закладкии")
    assert row  # the misspelt word still lights up n-grams of the right one
    assert set(row) <= set(vectorizer.vocabulary_)
    assert "<закл" in row and "кии>" not in row  # the shared start counts, the unseen ending does not
    assert set(row) == set(brute_force_features("закладкии", 3, 5)) & set(vectorizer.vocabulary_)


def test_misspelt_drug_word_stays_close_to_the_right_one() -> None:
    vectorizer = SubwordVectorizer(min_df=1).fit(TEXTS)
    right, wrong = vectorizer.transform(["закладки", "закладкии"]).toarray()
    cosine = right @ wrong / (np.linalg.norm(right) * np.linalg.norm(wrong))
    assert cosine > 0.5
    unrelated = vectorizer.transform(["аптека"]).toarray()[0]
    assert right @ unrelated == 0


def test_unseen_text_gives_an_empty_row() -> None:
    vectorizer = SubwordVectorizer(min_df=1).fit(TEXTS)
    matrix = vectorizer.transform(["qqqqq", ""])
    assert matrix.shape == (2, len(vectorizer.vocabulary_))
    assert matrix.nnz == 0


def test_per_word_cache_is_not_pickled() -> None:
    vectorizer = SubwordVectorizer(min_df=1).fit(TEXTS)
    before = len(pickle.dumps(vectorizer))
    words = ["закладк" + "".join(letters) for letters in itertools.product("абвгдежзик", repeat=3)]
    vectorizer.transform([" ".join(words[i : i + 50]) for i in range(0, len(words), 50)])
    assert len(vectorizer._index_cache) >= 1000  # the caches did fill up
    assert len(vectorizer._stems) >= 1000
    assert len(pickle.dumps(vectorizer)) == before


def test_unpickled_vectorizer_gives_identical_output() -> None:
    vectorizer = SubwordVectorizer(min_df=1).fit(TEXTS)
    probe = [*TEXTS, "закладкии по городу _tg_", "неизвестные слова"]
    expected = vectorizer.transform(probe)
    restored = pickle.loads(pickle.dumps(vectorizer))
    assert (restored.transform(probe) != expected).nnz == 0
    assert (vectorizer.transform(probe) != expected).nnz == 0  # a warm cache changes nothing either


def test_the_vocabulary_is_stored_as_arrays_and_comes_back_as_it_was() -> None:
    """~300,000 features as a dict took seconds to load (skops and joblib walk it object by object):
    the model file holds them as two arrays; a model saved with the dict still loads."""
    vectorizer = SubwordVectorizer(min_df=1).fit([*TEXTS, "ёжик 🍄 «соль» Қазақстан"])
    state = vectorizer.__getstate__()
    assert "vocabulary_" not in state and state["vocabulary_utf8_"].dtype == np.uint8
    restored = pickle.loads(pickle.dumps(vectorizer))
    assert restored.vocabulary_ == vectorizer.vocabulary_
    old_format = SubwordVectorizer.__new__(SubwordVectorizer)
    old_format.__setstate__({**vectorizer.__dict__})  # as models before this one were saved
    assert old_format.vocabulary_ == vectorizer.vocabulary_
    assert (old_format.transform(TEXTS) != vectorizer.transform(TEXTS)).nnz == 0


def test_models_saved_before_the_c_stemmer_keep_nltks_stems() -> None:
    """Their features were built from NLTK's Snowball port, which differs from the C stemmer on a few
    words: a model stems as it was trained."""
    texts = ["протестующая толпа", "протестующая толпа у входа"]
    vectorizer = SubwordVectorizer(min_df=1).fit(texts)
    state = vectorizer.__getstate__()
    del state["stemmer"]  # as models before the choice were saved
    old = SubwordVectorizer.__new__(SubwordVectorizer)
    old.__setstate__(state)
    assert (old.stemmer, vectorizer.stemmer) == ("nltk", "snowball")
    assert old._stem("протестующая") == "протестующ"
    assert vectorizer._stem("протестующая") == "протест"
    restored = pickle.loads(pickle.dumps(vectorizer))
    assert restored.stemmer == "snowball" and restored._stem("протестующая") == "протест"


def test_short_word_counts_its_padded_form_once() -> None:
    vectorizer = SubwordVectorizer(min_df=1).fit(["в 1г"])
    row = dense_row(vectorizer, "в 1г")
    assert row["<в>"] == 1
    assert row["<0г>"] == 1


# -- MetaFeatures -----------------------------------------------------------------------------------
BASE = "Хороший товар в наличии. Пишите в любое время."


def meta_row(text: str) -> dict[str, float]:
    frame = DocumentPreparer().transform([text])
    values = MetaFeatures().fit(frame).transform(frame).toarray()[0]
    return dict(zip(META_FEATURES, values, strict=True))


@pytest.mark.parametrize(
    ("addition", "column"),
    [
        (" Оператор @shop_example", "n_tg"),
        (" Звоните +7 700 000 00 01", "n_phone"),
        (" Сайт https://shop.example/catalog", "n_url"),
        (" Цена 15000 тг", "n_prices"),
        (" Цена 15к", "n_prices"),
        (" Бағасы 5000 теңге", "n_prices"),
        (" Оплата 50 usdt", "n_prices"),
        (" Фасовка 2г", "n_weights"),
        (" Фасовка 0,5 гр", "n_weights"),
        (" ❄️", "n_drug_emoji"),
        (" 🍁💊", "n_drug_emoji"),
        (" 🔥", "n_emoji"),
        (" MEФ", "n_mixed_script"),
        (" 3акладки", "n_mixed_script"),
        (" за\u200bкладки", "n_invisible"),
        (" со\u00adль", "n_invisible"),
        (" с.о.л.ь", "n_spelled"),
        (" 𝐌𝐄𝐅", "n_stylised"),
        (" ᴍᴇꜰ", "n_stylised"),
        (" Тауар сатылады, жеткізу тез", "kazakh_share"),
        (" СРОЧНО ЗВОНИТЕ", "upper_share"),
    ],
    ids=[
        "handle",
        "phone",
        "url",
        "price-tenge",
        "price-k",
        "price-kazakh",
        "price-usdt",
        "weight-g",
        "weight-gr",
        "snowflake",
        "leaf-pill",
        "fire",
        "latin-lookalike",
        "digit-for-letter",
        "zero-width-space",
        "soft-hyphen",
        "spelled-out",
        "math-letters",
        "small-capitals",
        "kazakh",
        "upper-case",
    ],
)
def test_meta_column_rises_with_its_signal(addition: str, column: str) -> None:
    assert meta_row(BASE + addition)[column] > meta_row(BASE)[column]


def test_ordinary_emoji_is_not_a_drug_emoji() -> None:
    with_fire = meta_row(BASE + " 🔥✅")
    assert with_fire["n_emoji"] > 0
    assert with_fire["n_drug_emoji"] == meta_row(BASE)["n_drug_emoji"] == 0


def test_plain_text_has_no_disguise_signals() -> None:
    row = meta_row(BASE)
    for column in ("n_tg", "n_phone", "n_invisible", "n_mixed_script", "n_stylised", "n_spelled"):
        assert row[column] == 0, column


def test_meta_features_are_non_negative_and_weighted() -> None:
    text = "MEФ 1г 15000 тг ❄️ @shop_example за\u200bкладки"
    frame = DocumentPreparer().transform([text, BASE])
    plain = MetaFeatures(weight=1.0).transform(frame).toarray()
    doubled = MetaFeatures(weight=2.0).transform(frame).toarray()
    assert plain.shape == (2, len(META_FEATURES))
    assert (plain >= 0).all()
    np.testing.assert_allclose(doubled, 2 * plain)
    assert len(MetaFeatures().get_feature_names_out()) == len(META_FEATURES)


# -- document_texts ---------------------------------------------------------------------------------
def test_document_texts_joins_title_description_and_text() -> None:
    frame = pd.DataFrame(
        {
            "text": ["тело", "только тело", None],
            "title": ["Заголовок", None, "З"],
            "description": ["Описание", "", None],
            "url": ["https://a.example", "", ""],
        }
    )
    assert document_texts(frame) == ["Заголовок\nОписание\nтело", "только тело", "З"]


def test_document_texts_accepts_a_text_only_frame_series_and_list() -> None:
    assert document_texts(pd.DataFrame({"text": ["а", "б"]})) == ["а", "б"]
    assert document_texts(pd.Series(["а", None])) == ["а", ""]
    assert document_texts(["а", None]) == ["а", ""]


def test_document_texts_refuses_a_frame_without_text() -> None:
    with pytest.raises(ValueError, match="text"):
        document_texts(pd.DataFrame({"title": ["Заголовок"], "description": ["Описание"]}))


def test_document_preparer_keeps_raw_and_normalised_text() -> None:
    frame = DocumentPreparer().fit(["x"]).transform(["MEФ @shop_example"])
    assert list(frame.columns[:2]) == ["norm", "raw"]
    assert frame.loc[0, "raw"] == "MEФ @shop_example"
    assert frame.loc[0, "norm"] == "меф _tg_"
