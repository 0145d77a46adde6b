"""The model as MLflow serves it: ``mlflow.pyfunc.load_model(uri).predict(frame)`` gives named columns.

MLflow's scikit-learn flavour can serve one method of the pipeline, which returns an unnamed array;
what a batch job needs is the score, the label at the model's threshold and the category, by name.
So the model is logged as a custom pyfunc flavour whose loader is this module (``_load_pyfunc``):
the pipeline is stored with skops, and loading refuses any type outside the project and the
scientific stack, so no pickle runs code from a model folder.

``text`` is the one column a document needs; ``title``, ``description`` and ``image_text`` (the text
in its images) are read when present.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from classifier.modeling.model import predict

PIPELINE_FILE = "pipeline.skops"
OUTPUT_COLUMNS = ("score", "label", "category", "category_probability")
OPTIONAL_INPUTS = ("title", "description", "image_text")
TRUSTED_PREFIXES = ("classifier.", "sklearn.", "numpy.", "scipy.")


def prediction_frame(pipeline: Any, documents: pd.DataFrame) -> pd.DataFrame:
    """Score, label, category ("none" under the threshold) and its probability, one row per document."""
    if "text" not in documents.columns:
        raise ValueError(
            "documents need a 'text' column ('title', 'description' and 'image_text' are optional)"
        )
    result = predict(pipeline, documents)
    return pd.DataFrame(
        {
            "score": result.score.astype(float),
            "label": result.label.astype("int64"),
            "category": result.category.astype(str),
            "category_probability": result.category_probability.astype(float),
        },
        index=documents.index,
    )


def signature() -> Any:
    """Inputs: ``text`` required, ``title`` / ``description`` / ``image_text`` optional strings; outputs:
    the four columns."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    inputs = [ColSpec("string", "text")] + [
        ColSpec("string", name, required=False) for name in OPTIONAL_INPUTS
    ]
    types = {"score": "double", "label": "long", "category": "string", "category_probability": "double"}
    outputs = [ColSpec(types[name], name) for name in OUTPUT_COLUMNS]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))


def trusted_types(untrusted: list[str]) -> list[str]:
    """The types skops must be told to trust; anything outside ``TRUSTED_PREFIXES`` is refused."""
    unexpected = [name for name in untrusted if not name.startswith(TRUSTED_PREFIXES)]
    if unexpected:
        raise ValueError(f"the pipeline contains types skops cannot load safely: {unexpected}")
    return untrusted


def save_pipeline(pipeline: Any, folder: Path) -> Path:
    """Write the pipeline with skops into ``folder`` (the pyfunc model's data path)."""
    import skops.io  # ~2 s to import: only logging and loading need it

    data = skops.io.dumps(pipeline)  # once: checked, then written
    trusted_types(skops.io.get_untrusted_types(data=data))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PIPELINE_FILE
    path.write_bytes(data)
    return path


def load_pipeline(folder: Path) -> Any:
    import skops.io

    path = Path(folder) / PIPELINE_FILE if Path(folder).is_dir() else Path(folder)
    data = path.read_bytes()  # once: its types checked, then loaded
    return skops.io.loads(data, trusted=trusted_types(skops.io.get_untrusted_types(data=data)))


class ScoringPyfunc:
    """What ``mlflow.pyfunc.load_model`` returns for this project's models."""

    def __init__(self, pipeline: Any):
        self.pipeline = pipeline

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
        for name in OPTIONAL_INPUTS:  # MLflow passes missing optional columns as absent, or as None
            if name in frame.columns and frame[name].isna().all():
                frame = frame.drop(columns=name)
        return prediction_frame(self.pipeline, frame)

    def get_raw_model(self) -> Any:
        """The scikit-learn pipeline itself (for ``classifier`` commands and notebooks)."""
        return self.pipeline


def _load_pyfunc(data_path: str) -> ScoringPyfunc:
    """MLflow's entry point for the pyfunc flavour (``loader_module``)."""
    return ScoringPyfunc(load_pipeline(Path(data_path)))
