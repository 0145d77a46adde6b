"""The notebooks run top to bottom on a small corpus, and each one's closing check passes.

Each notebook's first code cell is tagged ``parameters``: its defaults are for real use. Like papermill,
this test adds a cell after it with small values (corpus size, working folder, a throwaway MLflow store),
then executes the notebook in a fresh kernel of this Python. Notebooks are stored without outputs.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))
pytestmark = pytest.mark.slow


def test_there_are_notebooks_and_they_are_stored_without_outputs() -> None:
    assert NOTEBOOKS
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} has outputs"
        tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: one cell tagged 'parameters'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_its_check_passes(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = nbformat.read(path, as_version=4)
    index = next(i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", []))
    overrides = "\n".join(
        [
            "# injected by tests/test_notebooks.py",
            "N_PAGES = 400",
            f"WORK_DIR = {str(tmp_path / 'work')!r}",
            f"MLFLOW_TRACKING_URI = {'sqlite:///' + str(tmp_path / 'mlflow.db')!r}",
            "REAL_NEGATIVES = 'never'",
            "FAST = True",
        ]
    )
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(overrides))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend: figures become outputs
    client = NotebookClient(
        notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    store = "sqlite:///" + str(tmp_path / "mlflow.db")
    if (tmp_path / "mlflow.db").exists():  # notebooks that log: their own registered model only
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=store, registry_uri=store)  # not a registry earlier tests set
        names = {m.name for m in client.search_registered_models()}
        assert "drug-ad-classifier" not in names, names
        if path.stem in ("02_train_compare", "04_retrain_from_decisions"):
            assert names == {"notebook-drug-ad-classifier"}, names
    figures = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    if path.stem in ("02_train_compare", "03_error_analysis"):  # their plots render as images
        assert figures, f"{path.name} rendered no figure"
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    )
    assert "it/s]" not in printed and "Downloading artifacts" not in printed, "progress bars in the outputs"
