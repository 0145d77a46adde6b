"""Drift: does this batch look like what the model was trained on?

The population stability index compares the run's score histogram with the training score
distribution: the final model's scores of its training pages (``reference_scores_``, stored on the
model's head by ``train.fit_model``; older models fall back to their out-of-fold scores). PSI < 0.1 is usually read as stable,
0.1-0.25 as a moderate shift and > 0.25 as a shift worth a look (the warning level is in params).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

_EPSILON = 1e-4  # empty bins would make the index infinite
EXPERIMENT = "scoring"


def histogram(scores: np.ndarray, bins: int) -> np.ndarray:
    """Shares of scores in ``bins`` equal-width bins over [0, 1]."""
    counts, _ = np.histogram(np.clip(scores, 0.0, 1.0), bins=bins, range=(0.0, 1.0))
    total = counts.sum()
    return counts / total if total else counts.astype(float)


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index between two histograms of shares."""
    ref = np.clip(reference, _EPSILON, None)
    cur = np.clip(current, _EPSILON, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def reference_scores(pipeline: object) -> np.ndarray | None:
    """The training score distribution stored on the model's head, if it has one."""
    head = pipeline.named_steps.get("head") if hasattr(pipeline, "named_steps") else None
    for name in ("reference_scores_", "oof_scores_"):
        values = getattr(head, name, None)
        if values is not None and len(values):
            return np.asarray(values, dtype=float)
    return None


def drift_report(
    scores: np.ndarray, threshold: float, reference: np.ndarray | None, bins: int, warn_at: float
) -> dict:
    """Histogram, share above threshold and PSI of one run (PSI None when the model has no reference)."""
    current = histogram(scores, bins)
    report = {
        "scored": len(scores),
        "share_above_threshold": float(np.mean(scores >= threshold)) if len(scores) else 0.0,
        "mean_score": float(np.mean(scores)) if len(scores) else 0.0,
        "histogram": [round(float(x), 6) for x in current],
        "bin_edges": [round(float(x), 4) for x in np.linspace(0, 1, bins + 1)],
        "psi": None,
        "psi_warning": False,
    }
    if reference is not None and len(scores):
        expected = histogram(reference, bins)
        value = psi(expected, current)
        report |= {
            "reference_histogram": [round(float(x), 6) for x in expected],
            "reference_share_above_threshold": float(np.mean(reference >= threshold)),
            "psi": round(value, 6),
            "psi_warning": value > warn_at,
        }
    return report


def log_scoring_run(report: dict, summary: Any, run_id: str, plot: bool = False) -> str:
    """One run in the MLflow experiment ``scoring``: counts, the score histogram, PSI; returns its id.

    The histogram is logged as numbers (metrics ``hist_00``…, ``drift.json``); ``plot`` adds a PNG."""
    import tempfile
    from dataclasses import asdict

    from classifier.modeling import tracking

    tracking.configure()
    data = asdict(summary)
    metrics = {
        "records": data["records"],
        "positives": data["positives"],
        "clusters": data["clusters"],
        "share_above_threshold": report["share_above_threshold"],
        "mean_score": report["mean_score"],
        **{f"status_{k}": v for k, v in data["status"].items()},
        **{f"lang_{k}": v for k, v in data["language"].items()},
        **{f"hist_{i:02d}": v for i, v in enumerate(report["histogram"])},
    }
    if report["psi"] is not None:
        metrics["psi"] = report["psi"]
    tags = {"scoring_run_id": run_id, "psi_warning": str(report["psi_warning"]).lower()}
    with tracking.training_run(EXPERIMENT, run_name=f"score-{run_id[:8]}", tags=tags) as mlflow_run:
        tracking.log_params({"model": data["model"], "output": data["output"], "run_id": run_id})
        tracking.log_metrics(metrics)
        tracking.log_dict(report, "drift.json")
        tracking.log_dict(data, "summary.json")
        if plot:
            with tempfile.TemporaryDirectory() as folder:
                tracking.log_artifact(plot_histogram(report, Path(folder) / "score_histogram.png"))
    return mlflow_run


def plot_histogram(report: dict, path: Path) -> Path:
    """This run's score shares beside the training distribution's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges = np.asarray(report["bin_edges"])
    centres, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.bar(centres - width / 4, report["histogram"], width / 2, label="this run")
    if "reference_histogram" in report:
        axes.bar(centres + width / 4, report["reference_histogram"], width / 2, label="training pages")
    psi = report["psi"]
    axes.set(
        xlabel="score",
        ylabel="share of pages",
        title=f"Scores; PSI = {psi:.3f}" if psi is not None else "Scores",
    )
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
