"""MLflow runs, the model registry and its aliases (the logged model itself: ``mlflow_model``).

Call :func:`configure` once before anything else. The embedded default is ``mlflow.db`` with
artifacts in ``mlruns/`` at the project root; a deployment sets ``MLFLOW_TRACKING_URI`` instead.
The registered model (``train.registered_model``, ``drug-ad-classifier``) carries the aliases ``champion``
and ``challenger``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import mlflow.artifacts
import mlflow.pyfunc
import mlflow.sklearn
import pandas as pd
import sklearn
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode
from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH, MAX_PARAMS_TAGS_PER_BATCH

from classifier.common.config import PROJECT_ROOT
from classifier.modeling import mlflow_model

MODEL_NAME = "drug-ad-classifier"
CHAMPION = "champion"
CHALLENGER = "challenger"
EXAMPLE_ROWS = 5  # the input example is stored with every model version; a few rows document it
_SQLITE_PREFIX = "sqlite:///"
_NOT_FOUND = ErrorCode.Name(RESOURCE_DOES_NOT_EXIST)
# MLflow's own rule for param and metric names (slashes, word characters, . - : and spaces).
_INVALID_NAME_CHARS = re.compile(r"[^/\w.\- :]")
_ALLOW_DESERIALIZATION = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"


def default_tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the embedded SQLite store at the project root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"{_SQLITE_PREFIX}{PROJECT_ROOT / 'mlflow.db'}"


def configure(tracking_uri: str | None = None) -> str:
    """Point MLflow tracking and the registry at one store; returns the URI in use."""
    uri = tracking_uri or default_tracking_uri()
    # Both URIs, so that the registry never silently falls back to another store. MLflow also
    # exports them as environment variables, so worker processes started later inherit them.
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # progress bars of artifact transfers flood notebook outputs and CI logs; an operator's setting wins
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return uri


def _artifact_location(tracking_uri: str) -> str | None:
    """Artifacts of a SQLite store live in ``mlruns/`` beside the database file.

    MLflow would otherwise put them under the current directory, which differs per command.
    Servers and other stores keep their own default (``None``).
    """
    if not tracking_uri.startswith(_SQLITE_PREFIX):
        return None
    database = Path(tracking_uri.removeprefix(_SQLITE_PREFIX)).resolve()
    return (database.parent / "mlruns").as_uri()


def _ensure_experiment(name: str) -> str:
    client = MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = _artifact_location(mlflow.get_tracking_uri())
    return client.create_experiment(name, artifact_location=location)


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):  # no git, not a repository, or stuck
        return None
    return done.stdout


def _git_commit() -> str:
    return (_git("rev-parse", "HEAD") or "").strip() or "unknown"


def _git_dirty() -> str:
    """ "true" when the code differs from its commit (edited or new files): the run is not reproducible
    from ``git_commit`` alone."""
    status = _git("status", "--porcelain")
    return "unknown" if status is None else str(bool(status.strip())).lower()


def _environment_tags() -> dict[str, str]:
    return {
        "git_commit": _git_commit(),
        "git_dirty": _git_dirty(),
        "sklearn_version": sklearn.__version__,
        "pandas_version": pd.__version__,
        "mlflow_version": mlflow.__version__,
        "python_version": platform.python_version(),
    }


@contextmanager
def training_run(
    experiment: str = "training", run_name: str | None = None, tags: dict[str, str] | None = None
) -> Iterator[str]:
    """An MLflow run tagged with the code and library versions; yields its run id.

    A failure inside the block marks the run FAILED (MLflow's context manager does that).
    """
    experiment_id = _ensure_experiment(experiment)
    all_tags = {**_environment_tags(), **(tags or {})}
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=all_tags) as run:
        yield run.info.run_id


@contextmanager
def nested_run(run_name: str | None = None, tags: dict[str, str] | None = None) -> Iterator[str]:
    """A child run of the active run (a search's trial); yields its run id."""
    parent = mlflow.active_run()
    if parent is None:
        raise RuntimeError("nested_run needs an active run: call it inside training_run()")
    experiment_id = parent.info.experiment_id  # MLflow would put it in the default experiment otherwise
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags, nested=True) as run:
        yield run.info.run_id


def _sanitise_name(name: str) -> str:
    return _INVALID_NAME_CHARS.sub("_", name)


def flatten_params(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested dicts become ``section.key``; values become strings cut to MLflow's length limit."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten_params(value, prefix=f"{name}."))
        else:
            flat[_sanitise_name(name)] = str(value)[:MAX_PARAM_VAL_LENGTH]
    return flat


def log_params(params: dict[str, Any]) -> None:
    """Log (nested) settings as params, in batches that fit one MLflow request."""
    items = list(flatten_params(params).items())
    for start in range(0, len(items), MAX_PARAMS_TAGS_PER_BATCH):
        mlflow.log_params(dict(items[start : start + MAX_PARAMS_TAGS_PER_BATCH]))


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    """Log finite metrics; a NaN or infinite value is recorded as a tag ``metric_skipped.<name>``.

    MLflow stores NaN but charts and comparisons choke on it, and an undefined metric (say, recall
    of a slice without positives) is a fact worth seeing rather than a number.
    """
    finite: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for name, value in metrics.items():
        clean = _sanitise_name(name)
        number = float(value)
        if math.isfinite(number):
            finite[clean] = number
        else:
            skipped[f"metric_skipped.{clean}"] = str(number)
    if finite:
        mlflow.log_metrics(finite, step=step)
    if skipped:
        mlflow.set_tags(skipped)


def log_artifact(path: Path, artifact_path: str | None = None) -> None:
    mlflow.log_artifact(str(path), artifact_path=artifact_path)


def log_artifacts(directory: Path, artifact_path: str | None = None) -> None:
    mlflow.log_artifacts(str(directory), artifact_path=artifact_path)


def log_dict(data: dict, artifact_file: str) -> None:
    """Log a dict as JSON or YAML (by the file's extension); paths and dates become strings."""
    mlflow.log_dict(json.loads(json.dumps(data, default=str)), artifact_file)


def _pip_requirements() -> list[str]:
    # Declared rather than inferred: inference re-imports the model in a subprocess (~10 s per
    # log) and cannot name this project's own package anyway.
    pins = [f"{package}=={metadata.version(package)}" for package in ("pandas", "numpy", "scipy")]
    return [*mlflow.sklearn.get_default_pip_requirements(include_skops=True), *pins]


def log_model(pipeline: Any, input_example: pd.DataFrame, *, registered_name: str = MODEL_NAME) -> str:
    """Log the fitted pipeline to the active run, register it, and return the new version.

    Logged as this project's pyfunc flavour (``mlflow_model``): ``predict`` returns score, label and
    category as named columns. Only the first few rows of ``input_example`` are stored.
    """
    if mlflow.active_run() is None:
        raise RuntimeError("log_model needs an active run: call it inside training_run()")
    example = input_example.head(EXAMPLE_ROWS)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "pipeline"
        mlflow_model.save_pipeline(pipeline, data)
        info = mlflow.pyfunc.log_model(
            name="model",
            loader_module="classifier.modeling.mlflow_model",
            data_path=str(data),
            signature=mlflow_model.signature(),
            input_example=example,
            pip_requirements=_pip_requirements(),
            registered_model_name=registered_name,
        )
    return str(info.registered_model_version)


def set_alias(alias: str, version: str, name: str = MODEL_NAME) -> None:
    MlflowClient().set_registered_model_alias(name, alias, str(version))


def alias_version(alias: str, name: str = MODEL_NAME) -> str | None:
    """The version an alias points to, or None when the alias or the model does not exist."""
    # The model's alias map, because a missing alias and a malformed one share one error code.
    try:
        aliases = MlflowClient().get_registered_model(name).aliases
    except MlflowException as error:
        if error.error_code == _NOT_FOUND:
            return None
        raise
    version = aliases.get(alias)
    return str(version) if version is not None else None


def version_identity(name: str, version: str) -> dict[str, str]:
    """What makes a registered version unique in time: a model deleted and registered again reuses
    version numbers, never a run and creation time."""
    details = MlflowClient().get_model_version(name, version)
    return {
        "tracking_uri": mlflow.get_tracking_uri(),
        "name": name,
        "version": str(version),
        "run_id": details.run_id or "",
        "created": str(details.creation_timestamp),
    }


def model_uri(alias: str = CHAMPION, name: str = MODEL_NAME) -> str:
    return f"models:/{name}@{alias}"


def resolve_model_uri(uri: str) -> tuple[str, str]:
    """(registered name, version) behind ``models:/name@alias`` or ``models:/name/3``; ("", uri) otherwise.

    The version is resolved once, when a scoring run starts, so that every row of the run names the
    model that really scored it even if the alias moves meanwhile.
    """
    if not uri.startswith("models:/"):
        return "", uri
    reference = uri.removeprefix("models:/")
    if "@" in reference:
        name, alias = reference.split("@", 1)
        version = alias_version(alias, name)
        if version is None:
            raise ValueError(
                f"no model version has the alias {alias!r} in {name!r}: train or promote one first"
            )
        return name, version
    name, _, version = reference.partition("/")
    return name, version


@contextmanager
def _deserialization_allowed() -> Iterator[None]:
    """Let MLflow unpickle (or un-skops) a model for the duration of one load.

    MLflow refuses unless ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` is true, because loading runs code
    from the artifact. The models loaded here are the ones this project logged to its own store;
    an explicit setting of the variable by the operator is respected either way.
    """
    if _ALLOW_DESERIALIZATION in os.environ:
        yield
        return
    os.environ[_ALLOW_DESERIALIZATION] = "true"
    try:
        yield
    finally:
        os.environ.pop(_ALLOW_DESERIALIZATION, None)


def load_model(uri: str | Path) -> Any:
    """The scikit-learn pipeline behind a ``models:/``, ``runs:/`` URI or a local model folder.

    Versions logged before the pyfunc flavour (scikit-learn flavour, skops) load as well."""
    with _deserialization_allowed():
        return mlflow.pyfunc.load_model(str(uri)).get_raw_model()


def record_promotion(version: str, *, by: str, reason: str, name: str = MODEL_NAME) -> None:
    """Make ``version`` the champion and record who promoted it, when, why, and what it replaced."""
    client = MlflowClient()
    version = str(version)
    previous = alias_version(CHAMPION, name)
    tags = {
        "promoted_by": by,
        "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "promotion_reason": reason,
    }
    # The audit trail first and the alias last: a failure part-way must not leave an unexplained
    # champion behind.
    if previous != version:  # re-promoting the champion keeps the rollback target it had
        tags["replaced_champion"] = previous or "none"
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    if previous != version:
        client.set_registered_model_tag(name, "previous_champion", previous or "none")
        # the whole chain, newest first: which versions served, in order (rollbacks included)
        history = client.get_registered_model(name).tags.get("champion_history", "")
        client.set_registered_model_tag(
            name, "champion_history", ",".join(filter(None, [version, history]))[:5000]
        )
    client.set_registered_model_alias(name, CHAMPION, version)


def version_artifact_dict(version: str, artifact: str, name: str = MODEL_NAME) -> dict[str, Any]:
    """A JSON artifact the run of a model version logged; empty when it has none."""
    run_id = MlflowClient().get_model_version(name, str(version)).run_id
    if not run_id:
        return {}
    try:
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{artifact}")
    except (MlflowException, OSError, ValueError):
        return {}


def version_manifest(version: str, name: str = MODEL_NAME) -> dict[str, Any]:
    """The ``data_manifest.json`` of a model version's run: data hashes, counts, families."""
    return version_artifact_dict(version, "data_manifest.json", name)


def record_gate(
    version: str, *, promoted: bool, reason: str, tags: dict[str, str], name: str = MODEL_NAME
) -> None:
    """Keep the gate's decision on the version: tags (``gate.*``) and its description."""
    client = MlflowClient()
    for key, value in {"gate.decision": "promoted" if promoted else "kept champion", **tags}.items():
        client.set_model_version_tag(name, str(version), key, value[:5000])
    client.update_model_version(name, str(version), description=f"Champion gate: {reason}"[:5000])


def set_run_tags(tags: dict[str, str]) -> None:
    """Tags on the active run (values cut to MLflow's limit)."""
    mlflow.set_tags({key: value[:5000] for key, value in tags.items()})


def version_metrics(version: str, name: str = MODEL_NAME) -> dict[str, float]:
    """The final metrics of the run that produced a model version; empty if it has no run."""
    client = MlflowClient()
    run_id = client.get_model_version(name, str(version)).run_id
    if not run_id:
        return {}
    return dict(client.get_run(run_id).data.metrics)
