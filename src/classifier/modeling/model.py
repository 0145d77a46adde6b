"""The model: one scikit-learn Pipeline from extracted documents to a calibrated score, with a
category head and an operating threshold (its evidence: ``explanations``).

    prepare (normalise) -> features (sub-word TF-IDF + meta) -> ScoringHead

The head fits its linear model with out-of-fold scores grouped by template family, calibrates those
scores (Platt or isotonic), and keeps them so that training can choose the threshold on data the
model did not see. No MLflow here: see ``tracking``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from classifier.common.config import ModelSettings
from classifier.modeling.features import (
    META_FEATURES,
    DocumentPreparer,
    MetaFeatures,
    SubwordVectorizer,
)
from classifier.text.cues import CueFeatures, cue_feature_names

CATEGORIES = ("sale", "recruitment", "propaganda")


def make_estimator(settings: ModelSettings) -> BaseEstimator:
    """The linear model named in params: logreg (default), linear_svm, complement_nb or sgd."""
    seed = settings.seed
    estimators = {
        "logreg": lambda: LogisticRegression(
            C=settings.C, class_weight="balanced", max_iter=2000, solver="liblinear"
        ),
        "linear_svm": lambda: LinearSVC(C=settings.C / 10, class_weight="balanced", random_state=seed),
        "complement_nb": lambda: ComplementNB(alpha=settings.nb_alpha),
        "sgd": lambda: SGDClassifier(
            loss="modified_huber", alpha=1e-5, class_weight="balanced", random_state=seed
        ),
    }
    if settings.estimator not in estimators:
        raise ValueError(f"model.estimator must be one of {sorted(estimators)}, not {settings.estimator!r}")
    return estimators[settings.estimator]()


def _fit_one(base: BaseEstimator, features: Any, y: np.ndarray, weight: np.ndarray) -> BaseEstimator:
    return clone(base).fit(features, y, sample_weight=weight)


def raw_scores(estimator: BaseEstimator, features: Any) -> np.ndarray:
    """The linear model's decision value (log-odds for models that only give probabilities)."""
    if hasattr(estimator, "decision_function"):
        return np.asarray(estimator.decision_function(features), dtype=float)
    return _log_odds(estimator.predict_proba(features)[:, 1])


def _log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p) - np.log1p(-p)


# Trees need rows: with fewer (a few dozen labelled pages) they cannot split and would answer one score
# for every page, so such a head stays linear.
MIN_BOOSTED_ROWS = 200


