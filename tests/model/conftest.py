"""One model, trained once per session the way the project trains it, for the behavioural tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from classifier.config import Settings, load_settings
from classifier.corpus.generator import generate_corpus
from classifier.datasets import demo_dataset
from classifier.model import predict
from classifier.train import fit_model, split_families

Scorer = Callable[[list[str]], np.ndarray]


@pytest.fixture(scope="session")
def behavioural_settings() -> Settings:
    """Project settings; no real negatives from ../shared, so the tests depend on the package only."""
    base = load_settings()
    return replace(
        base,
        extract=replace(base.extract, n_jobs=2),
        train=replace(base.train, real_negatives="never"),
    )


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory, behavioural_settings: Settings) -> Pipeline:
    """A small demo corpus, family split and disguise filter as in ``train``, then ``fit_model``."""
    settings = behavioural_settings
    corpus = tmp_path_factory.mktemp("demo-corpus")
    generate_corpus(corpus, settings.corpus, n=800, seed=3)
    frame = demo_dataset(corpus, settings, use_cache=False)
    train, _ = split_families(frame, settings.train.holdout_share, settings.train.seed)
    # the disguises kept for robustness evaluation stay out of training, as in train.load_training_data
    kinds = set(settings.train.robustness_kinds)
    used = train["obfuscations"].fillna("").astype(str).str.split("+")
    train = train[~used.map(lambda k: bool(set(k) & kinds))].reset_index(drop=True)
    # one BLAS thread: with two cores, threads fighting over tiny lbfgs steps make fitting ~4x slower
    with threadpool_limits(limits=1):
        return fit_model(train, settings)


@pytest.fixture(scope="session")
def threshold(trained_model: Pipeline) -> float:
    return float(trained_model[-1].threshold_)


@pytest.fixture(scope="session")
def score(trained_model: Pipeline) -> Scorer:
    """Texts -> calibrated scores of the session's model."""

    def score_texts(texts: list[str]) -> np.ndarray:
        return predict(trained_model, pd.DataFrame({"text": texts})).score

    return score_texts
