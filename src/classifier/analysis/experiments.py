"""Compare model configurations: train each through :func:`classifier.modeling.train.train` (one MLflow run and
one registered version each, behind the champion gate), then read the runs back from MLflow for a
table and precision-recall curves. Used by ``notebooks/02_train_compare.ipynb``.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from sklearn.metrics import precision_recall_curve

from classifier.common.config import Settings, load_settings
from classifier.modeling import tracking
from classifier.modeling.champion import Say
from classifier.modeling.report import assess, write_report
from classifier.modeling.train import TrainResult, fit_model, train
from classifier.modeling.training_data import load_training_data

COMPARISON_EXPERIMENT = "comparison"
VARIANT_TAG = "variant"
PREDICTIONS_ARTIFACT = "evaluation/predictions.csv"
TABLE_METRICS = (
    "average_precision",
    "roc_auc",
    "precision",
    "recall",
    "threshold",
    "hard_negative_fpr",
    "robustness_recall",
    "train_seconds",
)


@dataclass
class Candidate:
    """One configuration fitted and assessed in a ``comparison`` run (metrics and evaluation files only)."""

    name: str
    settings: Settings
    run_id: str
    metrics: dict[str, float]


def comparison_settings(real_negatives: str = "auto", fast: bool = False) -> Settings:
    """The project's settings with ``train.real_negatives`` set; ``fast`` uses 3 cross-validation folds."""
    base = load_settings()
    settings = replace(base, train=replace(base.train, real_negatives=real_negatives))
    if fast:
        settings = replace(settings, model=replace(settings.model, folds=3))
    return settings


def model_variants(settings: Settings, fast: bool = False) -> dict[str, Settings]:
    """Named configurations: the default head, a linear SVM, and (unless ``fast``) the default with C / 8."""
    model = settings.model
    variants = {
        f"{model.estimator} C={model.C:g}": settings,
        f"linear_svm C={model.C:g}": replace(settings, model=replace(model, estimator="linear_svm")),
    }
    if not fast:
        weaker = model.C / 8
        variants[f"{model.estimator} C={weaker:g}"] = replace(settings, model=replace(model, C=weaker))
    return variants


def compare_variants(variants: dict[str, Settings], *, demo_dir: Path, say: Say = print) -> list[Candidate]:
    """Fit and assess every configuration on one family split, each logged as an MLflow run of the
    experiment ``comparison`` (params, metrics, ``evaluation/`` files; no model, nothing registered).

    The data are loaded once with the first configuration's settings; the variants differ in the model only.
    """
    first = next(iter(variants.values()))
    data = load_training_data(first, None, say, demo_dir)
    candidates = []
    for name, settings in variants.items():
        started = time.perf_counter()
        pipeline = fit_model(data.train, settings)
        assessment = assess(pipeline, data.holdout, settings, data.real_test)
        metrics = {**assessment.metrics, "train_seconds": time.perf_counter() - started}
        with tempfile.TemporaryDirectory(prefix="classifier-compare-") as folder:
            write_report(pipeline, assessment, Path(folder), settings)
            with tracking.training_run(COMPARISON_EXPERIMENT, run_name=name, tags={VARIANT_TAG: name}) as run:
                tracking.log_params(asdict(settings))
                tracking.log_metrics(metrics)
                tracking.log_artifacts(Path(folder), "evaluation")
        say(f"{name}: average precision {metrics['average_precision']:.4f} ({metrics['train_seconds']:.0f}s)")
        candidates.append(Candidate(name, settings, run, metrics))
    return candidates


def best_candidate(candidates: list[Candidate], metric: str = "average_precision") -> Candidate:
    """The candidate with the highest ``metric`` (the gate's metric by default); the first on a tie."""
    return max(candidates, key=lambda c: np.nan_to_num(c.metrics.get(metric, np.nan), nan=-np.inf))


def register_best(
    candidate: Candidate, *, demo_dir: Path, export_dir: Path, say: Say = print
) -> tuple[TrainResult, str]:
    """Train the chosen configuration with :func:`train` (logged, registered as challenger, promoted to
    champion if it passes the gate, exported then); returns the result and its run id, tagged with the variant."""
    result = train(candidate.settings, demo_dir=demo_dir, export_dir=export_dir, say=say)
    if result.version is None:
        raise RuntimeError(f"{candidate.name}: the model was not registered")
    run_id = run_id_of(result.version, candidate.settings.train.registered_model)
    MlflowClient().set_tag(run_id, VARIANT_TAG, candidate.name)
    return result, run_id


