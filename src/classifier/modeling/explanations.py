"""Why the model scored a page as it did: every part of the score, in words an expert checks.

A linear head's score is a sum: the intercept plus, for each feature, its value times its weight, then
(with sigmoid calibration) one slope and offset. So the score splits exactly into parts that add up
to its log-odds, and each part is given to what an expert can see on the page:

- **words**: a word's sub-word n-grams; an n-gram shared by several words of the page is split between
  them by how often each contains it, a word pair (bigram) half to each word;
- **cues** (``cues.py``): each lexicon group's count and its share of every pair it is in, named by the
  first place it occurs ("наркотик: мефедрон"); a pair near a warning word belongs to the warning;
- **page** signals (the meta features): "Telegram-контакты на странице: 2";
- **other words**: what falls to city names (never shown as a reason: where is not why) and to
  n-grams no word of the page owns.

The parts pushing the score down are reasons too ("против"), shown next to those pushing it up.
With isotonic calibration or the boosted head the score is no longer a sum: the parts then split the
linear model's decision value and ``Explanation.units`` says so.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from classifier.modeling.features import (
    META_FEATURES,
    SubwordVectorizer,
    describe_meta,
    document_texts,
    tokenize,
)
from classifier.modeling.model import Prediction, ScoringHead, prediction_from_features, raw_scores
from classifier.text.cues import WARNED, CueFinder, cue_label, is_place_name
from classifier.text.normalize import normalize_text

OTHER_WORDS = "прочие слова"
# a sentence ends at . ! ? or a line break, but not at the dot of a number ("25.000 тенге", "1.5 г")
_SENTENCE = re.compile(r"(?:[^.!?\n]|(?<=\d)\.(?=\d))+[.!?]?")


@dataclass(frozen=True)
class Evidence:
    term: str
    weight: float  # signed: > 0 pushes towards "violation"
    sentence: str
    cue: str = ""  # what an expert checks it as (наркотик, цена, тайник, ...), for cue-lexicon words
    kind: str = "word"  # word | cue | page | other

    def as_dict(self) -> dict[str, Any]:
        found = {"term": self.term, "weight": round(self.weight, 4), "sentence": self.sentence}
        return (
            found
            | ({"cue": self.cue} if self.cue else {})
            | ({"kind": self.kind} if self.kind != "word" else {})
        )


@dataclass(frozen=True)
class Explanation:
    """One document's score as a sum: ``base + sum(part.weight)`` is its log-odds (see ``units``)."""

    base: float
    parts: tuple[Evidence, ...]  # every part, the largest (by size) first
    units: str  # "log-odds": of the calibrated score; "decision": of the linear model before its map

    @property
    def total(self) -> float:
        return self.base + sum(p.weight for p in self.parts)

    def reasons_for(self, top_k: int) -> list[Evidence]:
        return [p for p in self.parts if p.weight > 0 and p.kind != "other"][:top_k]

    def reasons_against(self, top_k: int) -> list[Evidence]:
        return [p for p in self.parts if p.weight < 0 and p.kind != "other"][:top_k]


@dataclass(frozen=True)
class ExplainedPrediction:
    prediction: Prediction
    evidence: list[list[Evidence]]  # reasons for (strongest first), then reasons against
    normalised: list[str]  # the text the model read: de-obfuscated, contacts as placeholder tokens


def explain(pipeline: Pipeline, documents: Any, top_k: int = 5) -> list[list[Evidence]]:
    """For each document, up to ``top_k`` reasons for its score and up to ``top_k`` against it."""
    return predict_and_explain(pipeline, documents, top_k).evidence


def predict_and_explain(
    pipeline: Pipeline, documents: Any, top_k: int = 5, min_score: float = 0.0
) -> ExplainedPrediction:
    """Scores, categories and evidence in one pass over the features (batch scoring needs all three).

    Documents scoring below ``min_score`` get no evidence: nobody reads why a clear negative is one.
    """
    reader = _Reader.of(pipeline, documents)
    prediction = prediction_from_features(reader.head, reader.matrix)
    texts = document_texts(documents)
    evidence = []
    for i, raw in enumerate(texts):
        if prediction.score[i] < min_score:
            evidence.append([])
            continue
        explanation = reader.explain(i)
        shown = explanation.reasons_for(top_k) + explanation.reasons_against(top_k)
        evidence.append(_with_sentences(shown, raw))
    return ExplainedPrediction(prediction, evidence, list(reader.prepared["norm"]))


