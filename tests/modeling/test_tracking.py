"""Tracking against real MLflow stores: a temporary SQLite file, and a real ``mlflow server``."""

from __future__ import annotations

import math
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from classifier.common.config import PROJECT_ROOT, ModelSettings, ScoreSettings
from classifier.modeling import tracking
from classifier.modeling.mlflow_model import OUTPUT_COLUMNS
from classifier.modeling.model import build_pipeline, fit_pipeline

POSITIVE = [
    "закладки мефедрон телеграм бот",
    "купить соль альфа пвп доставка",
    "работа курьером закладчиком высокая оплата",
    "гашиш шишки опт и розница",
    "кладмен требуется зп от 500 000 тг",
    "есірткі сатып алу телеграм",
    "мефедрон кристаллы гарантия клада",
    "вакансия склад курьер закладки алматы",
    "соль скорость лучшие цены астана",
    "пишите в бот магазин 24/7 кладов",
]
NEGATIVE = [
    "погода в алматы на выходные",
    "рецепт бешбармака с кониной",
    "продам диван недорого самовывоз",
    "расписание автобусов шымкент",
    "профилактика наркомании в школах",
    "курс тенге к доллару сегодня",
    "вакансия бухгалтер в астане",
    "соль поваренная пищевая 1 кг",
    "футбол кайрат астана счет матча",
    "аптека круглосуточно адреса",
]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"text": POSITIVE + NEGATIVE, "domain": ["example.kz"] * 20, "label": [1] * 10 + [0] * 10}
    )


@pytest.fixture(scope="module")
def pipeline(frame: pd.DataFrame) -> Pipeline:
    settings = ModelSettings(min_df=1, folds=3, C=10.0)
    return fit_pipeline(build_pipeline(settings), frame.drop(columns="label"), frame["label"])


@pytest.fixture()
def documents(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="label")


def log_version(pipeline: Pipeline, documents: pd.DataFrame, metrics: dict[str, float]) -> str:
    with tracking.training_run(run_name="test"):
        tracking.log_metrics(metrics)
        return tracking.log_model(pipeline, documents)


def test_default_tracking_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.default_tracking_uri() == f"sqlite:///{PROJECT_ROOT / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    assert tracking.default_tracking_uri() == "http://mlflow.internal:5000"


def test_model_uri() -> None:
    assert tracking.model_uri() == "models:/drug-ad-classifier@champion"
    assert tracking.model_uri("challenger", "other") == "models:/other@challenger"


def test_configure_points_tracking_and_registry_at_one_store(mlflow_store: Path) -> None:
    uri = f"sqlite:///{mlflow_store / 'mlflow.db'}"
    assert mlflow.get_tracking_uri() == uri
    assert mlflow.get_registry_uri() == uri


def test_training_run_tags_and_keeps_artifacts_beside_the_database(mlflow_store: Path) -> None:
    with tracking.training_run("smoke", run_name="first", tags={"purpose": "test"}) as run_id:
        tracking.log_dict({"rows": 3}, "manifest.json")
    run = MlflowClient().get_run(run_id)
    tags = run.data.tags
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "first"
    assert tags["purpose"] == "test"
    assert tags["git_commit"]
    assert tags["git_dirty"] in ("true", "false")  # a run from edited code says so
    assert tags["mlflow_version"] == mlflow.__version__
    assert {"sklearn_version", "pandas_version", "python_version"} <= set(tags)
    experiment = MlflowClient().get_experiment(run.info.experiment_id)
    assert experiment.artifact_location == (mlflow_store / "mlruns").as_uri()
    assert (mlflow_store / "mlruns" / run_id / "artifacts" / "manifest.json").exists()


def test_training_run_marks_a_failed_run(mlflow_store: Path) -> None:
    with pytest.raises(ZeroDivisionError), tracking.training_run() as run_id:
        _ = 1 / 0
    assert MlflowClient().get_run(run_id).info.status == "FAILED"


def test_log_params_flattens_truncates_and_batches(mlflow_store: Path) -> None:
    params = {
        "model": {"C": 10.0, "tfidf": {"ngram_range": (2, 4)}},
        "notes": "x" * 10_000,
        "grid": {f"p{i}": i for i in range(250)},  # more than one request's worth
    }
    with tracking.training_run() as run_id:
        tracking.log_params(params)
    logged = MlflowClient().get_run(run_id).data.params
    assert logged["model.C"] == "10.0"
    assert logged["model.tfidf.ngram_range"] == "(2, 4)"
    assert logged["grid.p249"] == "249"
    assert len(logged) == 2 + 1 + 250
    assert 0 < len(logged["notes"]) < 10_000


