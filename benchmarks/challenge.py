"""The textbook model against ours, on the same demo corpus: issue 15's ablation table.

The textbook model is scikit-learn's ``char_wb`` 2-5 TF-IDF and ``LogisticRegression(C=4)``, nothing
else, fitted on the same rows with the same weights, its threshold set by the same rule (the target
recall of params.yaml on out-of-fold scores). Each model is fitted as training fits ours: once without
the held-out families (and the robustness disguises) to measure it on them, then on every row, as
shipped, to measure it on the challenge set (data/challenge/: never fitted on), on the test split of
../shared/data/real (false alarms), and for speed. Training seconds are the second fit's.

Writes benchmarks/results/challenge.json and prints the table for the README.

    python benchmarks/challenge.py              # every model
    python benchmarks/challenge.py --only ours  # the models whose names start so; writes nothing
    python benchmarks/challenge.py --params other.yaml --only ours   # another corpus or model setting
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from classifier.common.config import load_settings
from classifier.corpus.written import is_written
from classifier.modeling.challenge import challenge_metrics, load_challenge
from classifier.modeling.evaluate import choose_threshold
from classifier.modeling.model import predict
from classifier.modeling.train import fit_model
from classifier.modeling.training_data import TrainingData, load_training_data, row_weights
from results_file import write_results

SHOWN = {
    "held-out families AP": "holdout.average_precision",
    "challenge AP": "challenge.average_precision",
    "challenge recall@K": "challenge.recall_at_k",
    "challenge recall at threshold": "challenge.recall",
    "challenge precision at threshold": "challenge.precision",
    "challenge hard-negative FPR": "challenge.hard_negative_fpr",
    "challenge disguised recall": "challenge.disguised_recall",
    "challenge ECE": "challenge.ece",
    "challenge AP ru / kk / mixed": ("challenge.lang.ru.average_precision", "challenge.lang.kk.average_precision",
                                     "challenge.lang.mixed.average_precision"),
    "minimal pairs ordered (all / goods / stance)": ("challenge.minimal_pairs_ordered",
                                               "challenge.minimal_pairs_ordered.goods",
                                               "challenge.minimal_pairs_ordered.stance"),
    "real test FPR (drug topic)": ("real_fpr", "real_drug_topic_fpr"),
    "docs/s, 1 core": "docs_per_second",
    "training seconds": "train_seconds",
}  # fmt: skip


# Ablations of ours, one setting changed each (section of params.yaml -> changed values)
VARIANTS = {
    "ours, no cue features": {"model": {"cue_weight": 0.0}},
    "ours, cue weight 1": {"model": {"cue_weight": 1.0}},
    "ours, with meta features": {"model": {"meta_weight": 1.0}},
    "ours, boosted head": {"model": {"head": "boosted"}},
    "ours, stance pairs": {"model": {"cue_stance": True}},
}


def without_written(data: TrainingData) -> TrainingData:
    """The corpus's template pages only: what the hand-written texts (corpus/written/) add."""

    def drop(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[~is_written(frame["family"])].reset_index(drop=True)

    return replace(data, train=drop(data.train), full=drop(data.full))


# Ablations of the training rows (the held-out families and the challenge set stay the same)
DATA_VARIANTS = {"ours, no written texts": without_written}


def as_text(frame: pd.DataFrame) -> list[str]:
    return (frame["title"].fillna("") + "\n" + frame["text"].fillna("")).tolist()


class Textbook:
    """char_wb 2-5 TF-IDF + LogisticRegression(C=4) on title and text; threshold as ours is set."""

    def __init__(self, target_recall: float) -> None:
        self.target_recall = target_recall

    def _pipeline(self):
        return make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)), LogisticRegression(C=4, max_iter=2000)
        )

    def fit(self, train: pd.DataFrame, weight: np.ndarray) -> Textbook:
        texts, y = as_text(train), train["label"].to_numpy()
        folds = GroupKFold(n_splits=5).split(texts, y, train["family"])
        oof = np.zeros(len(y))
        for fit_rows, scored_rows in folds:
            model = self._pipeline().fit(
                [texts[i] for i in fit_rows], y[fit_rows], logisticregression__sample_weight=weight[fit_rows]
            )
            oof[scored_rows] = model.predict_proba([texts[i] for i in scored_rows])[:, 1]
        self.threshold_ = choose_threshold(y, oof, target_recall=self.target_recall)
        self.model = self._pipeline().fit(texts, y, logisticregression__sample_weight=weight)
        return self

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(as_text(frame))[:, 1]


