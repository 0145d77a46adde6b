"""What loading the model costs (issue 21, fixed cost): file size and load time of the exported model
(joblib, ``models/``) and of the logged one (skops, MLflow), with the sub-word vocabulary stored as
arrays (now) and as a dict (how models were saved before).

Writes benchmarks/results/model_loading.json.

    python benchmarks/model_loading.py [--model models/drug-ad-classifier]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import skops.io

from classifier.modeling.features import SubwordVectorizer
from classifier.modeling.mlflow_model import trusted_types
from classifier.modeling.model import load_model_file
from results_file import write_results


def best_of(load: Callable[[], Any], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        load()
        times.append(time.perf_counter() - started)
    return round(min(times), 3)


def measure(pipeline: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.joblib"
        joblib.dump(pipeline, path, compress=3)  # as modeling.model.save_model writes it
        data = skops.io.dumps(pipeline)  # as modeling.mlflow_model logs it
        return {
            "joblib_mb": round(path.stat().st_size / 1e6, 1),
            "joblib_load_seconds": best_of(lambda: joblib.load(path)),
            "skops_mb": round(len(data) / 1e6, 1),
            "skops_load_seconds": best_of(
                lambda: skops.io.loads(data, trusted=trusted_types(skops.io.get_untrusted_types(data=data))),
                1,
            ),
        }


def dict_state(self: SubwordVectorizer) -> dict[str, Any]:
    """The state as models were saved before: the vocabulary as a dict."""
    dropped = ("_index_cache", "_stems", "_stemmer_obj", "_pairs")
    return {k: v for k, v in self.__dict__.items() if k not in dropped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/drug-ad-classifier", help="an exported model folder")
    args = parser.parse_args()
    pipeline = load_model_file(Path(args.model))
    transformers = pipeline.named_steps["features"].named_transformers_.values()
    steps = [step for t in transformers for step in getattr(t, "named_steps", {"": t}).values()]
    features = sum(len(s.vocabulary_) for s in steps if isinstance(s, SubwordVectorizer))
    result: dict[str, Any] = {"model": args.model, "vocabulary_features": features}
    result["arrays"] = measure(pipeline)
    arrays_state = SubwordVectorizer.__getstate__
    SubwordVectorizer.__getstate__ = dict_state  # type: ignore[method-assign]
    try:
        result["dict"] = measure(pipeline)
    finally:
        SubwordVectorizer.__getstate__ = arrays_state  # type: ignore[method-assign]
    write_results("model_loading", result)


if __name__ == "__main__":
    main()
