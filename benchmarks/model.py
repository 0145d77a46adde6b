"""Training time and scoring throughput of the model, and what the fast features cost in quality.

Writes benchmarks/results/model.json. Targets (issue 3): training <= 2 minutes on 2 cores with
extraction cached (the evaluation fit and the shipped refit, as `classifier train` does); scoring
>= 2,000 docs/s on one core for ~500-character texts (warm caches, as in a long run; the rate on unseen
texts with empty caches is reported beside it), with PR-AUC within 0.005 of the slow reference feature
set (scikit-learn's char_wb + word TF-IDF).

    python benchmarks/model.py [--docs 4000]
"""

from __future__ import annotations

import argparse
import pickle
import time
from dataclasses import replace

import pandas as pd
from threadpoolctl import threadpool_limits

from classifier.common.config import load_settings
from classifier.modeling.evaluate import binary_metrics
from classifier.modeling.model import predict
from classifier.modeling.train import fit_model, shipped_model
from classifier.modeling.training_data import load_training_data
from results_file import write_results


def scoring_rate(pipeline, texts: list[str], repeats: int = 3) -> float:
    """Documents per second on one core, best of ``repeats`` (warm caches, as in a long scoring job)."""
    frame = pd.DataFrame({"title": "", "description": "", "text": texts})
    predict(pipeline, frame.head(200))
    best = 0.0
    with threadpool_limits(limits=1):
        for _ in range(repeats):
            started = time.perf_counter()
            predict(pipeline, frame)
            best = max(best, len(frame) / (time.perf_counter() - started))
    return best


def cold_rate(pipeline, texts: list[str]) -> float:
    """Documents per second on one core for a model just loaded (its per-word caches empty) on texts
    it has not seen: the first pages of a scoring run, where every new word is stemmed and looked up."""
    fresh = pickle.loads(pickle.dumps(pipeline))  # caches are not pickled
    frame = pd.DataFrame({"title": "", "description": "", "text": texts})
    with threadpool_limits(limits=1):
        started = time.perf_counter()
        predict(fresh, frame)
        return len(frame) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=4000, help="documents scored for throughput")
    args = parser.parse_args()
    settings = load_settings()
    load_training_data(settings, None, lambda _: None)  # warm the extraction cache: timed runs read it

    results: dict[str, dict] = {}
    for feature_set in ("subword", "sklearn_char"):
        variant = replace(settings, model=replace(settings.model, feature_set=feature_set))
        started = time.perf_counter()
        data = load_training_data(variant, None, lambda _: None)
        pipeline = fit_model(data.train, variant)
        shipped_model(pipeline, data, variant, lambda _: None)  # training fits twice (README)
        train_seconds = time.perf_counter() - started
        scored = predict(pipeline, data.holdout)
        metrics = binary_metrics(data.holdout["label"], scored.score, float(pipeline[-1].threshold_))
        texts = (data.holdout["text"] + " " + data.holdout["text"]).str.slice(0, 500).tolist()
        distinct = texts[: args.docs]  # each once, for the cold rate
        texts = (texts * (args.docs // len(texts) + 1))[: args.docs]
        results[feature_set] = {
            "train_seconds": round(train_seconds, 1),
            "average_precision": round(metrics["average_precision"], 4),
            "docs_per_second_one_core": round(scoring_rate(pipeline, texts), 1),
            "docs_per_second_cold_cache": round(cold_rate(pipeline, distinct), 1),
            "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
            "train_rows": len(data.train),
        }
        print(feature_set, results[feature_set], flush=True)
    fast, slow = results["subword"], results["sklearn_char"]
    summary = {
        **results,
        "targets": {"train_seconds": 120, "docs_per_second_one_core": 2000, "average_precision_gap": 0.005},
        "met": {
            "train_seconds": fast["train_seconds"] <= 120,
            "docs_per_second_one_core": fast["docs_per_second_one_core"] >= 2000,
            "average_precision_gap": slow["average_precision"] - fast["average_precision"] <= 0.005,
        },
    }
    write_results("model", summary)


if __name__ == "__main__":
    main()