def test_log_metrics_skips_non_finite_values(mlflow_store: Path) -> None:
    with tracking.training_run() as run_id:
        tracking.log_metrics({"roc_auc": 0.91, "recall@k": 0.8, "recall_kk": math.nan, "lift": math.inf})
        tracking.log_metrics({"loss": np.float64(0.5)}, step=3)
    data = MlflowClient().get_run(run_id).data
    assert data.metrics == {"roc_auc": 0.91, "recall_k": 0.8, "loss": 0.5}
    assert data.tags["metric_skipped.recall_kk"] == "nan"
    assert data.tags["metric_skipped.lift"] == "inf"
    assert MlflowClient().get_metric_history(run_id, "loss")[0].step == 3


def test_log_artifacts_and_dict(mlflow_store: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    report.write_text("ok", encoding="utf-8")
    plots = tmp_path / "plots"
    plots.mkdir()
    (plots / "roc.svg").write_text("<svg/>", encoding="utf-8")
    with tracking.training_run() as run_id:
        tracking.log_artifact(report)
        tracking.log_artifacts(plots, artifact_path="plots")
        tracking.log_dict({"source": Path("/data/x.warc"), "at": datetime(2025, 1, 1)}, "manifest.json")
    names = {item.path for item in MlflowClient().list_artifacts(run_id)}
    assert names == {"report.txt", "plots", "manifest.json"}
    manifest = mlflow.artifacts.load_dict(f"runs:/{run_id}/manifest.json")
    assert manifest == {"source": "/data/x.warc", "at": "2025-01-01 00:00:00"}


def test_log_model_needs_an_active_run(
    mlflow_store: Path, pipeline: Pipeline, documents: pd.DataFrame
) -> None:
    with pytest.raises(RuntimeError, match="training_run"):
        tracking.log_model(pipeline, documents)


def test_log_model_registers_new_versions_with_signature(
    mlflow_store: Path, pipeline: Pipeline, documents: pd.DataFrame
) -> None:
    assert log_version(pipeline, documents, {"roc_auc": 0.9}) == "1"
    assert log_version(pipeline, documents, {"roc_auc": 0.95}) == "2"
    info = mlflow.models.get_model_info(f"models:/{tracking.MODEL_NAME}/2")
    assert info.signature.inputs.input_names() == ["text", "title", "description", "image_text"]
    assert [c.required for c in info.signature.inputs.inputs] == [True, False, False, False]
    assert info.signature.outputs.input_names() == list(OUTPUT_COLUMNS)


def test_the_served_model_answers_named_columns_from_text_alone(
    mlflow_store: Path, pipeline: Pipeline, documents: pd.DataFrame
) -> None:
    """Issue 16: what ``mlflow.pyfunc`` returns matches the logged signature, and title is optional."""
    version = log_version(pipeline, documents, {})
    tracking.set_alias("champion", version)
    served = mlflow.pyfunc.load_model(tracking.model_uri())
    answer = served.predict(documents[["text"]])
    assert list(answer.columns) == served.metadata.get_output_schema().input_names() == list(OUTPUT_COLUMNS)
    np.testing.assert_allclose(answer["score"], pipeline.predict_proba(documents)[:, 1])
    flagged = answer["label"] == 1
    assert flagged.any() and not flagged.all()
    assert set(answer.loc[~flagged, "category"]) == {"none"}  # no category claimed under the threshold
    with_title = served.predict(documents[["text"]].assign(title="Объявление"))
    assert list(with_title.columns) == list(OUTPUT_COLUMNS)
    with pytest.raises(Exception, match="text"):
        served.predict(pd.DataFrame({"title": ["only a title"]}))


def test_log_model_refuses_types_skops_cannot_trust(mlflow_store: Path, documents: pd.DataFrame) -> None:
    odd = Pipeline([("copy", FunctionTransformer(_to_text)), ("classifier", LogisticRegression())])
    odd.fit(pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]}), [0, 0, 1, 1])
    with tracking.training_run(), pytest.raises(ValueError, match=r"test_tracking\._to_text"):
        tracking.log_model(odd, pd.DataFrame({"x": [1.0]}))


def _to_text(values):  # a function outside the trusted packages, as a careless pipeline might hold
    return values