def explain_scores(pipeline: Pipeline, documents: Any) -> list[Explanation]:
    """Every part of every document's score (the whole sum, for notebooks and tests)."""
    reader = _Reader.of(pipeline, documents)
    return [reader.explain(i) for i in range(reader.matrix.shape[0])]


@dataclass
class _Reader:
    """A batch's feature matrix with what is needed to give each column's share of the score to a
    word, a cue group or a page signal."""

    head: ScoringHead
    matrix: sp.csr_matrix
    prepared: pd.DataFrame
    weights: np.ndarray  # per column, in the explanation's units
    base: float
    units: str
    vectorizer: SubwordVectorizer
    blocks: dict[str, slice]
    cue_names: tuple[str, ...]
    finder: CueFinder | None
    _columns: dict[str, tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict
    )  # word -> columns, repeats

    @classmethod
    def of(cls, pipeline: Pipeline, documents: Any) -> _Reader:
        prepared = pipeline.named_steps["prepare"].transform(documents)
        features: ColumnTransformer = pipeline.named_steps["features"]
        head: ScoringHead = pipeline.named_steps["head"]
        text_step = features.named_transformers_["text"]
        if not isinstance(text_step, Pipeline):
            raise ValueError("explanations need the sub-word feature set (model.feature_set: subword)")
        matrix = features.transform(prepared).tocsr()
        matrix.sort_indices()  # each row's columns in order: a feature block is a slice of them
        slope, offset, units = _units(head)
        zero = sp.csr_matrix((1, matrix.shape[1]))
        cues = features.named_transformers_.get("cues")
        return cls(
            head=head,
            matrix=matrix,
            prepared=prepared,
            weights=head.coefficients() * slope,
            base=float(raw_scores(head.estimator_, zero)[0] * slope + offset),
            units=units,
            vectorizer=text_step.named_steps["counts"],
            blocks=dict(features.output_indices_),
            cue_names=tuple(n.removeprefix("cue=") for n in cues.get_feature_names_out()) if cues else (),
            finder=cues.finder() if cues else None,
        )

    def explain(self, i: int) -> Explanation:
        start, stop = self.matrix.indptr[i], self.matrix.indptr[i + 1]
        indices = self.matrix.indices[start:stop]
        values = self.matrix.data[start:stop] * self.weights[indices]
        norm = self.prepared["norm"].iat[i]
        parts: dict[str, Evidence] = {}
        other = self._words(*self._block("text", indices, values), norm, parts)
        self._cues(_as_dict(*self._block("cues", indices, values)), norm, parts)
        self._page(_as_dict(*self._block("meta", indices, values)), i, parts)
        if other:
            parts[OTHER_WORDS] = Evidence(OTHER_WORDS, other, "", kind="other")
        ordered = sorted(parts.values(), key=lambda e: -abs(e.weight))
        return Explanation(self.base, tuple(p for p in ordered if p.weight), self.units)

    def _block(self, name: str, indices: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The block's columns of a row (numbered from the block's start) and their contributions."""
        block = self.blocks.get(name)
        if block is None:
            return np.empty(0, dtype=np.int64), np.empty(0)
        low, high = np.searchsorted(indices, [block.start, block.stop])  # a row's columns are sorted
        return indices[low:high] - block.start, values[low:high]

    def _words(self, columns: np.ndarray, values: np.ndarray, norm: str, parts: dict[str, Evidence]) -> float:
        """Each word's share of the n-gram columns; returns what no shown word owns.

        A column's contribution is split between the words that add to it, by how often each does."""
        if not len(columns):
            return 0.0
        tokens = tokenize(norm)
        counts = Counter(tokens)
        words = list(counts)
        index = {word: k for k, word in enumerate(words)}
        owner, owned, weight = [], [], []
        for k, word in enumerate(words):
            word_columns, repeats = self._word_columns(word)
            owner.append(np.full(len(word_columns), k))
            owned.append(word_columns)
            weight.append(repeats * counts[word])
        pairs = self.vectorizer.bigram_columns(tokens)  # a word pair: half to each word
        owner.append(np.asarray([index[tokens[p + d]] for p, _ in pairs for d in (0, 1)], dtype=np.int64))
        owned.append(np.asarray([c for _, c in pairs for _ in (0, 1)], dtype=np.int64))
        weight.append(np.full(2 * len(pairs), 0.5))
        owner_, owned_, weight_ = (np.concatenate(a) for a in (owner, owned, weight))
        at = np.minimum(np.searchsorted(columns, owned_), len(columns) - 1)
        present = columns[at] == owned_
        owner_, at, weight_ = owner_[present], at[present], weight_[present]
        totals = np.bincount(at, weights=weight_, minlength=len(columns))
        per_word = np.bincount(owner_, weights=values[at] * weight_ / totals[at], minlength=len(words))
        other = float(values[totals == 0].sum())
        for word, value in zip(words, per_word.tolist(), strict=True):
            if not value:
                continue
            if is_place_name(word):  # a city is where, never why (issue 15)
                other += value
            else:
                parts[word] = Evidence(word, value, "")
        return other

    def _word_columns(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """A word's columns and how often it adds to each, once per word of the batch (words repeat)."""
        found = self._columns.get(token)
        if found is None:
            columns, repeats = np.unique(self.vectorizer.word_columns(token), return_counts=True)
            found = self._columns[token] = (columns.astype(np.int64), repeats.astype(float))
        return found

    def _cues(self, block: dict[int, float], norm: str, parts: dict[str, Evidence]) -> None:
        """Each cue group's share (its count, half of each pair it is in), named where it first occurs."""
        if not block or self.finder is None:
            return
        groups: dict[str, float] = {}
        for column, value in block.items():
            name = self.cue_names[column]
            # a pair near a warning word is the warning's doing: it is what unmakes the offer
            owners = ["warning"] if name.startswith(WARNED) else name.split("+")
            for group in owners:
                groups[group] = groups.get(group, 0.0) + value / len(owners)
        first: dict[str, str] = {}
        for cue in self.finder.find(norm):
            first.setdefault(cue.group, cue.text)  # a cue is named once, at its first place
        for group, value in groups.items():
            label = cue_label(group, self.finder.lexicon)
            term = first.get(group, label)
            if is_place_name(term):
                term = label
            known = parts.get(term)
            weight = value + (known.weight if known else 0.0)
            parts[term] = Evidence(term, weight, "", label, kind="cue")

    def _page(self, block: dict[int, float], i: int, parts: dict[str, Evidence]) -> None:
        for column, value in block.items():
            name = META_FEATURES[column]
            term = describe_meta(name, float(self.prepared[name].iat[i]))
            parts[term] = Evidence(term, value, "", "страница", kind="page")


def _as_dict(columns: np.ndarray, values: np.ndarray) -> dict[int, float]:
    return dict(zip(columns.tolist(), values.tolist(), strict=True))


def _units(head: ScoringHead) -> tuple[float, float, str]:
    """Slope and offset from the linear decision value to the explanation's units, and their name."""
    calibrator = head.calibrator_
    if getattr(head, "booster_", None) is None and isinstance(calibrator, LogisticRegression):
        return float(calibrator.coef_[0, 0]), float(calibrator.intercept_[0]), "log-odds"
    return 1.0, 0.0, "decision"


def _with_sentences(evidence: list[Evidence], raw: str) -> list[Evidence]:
    sentences = [(s.strip(), normalize_text(s)) for s in _SENTENCE.findall(raw) if s.strip()]
    return [
        e if e.kind == "page" else replace(e, sentence=_sentence_with(e.term, sentences)) for e in evidence
    ]


def _sentence_with(term: str, sentences: list[tuple[str, str]]) -> str:
    for original, normalised in sentences:
        if term in tokenize(normalised):
            return original[:300]
    for original, normalised in sentences:  # a phrase or a price: "за адрес", "15 000 тг"
        if term in normalised:
            return original[:300]
    return ""
