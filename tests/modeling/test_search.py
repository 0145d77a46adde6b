"""`classifier search`: trials by cross-validation by family as nested MLflow runs; the best trained
and registered through the champion gate (a real MLflow server)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from mlflow import MlflowClient

from classifier.common.config import Settings, load_settings, override
from classifier.corpus.build import generate_corpus
from classifier.modeling import tracking
from classifier.modeling.search import combinations, search

pytestmark = pytest.mark.slow


def search_settings(space: dict, max_trials: int = 0) -> Settings:
    base = load_settings()
    return replace(
        base,
        extract=replace(base.extract, n_jobs=2),
        model=replace(base.model, folds=3),
        train=replace(
            base.train, real_negatives="never", experiment="training-test", registered_model="search-test"
        ),
        search=replace(base.search, folds=2, space=space, max_trials=max_trials),
    )


def test_the_space_is_a_grid_or_a_seeded_draw_and_only_model_or_train_keys() -> None:
    grid = combinations(search_settings({"model.C": [1, 2, 3], "model.cue_weight": [0.5, 1.0]}))
    assert len(grid) == 6 and {"model.C": 1, "model.cue_weight": 0.5} in grid
    drawn = combinations(
        search_settings({"model.C": [1, 2, 3], "model.cue_weight": [0.5, 1.0]}, max_trials=3)
    )
    assert len(drawn) == 3 and all(d in grid for d in drawn)
    assert drawn == combinations(search_settings({"model.C": [1, 2, 3], "model.cue_weight": [0.5, 1.0]}, 3))
    with pytest.raises(ValueError, match="can change"):
        combinations(search_settings({"corpus.n_pages": [100]}))
    with pytest.raises(ValueError, match="unknown key"):
        override(search_settings({}), {"model.nope": 1})
    with pytest.raises(ValueError, match="empty"):
        combinations(search_settings({}))


def test_search_logs_nested_trials_and_registers_the_best_through_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow_server import running_mlflow_server

    settings = search_settings({"model.C": [0.0001, 4.0]})
    corpus = tmp_path / "corpus"
    generate_corpus(corpus, settings.corpus, n=400, seed=9)
    with running_mlflow_server(tmp_path / "server") as uri:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        try:
            result = search(settings, demo_dir=corpus, export_dir=tmp_path / "exported", say=lambda _: None)
            client = MlflowClient(tracking_uri=uri, registry_uri=uri)
            experiment = client.get_experiment_by_name("search")
            children = client.search_runs(
                [experiment.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{result.parent_run}'"
            )
            version = client.get_model_version("search-test", result.registered.version)
            trained = client.get_run(version.run_id)
            project_model = client.search_registered_models(filter_string="name = 'drug-ad-classifier'")
        finally:
            tracking.configure(tracking.default_tracking_uri())
    assert len(result.trials) == 2 and all(len(t.fold_scores) == 2 for t in result.trials)
    assert {c.info.run_id for c in children} == {t.run_id for t in result.trials}
    assert {c.data.params["model.C"] for c in children} == {"0.0001", "4.0"}
    assert all("cv_average_precision" in c.data.metrics for c in children)
    assert result.best.overrides == {"model.C": 4.0}  # a near-constant model loses to a real one
    assert list(result.table()["model.C"]) == [4.0, 0.0001]
    registered = result.registered
    assert registered is not None and registered.promoted  # the first version: nothing to beat
    assert version.tags["gate.decision"] == "promoted"
    assert (tmp_path / "exported" / "model.joblib").is_file()  # not the project's models/ folder
    assert trained.data.params["model.C"] == "4.0" and trained.data.tags["search_run"] == result.parent_run
    assert not project_model  # the project's registered model is untouched


def test_the_search_command_compares_without_registering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`classifier search --no-register` on a labelled table, the space given with --set."""
    import json

    from classifier.cli import main

    written = Path(__file__).parents[2] / "src" / "classifier" / "corpus" / "written"
    rows = [json.loads(line) for batch in ("a", "c") for line in (written / f"{batch}.jsonl").open()]
    table = tmp_path / "labelled.jsonl"
    table.write_text(
        "".join(
            json.dumps(
                {"text": r["text"], "label": r["label"], "category": r["category"], "family": r["group"]}
            )
            + "\n"
            for r in rows
        ),
        encoding="utf-8",
    )
    store = tmp_path / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        code = main(
            [
                "search", "--no-register", "--data", str(table), "--set",
                "search.space={model.C: [0.0001, 4.0]}", "search.folds=2", "model.folds=3",
                "train.real_negatives=never", "extract.n_jobs=1",
            ]
        )  # fmt: skip
    finally:
        tracking.configure(tracking.default_tracking_uri())
    printed = capsys.readouterr().out
    assert code == 0
    assert "cv_average_precision" in printed and "best: {'model.C': 4.0}" in printed
    assert "registered version" not in printed
    client = MlflowClient(tracking_uri=f"sqlite:///{store}", registry_uri=f"sqlite:///{store}")
    runs = client.search_runs([client.get_experiment_by_name("search").experiment_id])
    assert len(runs) == 3  # the parent and two trials
    assert not client.search_registered_models()
