"""The session's trained model (tests/conftest.py) as a scoring function, for the behavioural tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from classifier.modeling.model import predict

Scorer = Callable[[list[str]], np.ndarray]


@pytest.fixture(scope="session")
def threshold(trained_model: Pipeline) -> float:
    return float(trained_model[-1].threshold_)


@pytest.fixture(scope="session")
def score(trained_model: Pipeline) -> Scorer:
    """Texts -> calibrated scores of the session's model."""

    def score_texts(texts: list[str]) -> np.ndarray:
        return predict(trained_model, pd.DataFrame({"text": texts})).score

    return score_texts