class Ours:
    def __init__(self, settings) -> None:
        self.settings = settings

    def fit(self, train: pd.DataFrame, weight: np.ndarray) -> Ours:
        self.pipeline = fit_model(train, self.settings)
        self.threshold_ = float(self.pipeline[-1].threshold_)
        return self

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return predict(self.pipeline, frame).score


def docs_per_second(model, frame: pd.DataFrame) -> float:
    texts = frame.head(2000)
    model.score(texts.head(100))
    with threadpool_limits(limits=1):
        started = time.perf_counter()
        model.score(texts)
        return len(texts) / (time.perf_counter() - started)


def measure(make, data, challenge: pd.DataFrame, settings) -> dict[str, float]:
    """As training does: the evaluation fit on the held-out families, the fit on all rows elsewhere."""
    model = make().fit(data.train, row_weights(data.train, settings))
    holdout = model.score(data.holdout)
    results = {"holdout.average_precision": float(average_precision_score(data.holdout["label"], holdout))}
    started = time.perf_counter()
    model = make().fit(data.full, row_weights(data.full, settings))
    results |= {"train_seconds": time.perf_counter() - started, "threshold": model.threshold_}
    results.update(challenge_metrics(challenge, model.score(challenge), model.threshold_))
    if data.real_test is not None:
        flagged = model.score(data.real_test) >= model.threshold_
        results["real_fpr"] = float(flagged.mean())
        results["real_drug_topic_fpr"] = float(flagged[data.real_test["drug_topic"].to_numpy(bool)].mean())
    results["docs_per_second"] = docs_per_second(model, data.holdout)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in results.items()}


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.3f}"


def table(results: dict[str, dict[str, float]]) -> str:
    lines = [f"| measure | {' | '.join(results)} |", "|---|" + "---|" * len(results)]
    for label, keys in SHOWN.items():
        keys = (keys,) if isinstance(keys, str) else keys
        cells = [" / ".join(_number(r.get(k, float("nan"))) for k in keys) for r in results.values()]
        lines.append(f"| {label} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only",
        nargs="*",
        help="measure only these models (names as in the table, by prefix); writes nothing",
    )
    parser.add_argument("--params", help="a params.yaml other than the project's; writes nothing")
    args = parser.parse_args()
    only = args.only
    settings = load_settings(args.params)
    data = load_training_data(settings, None, lambda _: None)
    challenge = load_challenge(settings)
    if challenge is None:
        raise SystemExit("data/challenge/challenge.jsonl is missing")
    models = {
        "textbook (char_wb 2-5 TF-IDF + LR C=4)": lambda: Textbook(settings.train.target_recall),
        "ours (current default)": lambda: Ours(settings),
    }
    for name, changes in VARIANTS.items():  # one change to ours at a time
        variant = replace(settings, **{k: replace(getattr(settings, k), **v) for k, v in changes.items()})
        models[name] = lambda variant=variant: Ours(variant)
    rows = dict.fromkeys(models, data) | {name: drop(data) for name, drop in DATA_VARIANTS.items()}
    models |= dict.fromkeys(DATA_VARIANTS, lambda: Ours(settings))
    chosen = [n for n in models if not only or any(n.startswith(o) for o in only)]
    results = {name: measure(models[name], rows[name], challenge, settings) for name in chosen}
    rendered = table(results)
    print(rendered)
    if not only and not args.params:
        write_results("challenge", {"models": results, "table": rendered})


if __name__ == "__main__":
    main()
