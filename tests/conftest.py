"""Shared fixtures: small hand-made inputs and settings that keep tests fast."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from classifier.config import Settings, load_settings
from classifier.corpus.generator import generate_corpus
from classifier.datasets import demo_dataset
from classifier.faults import SLOW_ENV
from classifier.model_trust import TRUSTED_DIRS_ENV
from classifier.train import fit_model

RESOURCES = Path(__file__).parent / "resources"
# A page slow by construction, for the tests of the page time limit: extracting any page of this host
# sleeps ten minutes (classifier.faults.slow_point), in this process and in every worker it starts later
# (hence set here, before any test starts a worker pool). No real page is on a .invalid host.
SLOW_HOST = "slow-page.invalid"
SLOW_SECONDS = 600
os.environ[SLOW_ENV] = f"extract.page@{SLOW_HOST}={SLOW_SECONDS}"


@pytest.fixture()
def resources() -> Path:
    return RESOURCES


@pytest.fixture()
def settings() -> Settings:
    """The project's settings, single-process so that tests stay quick and deterministic."""
    base = load_settings()
    return replace(base, extract=replace(base.extract, n_jobs=1))


def write_warc(path: Path, pages: list[tuple[str, bytes, str]], gzip: bool = True) -> Path:
    """A WARC with a warcinfo record, and a request and a response record for each page."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=gzip)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "tests"}))
        for url, body, content_type in pages:
            request = StatusAndHeaders(f"GET {url} HTTP/1.1", [], is_http_request=True)
            writer.write_record(writer.create_warc_record(url, "request", http_headers=request))
            http = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)
            )
    return path


@pytest.fixture(scope="session")
def behavioural_settings() -> Settings:
    """Project settings; no real negatives from ../shared, so the tests depend on the package only."""
    base = load_settings()
    return replace(
        base,
        extract=replace(base.extract, n_jobs=2),
        train=replace(base.train, real_negatives="never"),
    )


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
    from classifier.model import save_model

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
