"""What the fast extraction mode costs in detection quality.

Trains on the demo corpus extracted with trafilatura (the default) and with resiliparse, and scores each
mode's held-out families: PR-AUC of a model trained and used in the fast mode, and of the default model
scoring pages extracted in the fast mode (a large crawl scored fast with the usual champion).

Writes benchmarks/results/extraction_quality.json. Target (issue 6): the fast mode is recommended for
large crawls only if PR-AUC drops by no more than 0.01.

    python benchmarks/extraction_quality.py
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from classifier.common.config import load_settings
from classifier.modeling.evaluate import binary_metrics
from classifier.modeling.model import predict
from classifier.modeling.train import fit_model
from classifier.modeling.training_data import load_training_data
from results_file import write_results

MAX_DROP = 0.01


def main() -> None:
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    base = load_settings()
    data, models, results = {}, {}, {}
    for engine in ("trafilatura", "resiliparse"):
        settings = replace(base, extract=replace(base.extract, engine=engine))
        started = time.perf_counter()
        data[engine] = load_training_data(settings, None, lambda _: None)
        extract_seconds = time.perf_counter() - started
        models[engine] = fit_model(data[engine].train, settings)
        results[engine] = {"extract_and_load_seconds": round(extract_seconds, 1)}
    for trained in models:
        for scored in data:
            holdout = data[scored].holdout
            prediction = predict(models[trained], holdout)
            metrics = binary_metrics(
                holdout["label"], prediction.score, float(models[trained][-1].threshold_)
            )
            results[f"trained_{trained}_scoring_{scored}"] = {
                "average_precision": round(metrics["average_precision"], 4),
                "recall": round(metrics["recall"], 4),
                "precision": round(metrics["precision"], 4),
                "holdout_rows": len(holdout),
            }
            print(trained, scored, results[f"trained_{trained}_scoring_{scored}"], flush=True)
    baseline = results["trained_trafilatura_scoring_trafilatura"]["average_precision"]
    fast = results["trained_resiliparse_scoring_resiliparse"]["average_precision"]
    mixed = results["trained_trafilatura_scoring_resiliparse"]["average_precision"]
    write_results(
        "extraction_quality",
        {
            **results,
            "pr_auc_drop_fast_mode": round(baseline - fast, 4),
            "pr_auc_drop_default_model_on_fast_extraction": round(baseline - mixed, 4),
            "targets": {"pr_auc_drop": MAX_DROP},
            "met": {
                "fast_mode": baseline - fast <= MAX_DROP,
                "default_model_on_fast_extraction": baseline - mixed <= MAX_DROP,
            },
        },
    )


if __name__ == "__main__":
    main()
