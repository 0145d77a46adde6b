"""Training end to end: family hold-out, the real MLflow server, registry aliases, champion gate, export."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from classifier.cli import main
from classifier.common.config import Settings, load_settings
from classifier.corpus.build import generate_corpus
from classifier.modeling import tracking
from classifier.modeling.datasets import real_negatives
from classifier.modeling.model import load_model_file, predict
from classifier.modeling.train import train
from classifier.modeling.training_data import split_families
from mlflow_server import running_mlflow_server

pytestmark = pytest.mark.slow


def small_settings(**model: object) -> Settings:
    base = load_settings()
    return replace(
        base,
        extract=replace(base.extract, n_jobs=2),
        model=replace(base.model, folds=3, **model),
        train=replace(base.train, real_negatives="never"),
    )


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    generate_corpus(folder, small_settings().corpus, n=500, seed=5)
    return folder


@pytest.fixture(scope="module")
def trained(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Three training runs against one real `mlflow server`: a much worse model (the first champion),
    a good one (clearly better: promoted), the same good one again (a tie: the champion stays)."""
    monkeypatch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("training")
    with running_mlflow_server(root / "server") as uri:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        say: list[str] = []
        worse = train(small_settings(C=0.0001), export_dir=root / "export", demo_dir=demo_dir, say=say.append)
        first = train(small_settings(), export_dir=root / "export", demo_dir=demo_dir, say=say.append)
        again = train(
            small_settings(), export_dir=root / "export", demo_dir=demo_dir, say=say.append,
            run_name="same-again", tags={"purpose": "tie"},
        )  # fmt: skip
        client = MlflowClient(tracking_uri=uri)
        aliases = client.get_registered_model(tracking.MODEL_NAME).aliases
        versions = {v: client.get_model_version(tracking.MODEL_NAME, v) for v in ("1", "2", "3")}
        runs = {v: client.get_run(m.run_id).data for v, m in versions.items()}
        tracking.configure(uri)
        champion = tracking.load_model(tracking.model_uri("champion"))
        yield {
            "first": first,
            "worse": worse,
            "again": again,
            "aliases": aliases,
            "versions": versions,
            "runs": runs,
            "uri": uri,
            "champion": champion,
            "root": root,
            "say": say,
        }
    monkeypatch.undo()
    tracking.configure(tracking.default_tracking_uri())