class ScoringHead(BaseEstimator, ClassifierMixin):
    """Linear model + calibration + threshold + category model, fitted on feature vectors."""

    def __init__(
        self,
        estimator: BaseEstimator | None = None,
        calibration: str = "sigmoid",
        folds: int = 5,
        threshold: float = 0.5,
        seed: int = 0,
        n_jobs: int = 1,
        stack_columns: int = 0,
    ):
        self.estimator = estimator
        self.calibration = calibration
        self.folds = folds
        self.threshold = threshold
        self.seed = seed
        self.n_jobs = n_jobs
        self.stack_columns = stack_columns  # > 0: boosted trees over the linear score and the last columns

    def fit(
        self, features: Any, y: Any, groups: Any = None, categories: Any = None, sample_weight: Any = None
    ) -> ScoringHead:
        y = np.asarray(y, dtype=int)
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        self.classes_ = np.array([0, 1])
        base = self.estimator if self.estimator is not None else LogisticRegression(class_weight="balanced")
        raw_oof = np.zeros(len(y))
        # folds in threads: liblinear and the sparse products release the GIL, and threads share
        # the feature matrix instead of copying it to worker processes
        splits = self._splits(y, groups)
        fold_models = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(_fit_one)(base, features[train], y[train], weight[train]) for train, _ in splits
        )
        for model, (_, valid) in zip(fold_models, splits, strict=True):
            raw_oof[valid] = raw_scores(model, features[valid])
        self.booster_ = None
        if self.stack_columns and len(y) >= MIN_BOOSTED_ROWS:
            raw_oof = self._fit_booster(raw_oof, features, y, weight, splits)
        # weighted as the model is: thousands of easy real negatives at 0.03 each must not make the
        # calibration steeper than the corpus supports
        self.calibrator_ = self._fit_calibrator(raw_oof, y, weight)
        self.oof_scores_ = self._calibrate(raw_oof)
        self.estimator_ = clone(base).fit(features, y, sample_weight=weight)
        self.category_model_ = self._fit_categories(features, y, categories)
        self.threshold_ = float(self.threshold)
        return self

    def _booster(self) -> HistGradientBoostingClassifier:
        return HistGradientBoostingClassifier(
            max_iter=150, learning_rate=0.1, max_leaf_nodes=15, l2_regularization=1.0,
            early_stopping=False, random_state=self.seed,
        )  # fmt: skip

    def _stack_input(self, raw: np.ndarray, features: Any) -> np.ndarray:
        tail = features[:, features.shape[1] - self.stack_columns :]
        return np.column_stack([raw, tail.toarray() if hasattr(tail, "toarray") else tail])

    def _fit_booster(
        self, raw_oof: np.ndarray, features: Any, y: np.ndarray, weight: np.ndarray, splits: list
    ) -> np.ndarray:
        """Trees over the linear model's out-of-fold score and the cue columns, which can say "and"
        (a drug near a price, and no warning). Returns the trees' own out-of-fold log-odds."""
        stacked = self._stack_input(raw_oof, features)
        boosted_oof = np.zeros(len(y))
        for train, valid in splits:
            fold = self._booster().fit(stacked[train], y[train], sample_weight=weight[train])
            boosted_oof[valid] = _log_odds(fold.predict_proba(stacked[valid])[:, 1])
        self.booster_ = self._booster().fit(stacked, y, sample_weight=weight)
        return boosted_oof

    def _splits(self, y: np.ndarray, groups: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        if groups is not None and len(set(groups)) >= self.folds:
            return list(GroupKFold(n_splits=self.folds).split(np.zeros(len(y)), y, groups))
        folds = StratifiedKFold(n_splits=self.folds, shuffle=True, random_state=self.seed)
        return list(folds.split(np.zeros(len(y)), y))

    def _fit_calibrator(self, raw: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> Any:
        if self.calibration == "isotonic":
            return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y, weight)
        if self.calibration == "sigmoid":
            return LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y, sample_weight=weight)
        raise ValueError(f"model.calibration must be sigmoid or isotonic, not {self.calibration!r}")

    def _calibrate(self, raw: np.ndarray) -> np.ndarray:
        if isinstance(self.calibrator_, IsotonicRegression):
            return np.clip(self.calibrator_.predict(raw), 0.0, 1.0)
        return self.calibrator_.predict_proba(raw.reshape(-1, 1))[:, 1]

    def _fit_categories(self, features: Any, y: np.ndarray, categories: Any) -> OneVsRestClassifier | None:
        if categories is None:
            return None
        categories = np.asarray(categories, dtype=object)
        mask = (y == 1) & np.isin(categories, CATEGORIES)
        if len(set(categories[mask])) < 2:
            return None
        # liblinear (one-vs-rest): fast on sparse text features, free of BLAS thread contention
        binary = LogisticRegression(
            C=4.0, max_iter=2000, class_weight="balanced", solver="liblinear", random_state=self.seed
        )
        return OneVsRestClassifier(binary).fit(features[mask], categories[mask])

    def decision_function(self, features: Any) -> np.ndarray:
        raw = raw_scores(self.estimator_, features)
        if getattr(self, "booster_", None) is None:
            return raw
        return _log_odds(self.booster_.predict_proba(self._stack_input(raw, features))[:, 1])

    def predict_proba(self, features: Any) -> np.ndarray:
        score = self._calibrate(self.decision_function(features))
        return np.column_stack([1 - score, score])

    def predict(self, features: Any) -> np.ndarray:
        return (self.predict_proba(features)[:, 1] >= self.threshold_).astype(int)

    def predict_category(self, features: Any) -> tuple[np.ndarray, np.ndarray]:
        """The most likely category and its probability (for every row; meaningful for positives)."""
        if self.category_model_ is None:
            return np.full(features.shape[0], "sale", dtype=object), np.full(features.shape[0], np.nan)
        proba = self.category_model_.predict_proba(features)
        best = proba.argmax(axis=1)
        return self.category_model_.classes_[best], proba[np.arange(len(best)), best]

    def coefficients(self) -> np.ndarray:
        """Per-feature weights towards 'violation' (log-odds scale for linear models)."""
        model = self.estimator_
        if hasattr(model, "coef_"):
            return np.asarray(model.coef_).ravel()
        return model.feature_log_prob_[1] - model.feature_log_prob_[0]


