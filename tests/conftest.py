"""Shared fixtures: small hand-made inputs and settings that keep tests fast, the small model the
behavioural tests and scoring tests use, and the one MLflow store fixture (``mlflow_store``)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from classifier.common.config import Settings, load_settings
from classifier.common.faults import SLOW_ENV
from classifier.corpus.build import generate_corpus
from classifier.modeling import tracking
from classifier.modeling.datasets import demo_dataset
from classifier.modeling.loading import MODEL_CACHE_ENV
from classifier.modeling.model_trust import TRUSTED_DIRS_ENV
from classifier.modeling.train import fit_model
from slow_pages import SLOW_PAGES

RESOURCES = Path(__file__).parent / "resources"
# set here, before any test starts a worker pool, so that every process inherits it (slow_pages.py)
os.environ[SLOW_ENV] = SLOW_PAGES


@pytest.fixture()
def resources() -> Path:
    return RESOURCES


@pytest.fixture()
def settings() -> Settings:
    """The project's settings, single-process so that tests stay quick and deterministic."""
    base = load_settings()
    return replace(base, extract=replace(base.extract, n_jobs=1))


@pytest.fixture(scope="session")
def behavioural_settings() -> Settings:
    """Project settings; no real negatives from ../shared, so the tests depend on the package only."""
    base = load_settings()
    return replace(
        base,
        extract=replace(base.extract, n_jobs=2),
        train=replace(base.train, real_negatives="never"),
    )


@pytest.fixture(scope="session", autouse=True)
def model_cache_outside_the_project(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Registered models that commands, notebooks and their subprocesses load are cached in a temporary
    folder: tests must not fill (and prune) the project's data/interim/model_cache."""
    os.environ[MODEL_CACHE_ENV] = str(tmp_path_factory.mktemp("model-cache-env"))


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory, behavioural_settings: Settings) -> Pipeline:
    """A small demo corpus fitted as the shipped model is (``train.shipped_model``): every family and
    every disguise, so the behaviour tested does not hang on which families a hold-out draws."""
    settings = behavioural_settings
    corpus = tmp_path_factory.mktemp("demo-corpus")
    generate_corpus(corpus, settings.corpus, n=800, seed=3)
    train = demo_dataset(corpus, settings, use_cache=False)
    # one BLAS thread: with two cores, threads fighting over tiny lbfgs steps make fitting ~4x slower
    with threadpool_limits(limits=1):
        return fit_model(train, settings)


@pytest.fixture(scope="session")
def exported_model(tmp_path_factory: pytest.TempPathFactory, trained_model: Pipeline) -> Path:
    """The session's model as an exported folder, the way `classifier score --model models/...` reads it."""
    from classifier.modeling.model import save_model

    folder = tmp_path_factory.mktemp("exported") / "drug-ad-classifier"
    save_model(trained_model, folder)
    # a folder the operator trusts, as models/ is (model_trust.py); CLI subprocesses inherit it
    trusted = [d for d in os.environ.get(TRUSTED_DIRS_ENV, "").split(os.pathsep) if d]
    os.environ[TRUSTED_DIRS_ENV] = os.pathsep.join([*trusted, str(folder.parent)])
    card = {"name": "drug-ad-classifier", "version": "test-1"}
    (folder / "model_card.json").write_text(json.dumps(card), encoding="utf-8")
    return folder


@pytest.fixture()
def mlflow_server(tmp_path_factory: pytest.TempPathFactory):
    """A real ``mlflow server`` process with its own store in a temporary directory; yields its URI."""
    from mlflow_server import running_mlflow_server  # tests/ is on sys.path, as for this conftest

    with running_mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as uri:
        yield uri


@pytest.fixture()
def mlflow_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Put MLflow's global URIs back after the test, and end a run a failed test left open."""
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    saved = tracking_utils._tracking_uri, registry_utils._registry_uri
    yield
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(saved[0])
    mlflow.set_registry_uri(saved[1])


@pytest.fixture(scope="session")
def empty_mlflow_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite database with its schema in place, made once: migrations take seconds."""
    database = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    uri = f"sqlite:///{database}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)  # a client, not MLflow's globals
    client.search_experiments()
    client.search_registered_models()
    return database


@pytest.fixture()
def mlflow_store(tmp_path: Path, empty_mlflow_database: Path, mlflow_state: None) -> Path:
    """A fresh MLflow SQLite store in ``tmp_path``, set as tracking and registry store; its artifacts go
    to ``tmp_path / 'mlruns'``; MLflow's global URIs are put back afterwards."""
    shutil.copyfile(empty_mlflow_database, tmp_path / "mlflow.db")
    tracking.configure(f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path