def test_families_never_straddle_the_split() -> None:
    frame = pd.DataFrame(
        {
            "family": [f"f{i // 10}" for i in range(200)],
            "label": [int((i // 10) % 2) for i in range(200)],
            "category": ["sale" if (i // 10) % 2 else "none" for i in range(200)],
            "hard_negative": [False] * 200,
            "lang": ["ru"] * 200,
        }
    )
    train_part, holdout = split_families(frame, 0.25, seed=1)
    assert set(train_part["family"]).isdisjoint(holdout["family"])
    assert 0.15 < len(holdout) / len(frame) < 0.35
    assert set(holdout["label"]) == {0, 1}


def test_the_hold_out_does_not_move_when_data_is_added() -> None:
    """A family's side depends on its name alone: new rows never move a trained family into the hold-out."""

    def frame(n: int) -> pd.DataFrame:
        return pd.DataFrame({"family": [f"f{i}" for i in range(n)], "label": [i % 2 for i in range(n)]})

    _, before = split_families(frame(400), 0.25, seed=1)
    train_after, after = split_families(frame(1000), 0.25, seed=1)
    assert set(before["family"]) == set(after["family"]) & set(frame(400)["family"])
    assert set(train_after["family"]).isdisjoint(before["family"])
    assert set(split_families(frame(400), 0.25, seed=2)[1]["family"]) != set(before["family"])


def test_registry_aliases_and_gate(trained: dict) -> None:
    worse, first, again = trained["worse"], trained["first"], trained["again"]
    assert (worse.version, worse.promoted) == ("1", True)  # the first model has nothing to beat
    assert (first.version, first.promoted) == ("2", True), first.gate_reason
    assert first.gate.interval.low > 0  # better with the configured confidence
    assert "challenge.average_precision" in first.gate_reason
    assert (again.version, again.promoted) == ("3", False), again.gate_reason
    assert again.gate.interval.difference == 0  # the same data and settings: the same predictions
    assert again.gate_reason.startswith("champion stays")
    assert trained["aliases"] == {"champion": "2", "challenger": "3"}


def test_the_gate_decision_is_kept_on_the_version_and_its_run(trained: dict) -> None:
    for version, result in (("2", trained["first"]), ("3", trained["again"])):
        tags, run = trained["versions"][version].tags, trained["runs"][version]
        assert tags["gate.decision"] == ("promoted" if result.promoted else "kept champion")
        assert tags["gate.reason"] == result.gate_reason
        assert tags["gate.ground"].startswith("the challenge set")
        assert trained["versions"][version].description.startswith("Champion gate: ")
        interval = result.gate.interval
        assert run.metrics["gate.difference_low"] == pytest.approx(interval.low)
        assert run.metrics["gate.difference_high"] == pytest.approx(interval.high)
        assert run.metrics["gate.champion.challenge.average_precision"] == pytest.approx(
            trained["worse"].metrics["challenge.average_precision"]
            if version == "2"
            else trained["first"].metrics["challenge.average_precision"]
        )
    assert trained["runs"]["3"].tags["purpose"] == "tie"  # train(run_name=, tags=): --run-name, --tag
    assert trained["runs"]["3"].tags["mlflow.runName"] == "same-again"


def test_champion_loads_from_the_server_and_scores_like_the_original(trained: dict, demo_dir: Path) -> None:
    docs = pd.DataFrame(
        {
            "title": ["Меф Алматы"],
            "description": [""],
            "text": ["Меф кристалл 1г 15000тг, закладки по городу, оператор @shop_example"],
        }
    )
    original = predict(trained["first"].pipeline, docs).score
    loaded = predict(trained["champion"], docs).score
    assert loaded == pytest.approx(original)


def test_metrics_meet_the_basic_bar(trained: dict) -> None:
    metrics = trained["first"].metrics
    for name in (
        "average_precision",
        "roc_auc",
        "precision",
        "recall",
        "f1",
        "threshold",
        "brier",
        "ece",
        "hard_negative_fpr",
        "recall_at_k",
        "robustness_recall",
        "category_accuracy",
        "challenge.average_precision",  # the hand-written challenge set, data/challenge/
        "challenge.minimal_pairs_ordered",
        "challenge.hard_negative_fpr",
        "challenge.lang.mixed.average_precision",
    ):
        assert name in metrics, name
    assert metrics["challenge.rows"] >= 400
    # a small corpus (its held-out quarter is ~125 pages, most of them written texts of unseen groups:
    # 0.81 with the 5,400 written texts, above 0.85 with 4,100); the full one is measured by the benchmark
    assert metrics["average_precision"] > 0.75
    # slices of at least 20 held-out rows: a 500-page corpus of 200 families has few per layout
    assert any(k.startswith("lang.") for k in metrics) and any(
        k.startswith(("layout.", "kind.")) for k in metrics
    )
    assert any(k.startswith("challenge.lang.kk.") for k in metrics)
    assert trained["worse"].metrics["average_precision"] < metrics["average_precision"]


def test_export_has_model_and_card(trained: dict) -> None:
    export = trained["root"] / "export"
    card = json.loads((export / "model_card.json").read_text())
    assert card["version"] == "2" and card["threshold"] == pytest.approx(
        trained["first"].pipeline[-1].threshold_
    )
    assert "Intended use" in (export / "model_card.md").read_text()
    assert card["data"]["counts"]["holdout"]["families"] > 5
    assert "challenge.average_precision" in card["metrics"]
    model = load_model_file(export)
    assert model[-1].threshold_ == trained["first"].pipeline[-1].threshold_


def test_report_files(trained: dict) -> None:
    report = trained["first"].report_dir
    for name in (
        "metrics.json",
        "predictions.csv",
        "error_analysis.csv",
        "pr_curve.png",
        "roc_curve.png",
        "calibration.png",
        "confusion_matrix.png",
        "score_histogram.png",
    ):
        assert (report / name).stat().st_size > 0, name
    errors = pd.read_csv(report / "error_analysis.csv")
    assert set(errors["error"]) <= {"false_positive", "false_negative"}
    assert errors["evidence"].map(json.loads).map(len).sum() > 0


def test_evaluate_command(
    trained: dict, demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "evaluation"
    params = tmp_path / "params.yaml"
    params.write_text("train:\n  real_negatives: never\n")
    code = main(
        [
            "--params",
            str(params),
            "evaluate",
            "--model",
            str(trained["root"] / "export"),
            "--data",
            str(demo_dir),
            "--out",
            str(out),
            "--allow-untrusted-model",  # exported by this test under tmp, not under models/
        ]
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"average_precision", "roc_auc", "precision", "recall", "f1", "threshold"} <= set(metrics)
    assert {"challenge.average_precision", "challenge.recall_at_k", "challenge.ece"} <= set(metrics)
    predictions = pd.read_csv(out / "predictions.csv")
    labels = pd.read_csv(demo_dir / "labels.csv", keep_default_na=False)
    assert len(predictions) == (labels["mirror_of"] == "").sum()  # copies are not measured twice
    assert list(predictions.columns) == [
        "id",
        "url",
        "label",
        "score",
        "predicted",
        "category",
        "category_probability",
    ]
    assert (out / "pr_curve.png").exists()
    said = capsys.readouterr().out
    assert "average_precision" in said
    # the exported champion learned from every family of this corpus: evaluate says so, with a count
    rows = len(predictions)
    assert f"warning: {rows} of {rows} rows" in said and "families the model trained on" in said
    assert metrics["rows_from_training_families"] == rows
    client = MlflowClient(tracking_uri=trained["uri"])
    runs = client.search_runs([client.get_experiment_by_name("evaluation").experiment_id], max_results=1)
    assert runs[0].data.metrics["average_precision"] == pytest.approx(metrics["average_precision"])


def test_promote_by_hand_writes_the_versions_own_card_and_keeps_the_chain(
    trained: dict, tmp_path: Path
) -> None:
    """Version 1 was trained with C=0.0001; today's params say otherwise. (It moves the champion alias
    to version 3: tests above this one read the aliases as the gate left them.)"""
    client = MlflowClient(tracking_uri=trained["uri"])
    gate_tags = dict(trained["versions"]["3"].tags)
    out = tmp_path / "export"
    assert main(["promote", "1", "--by", "analyst", "--reason", "rollback drill", "--out", str(out)]) == 0
    card = json.loads((out / "model_card.json").read_text())
    assert card["version"] == "1" and card["model"]["C"] == 0.0001  # its run's settings, not params.yaml
    assert card["data"]["counts"]["train"]["rows"] > 0  # its run's manifest
    assert card["metrics"]["average_precision"] == pytest.approx(
        trained["worse"].metrics["average_precision"]
    )
    assert main(["promote", "3", "--by", "analyst", "--out", str(out)]) == 0
    kept = client.get_model_version(tracking.MODEL_NAME, "3").tags
    assert {k: v for k, v in kept.items() if k.startswith("gate.")} == {
        k: v for k, v in gate_tags.items() if k.startswith("gate.")
    }
    assert kept["replaced_champion"] == "1" and kept["promoted_by"] == "analyst"
    model = client.get_registered_model(tracking.MODEL_NAME)
    assert model.tags["champion_history"] == "3,1,2,1"
    assert model.aliases["champion"] == "3"


def test_real_negatives_loader(tmp_path: Path) -> None:
    assert real_negatives("dev", folder=tmp_path / "absent") is None
    import gzip

    rows = [
        {
            "id": f"src:{i}",
            "text": f"текст {i}",
            "lang": "ru",
            "source": "src",
            "drug_topic": i % 2 == 0,
            "split": "dev" if i < 6 else "test",
        }
        for i in range(10)
    ]
    with gzip.open(tmp_path / "x.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    dev = real_negatives("dev", folder=tmp_path)
    assert len(dev) == 6 and set(dev["label"]) == {0}
    assert dev["hard_negative"].sum() == 3 and dev["family"].str.startswith("real:src:").all()
    assert len(real_negatives("test", folder=tmp_path)) == 4


def test_an_unusable_champion_gives_way(
    demo_dir: Path, tmp_path: Path, mlflow_server: str, monkeypatch
) -> None:
    """A champion that cannot score today's documents (say, from older code) would fail every scoring run."""
    import mlflow.sklearn
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    tracking.configure(mlflow_server)
    try:
        old = pd.DataFrame({"body": ["меф закладки оператор", "погода в Алматы"] * 5, "label": [1, 0] * 5})
        features = ColumnTransformer([("words", TfidfVectorizer(), "body")])
        stale = Pipeline([("features", features), ("head", LogisticRegression())]).fit(old, old["label"])
        with tracking.training_run("training"):  # logged as older code did: scikit-learn flavour
            info = mlflow.sklearn.log_model(stale, name="model", registered_model_name=tracking.MODEL_NAME)
            version = str(info.registered_model_version)
        tracking.set_alias(tracking.CHAMPION, version)
        say: list[str] = []
        result = train(small_settings(), export_dir=tmp_path / "export", demo_dir=demo_dir, say=say.append)
    finally:
        tracking.configure(tracking.default_tracking_uri())
    assert result.promoted
    assert f"champion version {version} is unusable" in result.gate_reason
    assert any("cannot score with this code" in line for line in say)