def run_id_of(version: str, name: str = tracking.MODEL_NAME) -> str:
    """The MLflow run that produced a registered version of the model ``name``."""
    return MlflowClient().get_model_version(name, str(version)).run_id


def runs_table(
    run_ids: list[str], settings: Settings | None = None, metrics: tuple[str, ...] = TABLE_METRICS
) -> pd.DataFrame:
    """The runs' experiment, variant, registered version, model params and metrics as logged in MLflow,
    best average precision first (``settings``: where training logs and registers; the project's by default)."""
    client = MlflowClient()
    train_settings = (settings or load_settings()).train
    experiments = {
        e.experiment_id: e.name
        for e in map(client.get_experiment_by_name, (COMPARISON_EXPERIMENT, train_settings.experiment))
        if e is not None
    }
    if not experiments or not run_ids:
        return pd.DataFrame()
    quoted = ", ".join(f"'{r}'" for r in run_ids)
    found = client.search_runs(list(experiments), filter_string=f"attributes.run_id IN ({quoted})")
    registered = train_settings.registered_model
    versions = {v.run_id: v.version for v in client.search_model_versions(f"name = '{registered}'")}
    rows = []
    for run in found:
        params, values = run.data.params, run.data.metrics
        rows.append(
            {
                "experiment": experiments[run.info.experiment_id],
                "variant": run.data.tags.get(VARIANT_TAG, ""),
                "version": versions.get(run.info.run_id),
                "estimator": params.get("model.estimator"),
                "C": params.get("model.C"),
                "folds": params.get("model.folds"),
                **{name: values.get(name, np.nan) for name in metrics},
                "run_id": run.info.run_id,
            }
        )
    table = pd.DataFrame(rows)
    return table.sort_values(["average_precision", "experiment"], ascending=False, ignore_index=True)


def logged_predictions(run_id: str) -> pd.DataFrame:
    """The held-out predictions a training run logged (``evaluation/predictions.csv``)."""
    with tempfile.TemporaryDirectory() as folder:
        path = MlflowClient().download_artifacts(run_id, PREDICTIONS_ARTIFACT, folder)
        return pd.read_csv(path, dtype={"id": str}, keep_default_na=False)


def pr_curves(run_ids: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Precision-recall curves (``precision``, ``recall`` columns) per name, from the logged predictions."""
    curves = {}
    for name, run_id in run_ids.items():
        predictions = logged_predictions(run_id)
        precision, recall, _ = precision_recall_curve(predictions["label"], predictions["score"])
        curves[name] = pd.DataFrame({"precision": precision, "recall": recall})
    return curves


def plot_pr_curves(curves: dict[str, pd.DataFrame], labels: dict[str, str] | None = None):
    """One figure with every curve; ``labels`` adds text (say the AP) to a curve's legend entry."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.5, 5), layout="tight")
    axes = figure.add_subplot()
    for name, curve in curves.items():
        label = f"{name} ({labels[name]})" if labels and name in labels else name
        axes.step(curve["recall"], curve["precision"], where="post", label=label)
    axes.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02))
    axes.set_title("held-out families: precision-recall (read back from MLflow)", fontsize=10)
    axes.legend(loc="lower left", fontsize=9)
    return figure


def comparison_problems(
    candidates: list[Candidate], registered: TrainResult, table: pd.DataFrame, champion: str | None
) -> list[str]:
    """What is absurd about a comparison, empty when all is well: runs missing from MLflow, PR-AUC outside
    (0.5, 1], the registered model not the best candidate's configuration or scoring differently from it,
    or a champion alias that is missing or not where the gate left it."""
    problems = []
    logged = set(table["run_id"]) if len(table) else set()
    problems += [
        f"{c.name}: run {c.run_id} not found in MLflow" for c in candidates if c.run_id not in logged
    ]
    for row in table.itertuples():
        if not 0.5 < row.average_precision <= 1.0:
            problems.append(f"{row.experiment}/{row.variant}: average precision {row.average_precision:.3f}")
    best = best_candidate(candidates)
    theirs, ours = best.metrics["average_precision"], registered.metrics["average_precision"]
    if abs(theirs - ours) > 0.01:
        problems.append(f"registered model: average precision {ours:.4f}, its comparison run {theirs:.4f}")
    if champion is None:
        problems.append("no model version has the champion alias")
    elif registered.promoted and champion != registered.version:
        problems.append(f"the gate promoted version {registered.version} but the champion is {champion}")
    elif not registered.promoted and champion == registered.version:
        problems.append(f"version {champion} is champion although the gate refused it")
    return problems
