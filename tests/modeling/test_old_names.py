"""A model logged before the stage packages still loads: its file names the old flat modules."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from sklearn.pipeline import Pipeline

from classifier.modeling.mlflow_model import PIPELINE_FILE, save_pipeline
from classifier.modeling.old_names import OLD_NAMES


def _as_logged_before_the_move(path: Path) -> None:
    """Rewrite the skops file's schema as older code wrote it: classes under the old module names."""
    with zipfile.ZipFile(path) as source:
        members = {name: source.read(name) for name in source.namelist()}
    schema = members["schema.json"].decode()
    for old, new in OLD_NAMES.items():
        schema = schema.replace(f'"{new}"', f'"{old}"')
    assert '"classifier.features"' in schema and '"classifier.modeling.' not in schema
    members["schema.json"] = schema.encode()
    with zipfile.ZipFile(path, "w") as target:
        for name, data in members.items():
            target.writestr(name, data)


def test_a_pipeline_stored_under_the_old_module_names_loads_and_scores_alike(
    tmp_path: Path, trained_model: Pipeline
) -> None:
    path = save_pipeline(trained_model, tmp_path)
    _as_logged_before_the_move(path)
    texts = ["Продаю мефедрон, закладки по городу, пишите в телеграм", "Продаю велосипед, самовывоз"]
    # a fresh interpreter, as MLflow's loader would be: nothing imported the old names before
    program = (
        "import importlib, sys, json\n"
        "loader = importlib.import_module('classifier.mlflow_model')\n"  # MLflow's loader_module of old runs
        f"model = loader._load_pyfunc({str(tmp_path)!r}).get_raw_model()\n"
        f"print(json.dumps(model.predict_proba({texts!r})[:, 1].tolist()))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    scores = [round(s, 9) for s in json.loads(done.stdout)]
    assert scores == [round(s, 9) for s in trained_model.predict_proba(texts)[:, 1].tolist()]
    assert (tmp_path / PIPELINE_FILE).exists()


def test_an_old_name_is_the_new_module_itself() -> None:
    import importlib

    for old, new in OLD_NAMES.items():
        assert importlib.import_module(old) is importlib.import_module(new)
