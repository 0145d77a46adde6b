"""Batch scoring end to end: real inputs, the session's trained model, a real SQLite case store."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from warcio.archiveiterator import ArchiveIterator

from classifier.cli import main
from classifier.common.config import Settings
from classifier.corpus.build import generate_corpus
from classifier.ingest.decoding import decode_html
from classifier.queue import CaseStore
from classifier.score.engine import score_inputs
from classifier.score.rows import SCORED_FIELDS
from warc_files import write_warc


def scoring_settings(settings: Settings) -> Settings:
    """Small chunks (so that several are checkpointed) and no MLflow logging into the project's store."""
    return replace(settings, score=replace(settings.score, chunk_size=40, log_to_mlflow=False))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """New reports: a fresh draw with many mirrored shops, plus a table with broken records."""
    from classifier.common.config import load_settings

    folder = tmp_path_factory.mktemp("incoming")
    corpus_settings = replace(load_settings().corpus, mirror_share=0.3)
    generate_corpus(folder, corpus_settings, n=160, seed=11)
    broken = [
        json.dumps({"url": "https://good.example/post/1", "text": "Продаю велосипед, самовывоз из Алматы."}),
        '{"url": "https://broken.example/", "text": "unterminated',
        json.dumps({"url": "https://empty.example/", "text": ""}),
        json.dumps(["not", "an", "object"]),
    ]
    (folder / "reports.jsonl").write_text("\n".join(broken) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def scored(corpus: Path, exported_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from classifier.common.config import load_settings

    settings = scoring_settings(load_settings())
    settings = replace(settings, extract=replace(settings.extract, n_jobs=1))
    out_dir = tmp_path_factory.mktemp("scored")
    db = f"sqlite:///{out_dir / 'queue.db'}"
    inputs = [str(corpus / "pages.warc.gz"), str(corpus / "reports.jsonl")]
    summary = score_inputs(
        inputs,
        out_dir / "queue.csv",
        settings,
        model_ref=str(exported_model),
        store=CaseStore(db),
        use_cache=False,
        runs_dir=out_dir / "runs",
    )
    queue = pd.read_csv(out_dir / "queue.csv", keep_default_na=False, na_values=[""])
    labels = pd.read_csv(corpus / "labels.csv", keep_default_na=False)
    return {
        "summary": summary,
        "queue": queue,
        "labels": labels,
        "db": db,
        "inputs": inputs,
        "settings": settings,
        "out_dir": out_dir,
    }


def test_output_has_the_contract_columns_and_one_row_per_input_record(scored: dict, corpus: Path) -> None:
    queue, labels = scored["queue"], scored["labels"]
    assert list(queue.columns) == list(SCORED_FIELDS)
    assert len(queue) == len(labels) + 4  # every HTML page of the WARC and every line of the JSONL
    assert set(labels["id"]) <= set(queue["id"])
    assert sorted(queue["rank"]) == list(range(1, len(queue) + 1))
    assert scored["summary"].records == len(queue)
    assert not (scored["out_dir"] / "runs").exists() or not any((scored["out_dir"] / "runs").iterdir())


def test_broken_records_get_an_error_row_with_a_reason_at_the_end_of_the_queue(scored: dict) -> None:
    queue = scored["queue"].sort_values("rank")
    errors = queue[queue["status"] == "error"]
    assert len(errors) == 3
    reasons = " | ".join(errors["error"])
    assert "invalid JSON on line 2" in reasons
    assert "line 4 is not a JSON object" in reasons
    assert errors["score"].isna().all()
    assert (errors["priority"] == 0).all()
    assert errors["rank"].min() > queue.loc[queue["status"] == "ok", "rank"].max() - len(errors)
    assert scored["summary"].errors and sum(scored["summary"].errors.values()) == 3
    good = queue[queue["url"] == "https://good.example/post/1"].iloc[0]
    assert (
        good["status"] == "ok" and 0 <= good["score"] <= 1
    )  # how it scores: tests/modeling (bicycle-sale-ru)


def test_scores_labels_and_categories_are_consistent(scored: dict, trained_model) -> None:
    ok = scored["queue"][scored["queue"]["status"] == "ok"]
    threshold = trained_model[-1].threshold_
    assert ok["score"].between(0, 1).all()
    assert ((ok["score"] >= threshold).astype(int) == ok["label"]).all()
    assert set(ok.loc[ok["label"] == 1, "category"]) <= {"sale", "recruitment", "propaganda"}
    assert (ok.loc[ok["label"] == 0, "category"] == "none").all()
    assert (ok["model_version"].astype(str) == "test-1").all()
    assert ok["scored_at"].nunique() == 1 and ok["run_id"].nunique() == 1


def test_queue_puts_violations_first_and_keeps_clusters_together(scored: dict) -> None:
    queue = (
        scored["queue"]
        .sort_values("rank")
        .merge(scored["labels"][["id", "label"]], on="id", how="left", suffixes=("", "_true"))
    )
    top, bottom = queue.head(40), queue[queue["status"] == "ok"].tail(40)
    assert top["label_true"].mean() > 0.9
    assert bottom["label_true"].mean() < 0.2
    # members of a cluster are adjacent, and clusters come in order of their best member's priority
    blocks = queue["cluster_id"].ne(queue["cluster_id"].shift()).cumsum()
    assert blocks.groupby(queue["cluster_id"]).nunique().max() == 1
    best = queue.groupby("cluster_id", sort=False)["priority"].max()
    assert best.is_monotonic_decreasing
    sizes = queue.groupby("cluster_id")["id"].transform("size")
    assert (sizes == queue["cluster_size"]).all()


def _mirrors_by_identifier(scored: dict) -> dict[bool, list[bool]]:
    """Whether each mirror shares its original's case, split by whether the shop names a contact that
    links pages (a Telegram handle or bot, a wallet, an .onion; phones are not linked yet: issue 18)."""
    queue, labels = scored["queue"], scored["labels"]
    cluster = dict(zip(queue["id"], queue["cluster_id"], strict=True))
    contacts = dict(zip(queue["id"], queue["contacts"].fillna("{}").map(json.loads), strict=True))
    kinds = scored["settings"].score.link_contacts
    mirrors = labels[labels["mirror_of"].astype(str) != ""]
    found: dict[bool, list[bool]] = {True: [], False: []}
    for mirror, original in zip(mirrors["id"], mirrors["mirror_of"], strict=True):
        linked = any(contacts[original].get(kind) for kind in kinds)
        found[linked].append(cluster[mirror] == cluster[original])
    return found


def test_mirrored_pages_share_their_original_case(scored: dict) -> None:
    queue, labels = scored["queue"], scored["labels"]
    linked = _mirrors_by_identifier(scored)[True]
    assert len(linked) >= 10
    assert sum(linked) / len(linked) >= 0.95
    # and a cluster is one shop, not a topic: members come from one template family
    families = queue.merge(labels[["id", "family"]], on="id").groupby("cluster_id")["family"].nunique()
    # (the demo's fake handles are drawn from a small pool, so a few unrelated pages share one)
    assert (families == 1).mean() >= 0.85


@pytest.mark.xfail(
    strict=True,
    reason="a short post whose only contact is a phone, re-posted inside other sites' boilerplate, is "
    "neither near-identical nor linked: phones are E.164 identifiers now, but they link only where "
    "score.link_contacts lists them, and the demo's ten fake phones repeat across unrelated shops",
)
def test_mirrors_known_only_by_a_phone_or_their_text_share_their_original_case(scored: dict) -> None:
    unlinked = _mirrors_by_identifier(scored)[False]
    assert len(unlinked) >= 5
    assert sum(unlinked) / len(unlinked) >= 0.9


def test_evidence_names_words_of_the_page_with_their_sentence(scored: dict) -> None:
    queue = scored["queue"]
    positives = queue[(queue["status"] == "ok") & (queue["label"] == 1)].head(10)
    assert len(positives) == 10
    for evidence in positives["evidence"]:
        items = json.loads(evidence)
        assert items, "a flagged page must say why"
        assert all(item["weight"] != 0 and item["term"] for item in items)
        assert items[0]["weight"] > 0  # reasons for first, then reasons against
        weights = [item["weight"] for item in items]
        assert weights == sorted(weights, key=lambda w: (w < 0, -abs(w)))
        assert any(item["sentence"] for item in items)


def test_case_store_holds_one_case_per_resource_and_rescoring_adds_no_cases(
    scored: dict, exported_model
) -> None:
    queue = scored["queue"]
    with CaseStore(scored["db"]) as store:
        first = sum(store.counts().values())
        runs_before = len(store.runs())
    # one case per URL; the two broken JSONL lines have no URL and make no case (they stay in the file)
    assert first == queue["url"].dropna().nunique()
    assert queue["url"].isna().sum() == 2
    assert scored["summary"].new_cases == first
    again = score_inputs(
        scored["inputs"],
        scored["out_dir"] / "again.csv",
        scored["settings"],
        model_ref=str(exported_model),
        store=CaseStore(scored["db"]),
        use_cache=False,
        runs_dir=scored["out_dir"] / "runs",
    )
    with CaseStore(scored["db"]) as store:
        assert sum(store.counts().values()) == first
        assert len(store.runs()) == runs_before + 1
        top = store.cases(limit=1)[0]
        history = store.case(top["id"])
    assert again.new_cases == 0
    assert len(history["scores"]) == 2  # one score per run: the history is kept


def test_same_pages_as_warc_html_folder_and_jsonl_score_the_same(
    corpus: Path, exported_model: Path, tmp_path: Path, settings: Settings
) -> None:
    pages = []
    with (corpus / "pages.warc.gz").open("rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type == "response" and "text/html" in record.http_headers.get_header(
                "Content-Type"
            ):
                url = record.rec_headers.get_header("WARC-Target-URI")
                pages.append(
                    (url, record.content_stream().read(), record.http_headers.get_header("Content-Type"))
                )
            if len(pages) == 12:
                break
    warc = write_warc(tmp_path / "pages.warc.gz", pages)
    folder = tmp_path / "html"
    folder.mkdir()
    lines = []
    for i, (url, body, content_type) in enumerate(pages):
        # a saved page keeps its bytes but loses the HTTP header: its charset is found in the page
        (folder / f"page{i:02d}.html").write_bytes(body)
        declared = content_type.split("charset=")[-1] if "charset=" in content_type else None
        html = decode_html(body, declared).text
        lines.append(json.dumps({"url": url, "html": html}, ensure_ascii=False))
    jsonl = tmp_path / "pages.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def scores(inputs: list[str], name: str) -> list[float]:
        out = tmp_path / f"{name}.csv"
        score_inputs(
            inputs,
            out,
            scoring_settings(settings),
            model_ref=str(exported_model),
            store=CaseStore(f"sqlite:///{tmp_path / 'queue.db'}"),
            use_cache=False,
            runs_dir=tmp_path / "runs",
        )
        table = pd.read_csv(out)
        assert (table["status"] == "ok").all()
        return sorted(table["score"].round(6))

    from_warc = scores([str(warc)], "warc")
    assert scores([str(folder)], "html") == from_warc
    assert scores([str(jsonl)], "jsonl") == from_warc


def test_export_cases_for_the_blocking_system(scored: dict, tmp_path: Path) -> None:
    with CaseStore(scored["db"]) as store:
        flagged = [c for c in store.cases(limit=500) if c["label"] == 1][:3]
        for case in flagged:
            store.record_decision(case["id"], "confirmed", "expert_a", "shop with a stash-drop menu")
    out = tmp_path / "confirmed.csv"
    assert main(["export-cases", "--status", "confirmed", "--out", str(out), "--db", scored["db"]]) == 0
    exported = pd.read_csv(out)
    assert sorted(exported["case_id"]) == sorted(c["id"] for c in flagged)
    assert (exported["expert"] == "expert_a").all()
    assert set(exported["url"]) == {c["url"] for c in flagged}
    with CaseStore(scored["db"]) as store:
        assert [e["action"] for e in store.audit_log(limit=1)] == ["export"]
    assert main(["export-cases", "--out", str(tmp_path / "cases.xml"), "--db", scored["db"]]) == 2


def test_score_command_rejects_an_unknown_output_format(
    corpus: Path, exported_model: Path, tmp_path: Path
) -> None:
    args = [
        "score",
        str(corpus / "reports.jsonl"),
        "--model",
        str(exported_model),
        "--out",
        str(tmp_path / "q.xlsx"),
        "--db",
        f"sqlite:///{tmp_path / 'never.db'}",
    ]
    assert main(args) == 2
    assert not (tmp_path / "never.db").exists()  # refused before the case store was made
    missing = ["score", str(corpus / "reports.jsonl"), "--model", str(tmp_path / "missing"), "--out", "x.csv"]
    assert main([*missing, "--db", f"sqlite:///{tmp_path / 'q.db'}"]) == 2


@pytest.mark.parametrize("plot", [False, True], ids=["numbers", "with-plot"])
def test_each_run_logs_drift_to_the_scoring_experiment(
    corpus: Path,
    exported_model: Path,
    tmp_path: Path,
    settings: Settings,
    mlflow_server: str,
    monkeypatch,
    plot: bool,
) -> None:
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    previous = mlflow.get_tracking_uri()
    settings = replace(
        settings, score=replace(settings.score, log_to_mlflow=True, psi_warning=0.0, drift_plot=plot)
    )
    experiment_name = f"scoring-{plot}"  # one experiment per case: the server is shared
    monkeypatch.setattr("classifier.score.drift.EXPERIMENT", experiment_name)
    try:
        summary = score_inputs(
            [str(corpus / "pages.warc.gz")],
            tmp_path / "queue.parquet",
            settings,
            model_ref=str(exported_model),
            store=CaseStore(f"sqlite:///{tmp_path / 'queue.db'}"),
            use_cache=False,
            runs_dir=tmp_path / "runs",
        )
        client = MlflowClient(mlflow_server)
        experiment = client.get_experiment_by_name(experiment_name)
        [run] = client.search_runs([experiment.experiment_id])
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    finally:
        mlflow.set_tracking_uri(previous)
    assert summary.drift["mlflow_run"] == run.info.run_id
    metrics = run.data.metrics
    assert metrics["records"] == summary.records == len(pd.read_parquet(tmp_path / "queue.parquet"))
    assert metrics["status_ok"] == summary.status["ok"]
    assert 0 < metrics["share_above_threshold"] < 1
    assert metrics["psi"] == pytest.approx(summary.drift["psi"]) and metrics["psi"] >= 0
    assert sum(metrics[f"hist_{i:02d}"] for i in range(settings.score.drift_bins)) == pytest.approx(1.0)
    assert run.data.tags["psi_warning"] == "true"  # the warning level was set to 0 for this test
    assert {"drift.json", "summary.json"} <= artifacts
    assert ("score_histogram.png" in artifacts) == plot  # matplotlib only when asked


def test_a_model_that_cannot_score_stops_the_run_with_a_clear_error(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from classifier.modeling.model import save_model

    old = pd.DataFrame({"body": ["меф закладки оператор", "погода в Алматы"] * 5, "label": [1, 0] * 5})
    stale = Pipeline(
        [("features", ColumnTransformer([("w", TfidfVectorizer(), "body")])), ("head", LogisticRegression())]
    )
    save_model(stale.fit(old, old["label"]), tmp_path / "stale")
    out = tmp_path / "queue.csv"
    args = ["score", str(corpus / "pages.warc.gz"), "--model", str(tmp_path / "stale"), "--out", str(out)]
    args += [
        "--db",
        f"sqlite:///{tmp_path / 'queue.db'}",
        "--checkpoints",
        str(tmp_path / "runs"),
        "--no-cache",
        "--allow-untrusted-model",  # a folder under tmp, made by this test
    ]
    assert main(args) == 2
    assert "the model fails on every document" in capsys.readouterr().err
    assert not out.exists()
