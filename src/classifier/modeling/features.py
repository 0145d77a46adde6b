"""Features of a document: sub-word and word n-grams of the normalised text, and meta signals.

Character n-grams carry the signal through slang, inflection and misspellings, but scikit-learn's
char analyzer builds them per document in Python (~600 docs/s here). Words repeat across documents,
so ``SubwordVectorizer`` computes each word's n-grams once and caches their column indices: the same
signal (char n-grams within word boundaries, as ``char_wb``) at several thousand documents a second.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from classifier.common.surrogates import without_surrogates
from classifier.text.language import KAZAKH_LETTERS
from classifier.text.normalize import normalize_with_signals
from classifier.text.words import tokenize

TEXT_FIELDS = ("title", "description", "text", "image_text")  # image_text: what OCR read in its images
_RUSSIAN_WORD = re.compile("[а-яё]+")
_CACHE_LIMIT = 500_000


def document_texts(documents: Any) -> list[str]:
    """The text a document is judged on: title, description, body and the text in its images, from a
    frame or a list of str."""
    if isinstance(documents, pd.DataFrame):
        columns = [c for c in TEXT_FIELDS if c in documents.columns]
        if "text" not in columns:
            raise ValueError("documents need a 'text' column")
        # as objects first: filling a float column (all missing) with "" is deprecated and will raise
        parts = documents[columns].astype(object).fillna("").astype(str)
        return ["\n".join(p for p in row if p) for row in parts.itertuples(index=False, name=None)]
    if isinstance(documents, pd.Series):
        return documents.astype(object).fillna("").astype(str).tolist()
    # A lone surrogate (a JSON "\ud800" escape) is no character: pandas 3 strings refuse it, so the
    # prepared frame could not be built. It reads as a decoder's replacement character instead.
    return [without_surrogates(str(d)) if d is not None else "" for d in documents]


class DocumentPreparer(BaseEstimator, TransformerMixin):
    """Documents -> a frame: normalised text (``norm``), the original (``raw``), and meta signals."""

    def fit(self, documents: Any, y: Any = None) -> DocumentPreparer:
        return self

    def transform(self, documents: Any) -> pd.DataFrame:
        raw = document_texts(documents)
        norms, rows = [], []
        for text in raw:
            norm, signals = normalize_with_signals(text)
            norms.append(norm)
            rows.append(meta_features(norm, text, signals))
        meta = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(META_FEATURES))
        columns = {"norm": norms, "raw": raw} | {name: meta[:, i] for i, name in enumerate(META_FEATURES)}
        return pd.DataFrame(columns)


class SubwordVectorizer(BaseEstimator, TransformerMixin):
    """Counts of stemmed words, word bigrams and character n-grams inside words, with a per-word cache."""

    def __init__(
        self,
        ngram_range: tuple[int, int] = (3, 5),
        min_df: int = 2,
        max_features: int | None = 300_000,
        bigrams: bool = True,
        stem: bool = True,
        stemmer: str = "snowball",
    ):
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.bigrams = bigrams
        self.stem = stem
        self.stemmer = stemmer

    # -- per-word features ------------------------------------------------------------------------
    def _stemmer(self) -> Any:
        """The Russian Snowball stemmer: ``snowball`` is the Snowball project's own C build (PyStemmer),
        ``nltk`` NLTK's Python port, which models saved before kept: 14 times slower a word (every new
        word of a run is stemmed) and its import costs every run ~0.3 s, but its stems are what those
        models' features were built from (they differ on 77 of 137,000 real words)."""
        if getattr(self, "_stemmer_obj", None) is None:
            if self.stemmer == "nltk":
                from nltk.stem.snowball import SnowballStemmer

                self._stemmer_obj = SnowballStemmer("russian").stem
            else:
                import Stemmer

                self._stemmer_obj = Stemmer.Stemmer("russian").stemWord
        return self._stemmer_obj

    def _stem(self, token: str) -> str:
        cache = self._stem_cache()
        stem = cache.get(token)
        if stem is None:
            # Snowball's Russian stemmer knows only Russian: other words keep their form
            russian = self.stem and len(token) > 3 and _RUSSIAN_WORD.fullmatch(token) is not None
            stem = self._stemmer()(token) if russian else token
            cache[token] = stem
        return stem

    def _stem_cache(self) -> dict[str, str]:
        if getattr(self, "_stems", None) is None or len(self._stems) > _CACHE_LIMIT:
            self._stems = {}
        return self._stems

    def word_features(self, token: str) -> list[str]:
        """The features one word contributes: its stem, and its character n-grams with boundaries."""
        features = ["w=" + self._stem(token)]
        if token.startswith(("_", "emoji_")):
            return features
        padded = f"<{token}>"
        low, high = self.ngram_range
        for n in range(low, min(high, len(padded)) + 1):
            features.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
        if len(padded) < low:  # a word shorter than every n-gram counts once, whole (as char_wb)
            features.append(padded)
        return features

    def _bigrams(self, tokens: Sequence[str]) -> list[str]:
        if not self.bigrams:
            return []
        stems = [self._stem(t) for t in tokens]
        return [f"b={a} {b}" for a, b in itertools.pairwise(stems)]

    # -- fit / transform ----------------------------------------------------------------------------
    def fit(self, texts: Iterable[str], y: Any = None) -> SubwordVectorizer:
        df: Counter[str] = Counter()
        word_cache: dict[str, list[str]] = {}
        for text in texts:
            tokens = tokenize(text)
            features: set[str] = set(self._bigrams(tokens))
            for token in set(tokens):
                found = word_cache.get(token)
                if found is None:
                    found = word_cache[token] = self.word_features(token)
                features.update(found)
            df.update(features)
        kept = [(f, n) for f, n in df.items() if n >= self.min_df]
        kept.sort(key=lambda item: (-item[1], item[0]))
        if self.max_features:
            kept = kept[: self.max_features]
        self.vocabulary_ = {f: i for i, (f, _) in enumerate(sorted(kept))}
        self._index_cache, self._pairs = {}, None
        return self

    def _word_entry(self, token: str) -> tuple[np.ndarray, int, str]:
        """Column indices of a word's features, their count and the word's stem, cached per word."""
        vocab = self.vocabulary_
        columns = np.asarray([vocab[f] for f in self.word_features(token) if f in vocab], dtype=np.int32)
        entry = (columns, len(columns), self._stem(token))
        cache = self._index_cache
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        cache[token] = entry
        return entry

    def word_columns(self, token: str) -> np.ndarray:
        """The columns one occurrence of ``token`` adds to, once per feature (repeats included)."""
        cache = getattr(self, "_index_cache", None)
        if cache is None:
            cache = self._index_cache = {}
        return (cache.get(token) or self._word_entry(token))[0]

    def bigram_columns(self, tokens: Sequence[str]) -> list[tuple[int, int]]:
        """(position of the pair's first word, column) for each adjacent pair that is a feature."""
        if not self.bigrams:
            return []
        pairs = self._pair_columns()
        stems = [self._stem(t) for t in tokens]
        found = ((i, pairs.get((a, b))) for i, (a, b) in enumerate(itertools.pairwise(stems)))
        return [(i, column) for i, column in found if column is not None]

    def _pair_columns(self) -> dict[tuple[str, str], int]:
        """Bigram columns keyed by (stem, stem): no string formatting per token at transform time."""
        if getattr(self, "_pairs", None) is None:
            vocab = self.vocabulary_
            names = list(vocab)
            if all(map(operator.le, names, names[1:])):  # in name order, as fit makes it: one slice
                pairs = names[bisect.bisect_left(names, "b=") : bisect.bisect_left(names, "b>")]
            else:
                pairs = [f for f in names if f.startswith("b=")]
            self._pairs = {tuple(f[2:].split(" ", 1)): vocab[f] for f in pairs}
        return self._pairs

    def transform(self, texts: Iterable[str]) -> sp.csr_matrix:
        vocab = self.vocabulary_
        pairs = self._pair_columns()
        if getattr(self, "_index_cache", None) is None:
            self._index_cache = {}
        cache = self._index_cache
        parts: list[np.ndarray] = []
        indptr = [0]
        total = 0
        for text in texts:
            previous = None
            bigrams = []
            for token in tokenize(text):
                columns, count, stem = cache.get(token) or self._word_entry(token)
                parts.append(columns)
                total += count
                if previous is not None:
                    column = pairs.get((previous, stem))
                    if column is not None:
                        bigrams.append(column)
                previous = stem if self.bigrams else None
            if bigrams:
                parts.append(np.asarray(bigrams, dtype=np.int32))
                total += len(bigrams)
            indptr.append(total)
        flat = np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)
        matrix = sp.csr_matrix(
            (np.ones(len(flat), dtype=np.float64), flat, np.asarray(indptr, dtype=np.int64)),
            shape=(len(indptr) - 1, len(vocab)),
        )
        matrix.sum_duplicates()
        return matrix

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = np.empty(len(self.vocabulary_), dtype=object)
        for feature, index in self.vocabulary_.items():
            names[index] = feature
        return names

    def __getstate__(self) -> dict[str, Any]:
        # caches are rebuilt on demand; pickling them would bloat the model file
        dropped = ("_index_cache", "_stems", "_stemmer_obj", "_pairs")
        state = {k: v for k, v in self.__dict__.items() if k not in dropped}
        vocabulary = state.pop("vocabulary_", None)
        if vocabulary is not None:
            # The vocabulary (~300,000 features) as two arrays, the names' UTF-8 bytes end to end and
            # their lengths, by column: a dict is a Python object per key and value, which skops' audit
            # and joblib's unpickler walk one by one (seconds per load), and an array of str is as wide
            # as the longest name. Arrays load at C speed; the dict is rebuilt from them in ~0.1 s.
            encoded = [name.encode("utf-8") for name in self.get_feature_names_out()]
            state["vocabulary_utf8_"] = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
            state["vocabulary_lengths_"] = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state.setdefault("stemmer", "nltk")  # saved before the choice: built with NLTK's stems
        data, lengths = state.pop("vocabulary_utf8_", None), state.pop("vocabulary_lengths_", None)
        if data is not None and lengths is not None:  # models saved before kept the dict itself
            text = data.tobytes().decode("utf-8")  # decoded once, then cut at each name's characters
            byte_starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
            first_bytes = ((data & 0xC0) != 0x80).astype(np.int64)  # a character's first byte
            chars = np.add.reduceat(first_bytes, byte_starts) if len(data) else np.zeros(0, np.int64)
            chars[lengths == 0] = 0  # reduceat gives an empty name the next byte's count
            ends = np.cumsum(chars).tolist()
            names = [text[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
            state["vocabulary_"] = dict(zip(names, range(len(names)), strict=True))
        super().__setstate__(state)


# Meta signals: what an expert notices besides the words. Most are counted by normalisation itself.
# A number is at most 20 more digits, spaces and marks: an unbounded run made every digit of a long
# "1 1 1 …" page rescan the rest (quadratic: 350 s for 64,000 characters). Counts do not change, as a
# longer run still ends in one match, found from a later digit.
_PRICE = re.compile(r"\d[\d\s.,]{0,20}\s?(?:₸|тг|тңг|тенге|теңге|тыс|мың|к\b|usdt|\$|btc|долл)")
_WEIGHT = re.compile(r"\d[\d.,]{0,20}\s?(?:г|гр|грамм|кг|g)\b")
_UPPER = re.compile(r"[A-ZА-ЯЁӘҒҚҢӨҰҮҺІ]")
_KAZAKH = re.compile(f"[{''.join(sorted(KAZAKH_LETTERS))}]")
PLACEHOLDER_NAMES = ("tg", "phone", "url", "wallet", "onion", "card", "email", "whatsapp")
SIGNAL_NAMES = ("emoji", "drug_emoji", "invisible", "stylised", "spelled", "mixed_script")
META_FEATURES = (
    *(f"n_{p}" for p in PLACEHOLDER_NAMES),
    *(f"n_{s}" for s in SIGNAL_NAMES),
    "n_prices",
    "n_weights",
    "log_length",
    "kazakh_share",
    "upper_share",
)


# What each meta feature is, in the words of the case page; counts are shown as counts.
META_LABELS = {
    "n_tg": "Telegram-контакты на странице",
    "n_phone": "телефоны на странице",
    "n_url": "ссылки на странице",
    "n_wallet": "криптокошельки на странице",
    "n_onion": "адреса .onion на странице",
    "n_card": "номера карт на странице",
    "n_email": "адреса эл. почты на странице",
    "n_whatsapp": "контакты WhatsApp на странице",
    "n_emoji": "эмодзи",
    "n_drug_emoji": "эмодзи, которыми обозначают наркотики",
    "n_invisible": "невидимые символы",
    "n_stylised": "стилизованные буквы",
    "n_spelled": "слова, написанные по буквам",
    "n_mixed_script": "слова из букв разных алфавитов",
    "n_prices": "цены",
    "n_weights": "веса (г, кг)",
    "log_length": "длина текста",
    "kazakh_share": "доля казахских букв",
    "upper_share": "доля заглавных букв",
}


def describe_meta(name: str, value: float) -> str:
    """A meta feature as an expert reads it: "Telegram-контакты на странице: 2"."""
    label = META_LABELS.get(name, name)
    if name.startswith("n_"):  # stored as log(1 + count)
        return f"{label}: {round(math.expm1(value))}"
    if name == "log_length":
        return f"{label}: {round(math.expm1(value * 5.0))} знаков"
    scale = 10 if name == "kazakh_share" else 5
    return f"{label}: {value / scale:.0%}"


def meta_features(norm: str, raw: str, signals: dict[str, int]) -> list[float]:
    """Log-scaled counts of contacts, emoji, disguises, prices and weights, and three shape signals."""
    counts = [signals.get(f"_{p}_", 0) for p in PLACEHOLDER_NAMES]
    counts += [signals.get(name, 0) for name in SIGNAL_NAMES]
    counts += [len(_PRICE.findall(norm)), len(_WEIGHT.findall(norm))]
    head = raw[:2000]
    letters = len(head) - head.count(" ") or 1
    shape = [
        math.log1p(len(raw)) / 5.0,
        len(_KAZAKH.findall(head)) / letters * 10,
        len(_UPPER.findall(head)) / letters * 5,
    ]
    return [math.log1p(c) for c in counts] + shape


class MetaFeatures(BaseEstimator, TransformerMixin):
    """The meta columns of the prepared frame as a sparse block (non-negative, for every model type)."""

    def __init__(self, weight: float = 1.0):
        self.weight = weight

    def fit(self, frame: pd.DataFrame, y: Any = None) -> MetaFeatures:
        return self

    def transform(self, frame: pd.DataFrame) -> sp.csr_matrix:
        return sp.csr_matrix(frame[list(META_FEATURES)].to_numpy(dtype=np.float64) * self.weight)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"meta={m}" for m in META_FEATURES], dtype=object)
