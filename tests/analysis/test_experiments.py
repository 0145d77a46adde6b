"""classifier.analysis.experiments without training: variants, choosing, reading runs back, the closing check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from classifier.analysis import experiments
from classifier.common.config import load_settings
from classifier.modeling import tracking


def test_runs_table_and_pr_curves_read_back_logged_runs(mlflow_store: Path, tmp_path: Path) -> None:
    settings = load_settings()
    folder = tmp_path / "evaluation"
    folder.mkdir()
    pd.DataFrame({"label": [0, 0, 1, 1, 0, 1], "score": [0.1, 0.4, 0.35, 0.8, 0.2, 0.9]}).to_csv(
        folder / "predictions.csv", index=False
    )
    run_ids = {}
    for name, ap in (("x", 0.7), ("y", 0.9)):
        with tracking.training_run(
            experiments.COMPARISON_EXPERIMENT, tags={experiments.VARIANT_TAG: name}
        ) as run:
            tracking.log_params({"model": {"estimator": settings.model.estimator, "C": ap}})
            tracking.log_metrics({"average_precision": ap})
            tracking.log_artifacts(folder, "evaluation")
        run_ids[name] = run
    table = experiments.runs_table(list(run_ids.values()))
    assert table["variant"].tolist() == ["y", "x"] and table["version"].isna().all()
    assert np.isnan(table.loc[0, "roc_auc"])
    curves = experiments.pr_curves(run_ids)
    assert set(curves) == {"x", "y"} and curves["x"]["precision"].between(0, 1).all()
    figure = experiments.plot_pr_curves(curves, {"x": "AP 0.7"})
    assert figure.axes[0].get_legend().get_texts()[0].get_text() == "x (AP 0.7)"