def test_aliases(mlflow_store: Path, pipeline: Pipeline, documents: pd.DataFrame) -> None:
    assert tracking.alias_version("champion") is None  # no model yet
    version = log_version(pipeline, documents, {})
    assert tracking.alias_version("champion") is None  # model, but no alias
    tracking.set_alias("challenger", version)
    assert tracking.alias_version("challenger") == version
    by_client = MlflowClient().get_model_version_by_alias(tracking.MODEL_NAME, "challenger")
    assert str(by_client.version) == version  # the SQLite mlflow_store returns an int here


def test_load_model_by_alias_run_and_folder(
    mlflow_store: Path, tmp_path: Path, pipeline: Pipeline, documents: pd.DataFrame
) -> None:
    version = log_version(pipeline, documents, {})
    tracking.set_alias("champion", version)
    expected = pipeline.predict_proba(documents)
    run_id = MlflowClient().get_model_version(tracking.MODEL_NAME, version).run_id
    folder = Path(mlflow.artifacts.download_artifacts(tracking.model_uri(), dst_path=str(tmp_path / "dl")))
    for uri in (tracking.model_uri(), f"runs:/{run_id}/model", folder):
        loaded = tracking.load_model(uri)
        np.testing.assert_allclose(loaded.predict_proba(documents), expected)


def test_record_promotion(mlflow_store: Path, pipeline: Pipeline, documents: pd.DataFrame) -> None:
    first = log_version(pipeline, documents, {})
    second = log_version(pipeline, documents, {})
    client = MlflowClient()
    tracking.record_promotion(first, by="analyst", reason="first model")
    assert client.get_registered_model(tracking.MODEL_NAME).tags["previous_champion"] == "none"
    tracking.record_promotion(second, by="expert-7", reason="recall@100 up 4 points")
    assert tracking.alias_version("champion") == second
    assert client.get_registered_model(tracking.MODEL_NAME).tags["previous_champion"] == first
    tracking.record_promotion(second, by="expert-7", reason="recall@100 up 4 points")  # again
    assert client.get_registered_model(tracking.MODEL_NAME).tags["previous_champion"] == first
    tags = client.get_model_version(tracking.MODEL_NAME, second).tags
    assert tags["promoted_by"] == "expert-7"
    assert tags["promotion_reason"] == "recall@100 up 4 points"
    promoted_at = datetime.fromisoformat(tags["promoted_at"])
    assert abs((datetime.now(UTC) - promoted_at).total_seconds()) < 300


def test_version_metrics(mlflow_store: Path, pipeline: Pipeline, documents: pd.DataFrame) -> None:
    champion = log_version(pipeline, documents, {"roc_auc": 0.9, "recall_at_100": 0.7})
    challenger = log_version(pipeline, documents, {"roc_auc": 0.93, "undefined": math.nan})
    assert tracking.version_metrics(champion) == {"roc_auc": 0.9, "recall_at_100": 0.7}
    assert tracking.version_metrics(challenger) == {"roc_auc": 0.93}


@pytest.mark.slow
def test_registry_round_trip_through_a_real_server(
    mlflow_server: str, mlflow_state: None, tmp_path: Path, pipeline: Pipeline, documents: pd.DataFrame
) -> None:
    assert tracking.configure(mlflow_server) == mlflow_server
    version = log_version(pipeline, documents, {"roc_auc": 0.9})
    tracking.set_alias("challenger", version)
    tracking.record_promotion(version, by="ci", reason="integration test")

    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    model = client.get_registered_model(tracking.MODEL_NAME)
    assert {alias: str(v) for alias, v in model.aliases.items()} == {
        "champion": version,
        "challenger": version,
    }
    assert client.get_model_version(tracking.MODEL_NAME, version).tags["promoted_by"] == "ci"
    assert tracking.version_metrics(version) == {"roc_auc": 0.9}
    experiment = client.get_experiment_by_name("training")
    assert experiment.artifact_location.startswith("mlflow-artifacts:")  # proxied by the server

    loaded = tracking.load_model(f"models:/{tracking.MODEL_NAME}@champion")
    np.testing.assert_allclose(loaded.predict_proba(documents), pipeline.predict_proba(documents))
    assert not list(tmp_path.iterdir())  # nothing written beside the client


def _cache_entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.exists() else []


@pytest.fixture()
def cache_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache folder these tests give in the settings, not the suite's (CLASSIFIER_MODEL_CACHE)."""
    from classifier.modeling.loading import MODEL_CACHE_ENV

    monkeypatch.delenv(MODEL_CACHE_ENV, raising=False)