def _reference_text_features(settings: ModelSettings) -> FeatureUnion:
    """scikit-learn's own char_wb and word TF-IDF: the slow reference the sub-word set is measured against."""
    low, high = settings.char_ngrams
    chars = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(low, high),
        min_df=settings.min_df,
        max_features=settings.max_features,
        sublinear_tf=True,
    )
    words = TfidfVectorizer(
        token_pattern=r"\w+",
        ngram_range=(1, 2 if settings.word_bigrams else 1),
        min_df=settings.min_df,
        sublinear_tf=True,
    )
    return FeatureUnion([("chars", chars), ("words", words)])


def build_pipeline(settings: ModelSettings) -> Pipeline:
    """An unfitted pipeline: documents (DataFrame with ``text``; ``title``, ``description`` if any) -> score."""
    if settings.head not in ("linear", "boosted"):
        raise ValueError(f"model.head must be linear or boosted, not {settings.head!r}")
    if settings.feature_set not in ("subword", "sklearn_char"):
        raise ValueError(f"model.feature_set must be subword or sklearn_char, not {settings.feature_set!r}")
    text_features = (
        _reference_text_features(settings)
        if settings.feature_set == "sklearn_char"
        else Pipeline(
            [
                (
                    "counts",
                    SubwordVectorizer(
                        ngram_range=tuple(settings.char_ngrams),
                        min_df=settings.min_df,
                        max_features=settings.max_features,
                        bigrams=settings.word_bigrams,
                    ),
                ),
                ("tfidf", TfidfTransformer(sublinear_tf=True)),
            ]
        )
    )
    features = ColumnTransformer(
        [
            ("text", text_features, "norm"),
            ("meta", MetaFeatures(weight=settings.meta_weight), list(META_FEATURES)),
            ("cues", CueFeatures(weight=settings.cue_weight, stance=settings.cue_stance), "norm"),
        ],
        sparse_threshold=1.0,
    )
    head = ScoringHead(
        make_estimator(settings),
        calibration=settings.calibration,
        folds=settings.folds,
        seed=settings.seed,
        n_jobs=settings.n_jobs,
        stack_columns=len(META_FEATURES) + len(cue_feature_names(stance=settings.cue_stance))
        if settings.head == "boosted"
        else 0,
    )
    return Pipeline([("prepare", DocumentPreparer()), ("features", features), ("head", head)])


def fit_pipeline(
    pipeline: Pipeline,
    documents: pd.DataFrame,
    labels: Any,
    *,
    groups: Any = None,
    categories: Any = None,
    sample_weight: Any = None,
) -> Pipeline:
    """Fit; ``groups`` (template families) keep near-duplicates on one side of every fold."""
    return pipeline.fit(
        documents,
        np.asarray(labels, dtype=int),
        head__groups=groups,
        head__categories=categories,
        head__sample_weight=sample_weight,
    )


@dataclass(frozen=True)
class Prediction:
    score: np.ndarray
    label: np.ndarray
    category: np.ndarray
    category_probability: np.ndarray


def predict(pipeline: Pipeline, documents: Any) -> Prediction:
    """Calibrated score, label at the model's threshold, and category, in one pass over the features."""
    return prediction_from_features(pipeline[-1], pipeline[:-1].transform(documents))


def prediction_from_features(head: ScoringHead, features: Any) -> Prediction:
    """A category is a claim about a violation: under the threshold it is "none", with 1 - score."""
    score = head.predict_proba(features)[:, 1]
    label = (score >= head.threshold_).astype(int)
    category, probability = head.predict_category(features)
    category = np.where(label == 1, category, "none").astype(object)
    probability = np.where(label == 1, probability, 1.0 - score)
    return Prediction(score, label, category, probability)


# -- persistence -----------------------------------------------------------------------------------
def save_model(pipeline: Pipeline, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.joblib"
    joblib.dump(pipeline, path, compress=3)
    return path


def load_model_file(folder: Path) -> Pipeline:
    """Load an exported model folder. joblib runs code on load: only load folders you trust."""
    path = folder / "model.joblib" if folder.is_dir() else folder
    if not path.exists():
        raise FileNotFoundError(f"no model at {path}")
    return joblib.load(path)
