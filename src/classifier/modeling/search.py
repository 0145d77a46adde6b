"""``classifier search``: try the settings of a params-defined space, pick the best, register it through
the champion gate.

Each trial is one combination of the space (``search.space``: ``section.key: [values]``, a grid, or
``search.max_trials`` of it drawn at random), scored by cross-validation with ``GroupKFold`` by family:
a family (a template, a written group, an expert's duplicate group) is never on both sides of a fold,
so a trial is judged on pages unlike those it learned from. Only the training rows are used; the
held-out families stay unseen until the best trial is trained for real by :func:`classifier.modeling.train.train`,
which measures it, logs it and lets the gate decide.

MLflow: one parent run in ``search.experiment`` with one nested run per trial (its settings and its
fold scores), the best trial's settings tagged on the parent.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score
from sklearn.model_selection import GroupKFold, ParameterGrid, ParameterSampler

from classifier.common.config import Settings, override
from classifier.modeling import tracking
from classifier.modeling.champion import Say
from classifier.modeling.model import predict
from classifier.modeling.train import TrainResult, fit_model, train
from classifier.modeling.training_data import DEMO_DIR, load_training_data

SEARCHABLE = ("model.", "train.")  # the data are loaded once: corpus and extraction settings stay fixed


@dataclass
class Trial:
    overrides: dict[str, Any]
    fold_scores: list[float]
    run_id: str

    @property
    def score(self) -> float:
        return float(np.mean(self.fold_scores))


@dataclass
class SearchResult:
    trials: list[Trial]
    best: Trial
    parent_run: str
    registered: TrainResult | None

    def table(self) -> pd.DataFrame:
        rows = [
            {
                **t.overrides,
                "cv_average_precision": t.score,
                "cv_std": float(np.std(t.fold_scores)),
                "run_id": t.run_id,
            }
            for t in self.trials
        ]
        return pd.DataFrame(rows).sort_values("cv_average_precision", ascending=False, ignore_index=True)


def combinations(settings: Settings) -> list[dict[str, Any]]:
    """The space's combinations to try: the whole grid, or ``max_trials`` of it drawn with the seed."""
    space = {key: list(values) for key, values in settings.search.space.items()}
    if not space:
        raise ValueError(
            "search.space is empty: name settings and the values to try, e.g. model.C: [2, 4, 8]"
        )
    outside = [key for key in space if not key.startswith(SEARCHABLE)]
    if outside:
        raise ValueError(f"search.space can change model.* and train.* settings only, not {outside}")
    grid = ParameterGrid(space)
    limit = settings.search.max_trials
    if limit and limit < len(grid):
        return list(islice(ParameterSampler(space, limit, random_state=settings.search.seed), limit))
    return list(grid)


def cross_validated(data: pd.DataFrame, settings: Settings) -> list[float]:
    """Average precision on each fold's unseen families (corpus and expert rows; real texts only train)."""
    folds = GroupKFold(n_splits=settings.search.folds)
    scores = []
    for fit_rows, test_rows in folds.split(data, data["label"], data["family"]):
        model = fit_model(data.iloc[fit_rows], settings)
        held = data.iloc[test_rows]
        held = held[~held["layout"].eq("real")]
        scores.append(float(average_precision_score(held["label"], predict(model, held).score)))
    return scores


def search(
    settings: Settings,
    *,
    data: list[Path] | None = None,
    demo_dir: Path = DEMO_DIR,
    register: bool = True,
    export_dir: Path | None = None,
    say: Say = print,
) -> SearchResult:
    """Run every trial as a nested MLflow run, then train and register the best (unless ``register``
    is False) through :func:`classifier.modeling.train.train` and its champion gate; a promoted best
    model is exported to ``export_dir`` (default ``models/<registered model>``)."""
    training = load_training_data(settings, data, say, demo_dir)
    tried = combinations(settings)
    tracking.configure()
    trials = []
    with tracking.training_run(settings.search.experiment, run_name="search") as parent:
        tracking.log_params({"search": {"space": settings.search.space, "folds": settings.search.folds}})
        for number, overrides in enumerate(tried, 1):
            trial_settings = override(settings, overrides)
            name = _named(overrides)
            with tracking.nested_run(run_name=f"trial {number}: {name}") as run_id:
                tracking.log_params(overrides)
                fold_scores = cross_validated(training.train, trial_settings)
                tracking.log_metrics({"cv_average_precision": float(np.mean(fold_scores))})
                for fold, value in enumerate(fold_scores):
                    tracking.log_metrics({"cv_fold_average_precision": value}, step=fold)
            trials.append(Trial(overrides, fold_scores, run_id))
            say(
                f"trial {number}/{len(tried)} {name}: AP {np.mean(fold_scores):.4f} ± {np.std(fold_scores):.4f}"
            )
        best = max(trials, key=lambda t: t.score)
        tracking.log_metrics({"best_cv_average_precision": best.score})
        tracking.set_run_tags({"best": _named(best.overrides), "best_run": best.run_id})
    registered = None
    if register:
        registered = train(
            override(settings, best.overrides),
            data,
            demo_dir=demo_dir,
            export_dir=export_dir,
            say=say,
            run_name="search best",
            tags={"search_run": parent, "overrides": _named(best.overrides)},
        )
    return SearchResult(trials, best, parent, registered)


def _named(overrides: dict[str, Any]) -> str:
    """``model.C=4.0 model.cue_weight=1``: a trial as ``--set`` would write it."""
    return " ".join(f"{k}={v}" for k, v in overrides.items())