@pytest.mark.usefixtures("cache_from_settings")
def test_scoring_loads_a_registered_version_from_mlflow_once_then_from_the_cache(
    mlflow_store: Path, tmp_path: Path, pipeline: Pipeline, documents: pd.DataFrame
) -> None:
    """Issue 21: the second load of a version needs neither MLflow's artifacts nor skops."""
    from classifier.modeling.loading import load_trusted_model

    tracking.set_alias("champion", log_version(pipeline, documents, {}))
    settings = ScoreSettings(model_cache_dir=str(tmp_path / "cache"))
    first = load_trusted_model(tracking.model_uri(), settings)
    [entry] = _cache_entries(tmp_path / "cache")
    assert {p.name for p in entry.iterdir()} == {"model.joblib", "entry.json"}
    shutil.rmtree(mlflow_store / "mlruns")  # MLflow could no longer load it
    second = load_trusted_model(tracking.model_uri(), settings)
    assert (second.name, second.version) == (first.name, first.version) == (tracking.MODEL_NAME, "1")
    np.testing.assert_allclose(second.pipeline.predict_proba(documents), pipeline.predict_proba(documents))
    with pytest.raises(MlflowException, match="No such artifact"):  # without the cache: MLflow is asked
        load_trusted_model(tracking.model_uri())


@pytest.mark.parametrize("damage", ["file replaced", "writable by every user"])
@pytest.mark.usefixtures("cache_from_settings")
def test_a_cache_entry_that_cannot_be_trusted_is_loaded_from_mlflow_again(
    mlflow_store: Path,
    tmp_path: Path,
    pipeline: Pipeline,
    documents: pd.DataFrame,
    damage: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from classifier.modeling.loading import load_trusted_model

    tracking.set_alias("champion", log_version(pipeline, documents, {}))
    settings = ScoreSettings(model_cache_dir=str(tmp_path / "cache"))
    load_trusted_model(tracking.model_uri(), settings)
    [entry] = _cache_entries(tmp_path / "cache")
    if damage == "file replaced":
        with (entry / "model.joblib").open("ab") as handle:
            handle.write(b"\0")
    else:
        entry.chmod(entry.stat().st_mode | stat.S_IWOTH)
    loaded = load_trusted_model(tracking.model_uri(), settings)
    assert f"not using the cached model in {entry}" in caplog.text
    np.testing.assert_allclose(loaded.pipeline.predict_proba(documents), pipeline.predict_proba(documents))
    [again] = _cache_entries(tmp_path / "cache")  # written anew, and trusted
    assert not again.stat().st_mode & stat.S_IWOTH
    caplog.clear()
    load_trusted_model(tracking.model_uri(), settings)
    assert "not using the cached model" not in caplog.text


@pytest.mark.usefixtures("cache_from_settings")
def test_a_version_number_registered_again_is_not_taken_from_the_cache(
    mlflow_store: Path, tmp_path: Path, pipeline: Pipeline, documents: pd.DataFrame, frame: pd.DataFrame
) -> None:
    """A registered model deleted and created again starts at version 1 again, with another model."""
    from classifier.modeling.loading import load_trusted_model

    settings = ScoreSettings(model_cache_dir=str(tmp_path / "cache"))
    tracking.set_alias("champion", log_version(pipeline, documents, {}))
    load_trusted_model(tracking.model_uri(), settings)
    MlflowClient().delete_registered_model(tracking.MODEL_NAME)
    flipped = fit_pipeline(
        build_pipeline(ModelSettings(min_df=1, folds=3, C=10.0)), documents, 1 - frame["label"]
    )
    tracking.set_alias("champion", log_version(flipped, documents, {}))
    loaded = load_trusted_model(tracking.model_uri(), settings)
    assert loaded.version == "1"
    np.testing.assert_allclose(loaded.pipeline.predict_proba(documents), flipped.predict_proba(documents))
    assert len(_cache_entries(tmp_path / "cache")) == 2


def test_the_environment_names_another_cache_folder(
    mlflow_store: Path, tmp_path: Path, pipeline: Pipeline, documents: pd.DataFrame, monkeypatch
) -> None:
    """CLASSIFIER_MODEL_CACHE: how the test suite keeps commands and notebooks out of the project's cache."""
    from classifier.modeling.loading import MODEL_CACHE_ENV, load_trusted_model

    monkeypatch.setenv(MODEL_CACHE_ENV, str(tmp_path / "elsewhere"))
    tracking.set_alias("champion", log_version(pipeline, documents, {}))
    load_trusted_model(tracking.model_uri(), ScoreSettings(model_cache_dir=str(tmp_path / "cache")))
    assert len(_cache_entries(tmp_path / "elsewhere")) == 1
    assert not _cache_entries(tmp_path / "cache")
