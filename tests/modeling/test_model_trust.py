"""Models load only from trusted places: a joblib file runs code when loaded (model_trust.py)."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
from dataclasses import replace
from pathlib import Path

import pytest
from sklearn.pipeline import Pipeline

from classifier.cli import main
from classifier.common.config import ScoreSettings, Settings
from classifier.modeling.model import save_model
from classifier.modeling.model_trust import (
    CHECKSUM_FIELD,
    TRUSTED_DIRS_ENV,
    UntrustedModelError,
    check_model_reference,
    file_sha256,
)


class _RunsCodeOnLoad:
    """What a hostile model file holds: unpickling it calls a function of the attacker's choice."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))  # harmless stand-in for any command


def hostile_model(folder: Path, marker: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.joblib").write_bytes(pickle.dumps(_RunsCodeOnLoad(marker)))
    return folder


def trusting(folder: Path, **changes) -> ScoreSettings:
    return replace(ScoreSettings(), trusted_model_dirs=(str(folder),), **changes)


@pytest.fixture(autouse=True)
def no_extra_trusted_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRUSTED_DIRS_ENV, raising=False)  # the session's exported model adds one


def test_a_model_from_an_untrusted_folder_is_refused_before_any_of_its_code_runs(
    tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "the-model-ran-code"
    model = hostile_model(tmp_path / "downloads" / "model", marker)
    (tmp_path / "pages.jsonl").write_text('{"url": "https://a.example/", "text": "текст"}\n')
    args = ["score", str(tmp_path / "pages.jsonl"), "--model", str(model), "--out", str(tmp_path / "q.csv")]
    args += ["--db", f"sqlite:///{tmp_path / 'q.db'}", "--checkpoints", str(tmp_path / "runs")]

    assert main(args) == 2
    error = capsys.readouterr().err
    assert "refusing to load the model" in error and "outside the trusted model folders" in error
    assert "--allow-untrusted-model" in error
    assert not marker.exists()

    # what the refusal prevents: with the explicit permission, loading the file runs its code
    with contextlib.suppress(Exception):  # the stand-in object is no pipeline: the run then fails
        main([*args, "--allow-untrusted-model"])
    assert marker.is_dir()


def test_evaluate_refuses_an_untrusted_model_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "ran"
    model = hostile_model(tmp_path / "elsewhere", marker)
    code = main(["evaluate", "--model", str(model), "--data", str(tmp_path), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "refusing to load the model" in capsys.readouterr().err
    assert not marker.exists()


def test_a_model_in_a_trusted_folder_loads(tmp_path: Path, trained_model: Pipeline) -> None:
    folder = tmp_path / "models" / "drug-ad-classifier"
    save_model(trained_model, folder)
    check_model_reference(str(folder), trusting(tmp_path / "models"))
    check_model_reference(str(folder / "model.joblib"), trusting(tmp_path / "models"))


def test_the_environment_variable_adds_trusted_folders(
    tmp_path: Path, trained_model: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "mounted" / "model"
    save_model(trained_model, folder)
    with pytest.raises(UntrustedModelError):
        check_model_reference(str(folder), trusting(tmp_path / "models"))
    monkeypatch.setenv(TRUSTED_DIRS_ENV, os.pathsep.join(["/nonexistent", str(tmp_path / "mounted")]))
    check_model_reference(str(folder), trusting(tmp_path / "models"))


def test_a_symlink_in_the_trusted_folder_to_elsewhere_is_refused(
    tmp_path: Path, trained_model: Pipeline
) -> None:
    outside = tmp_path / "outside" / "model"
    save_model(trained_model, outside)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "drug-ad-classifier").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UntrustedModelError, match="outside the trusted model folders"):
        check_model_reference(str(tmp_path / "models" / "drug-ad-classifier"), trusting(tmp_path / "models"))


@pytest.mark.parametrize("writable", ["file", "folder"])
def test_a_model_everyone_may_write_is_refused(
    tmp_path: Path, trained_model: Pipeline, writable: str
) -> None:
    folder = tmp_path / "models" / "m"
    path = save_model(trained_model, folder)
    target = path if writable == "file" else folder
    target.chmod(target.stat().st_mode | 0o002)
    with pytest.raises(UntrustedModelError, match="writable by every user"):
        check_model_reference(str(folder), trusting(tmp_path / "models"))


def test_a_model_file_that_differs_from_its_card_checksum_is_refused(
    tmp_path: Path, trained_model: Pipeline
) -> None:
    folder = tmp_path / "models" / "m"
    path = save_model(trained_model, folder)
    card = folder / "model_card.json"
    card.write_text(json.dumps({"name": "m", CHECKSUM_FIELD: file_sha256(path)}))
    check_model_reference(str(folder), trusting(tmp_path / "models"))

    path.write_bytes(path.read_bytes() + b"\0")  # swapped or damaged after export
    with pytest.raises(UntrustedModelError, match="SHA-256 differs"):
        check_model_reference(str(folder), trusting(tmp_path / "models"))


@pytest.mark.parametrize(
    "uri",
    [
        "https://models.example/model.joblib",
        "s3://bucket.example/model",
        "file:///tmp/model",
        "mlflow-artifacts:/0/abc/artifacts/model",
        "hdfs://namenode.invalid/model",
    ],
)
def test_remote_and_other_uris_are_refused(uri: str, tmp_path: Path) -> None:
    with pytest.raises(UntrustedModelError, match="only exported folders"):
        check_model_reference(uri, trusting(tmp_path))
    check_model_reference(uri, trusting(tmp_path, allow_untrusted_model=True))


@pytest.mark.parametrize(
    "uri", ["models:/drug-ad-classifier@champion", "models:/drug-ad-classifier/3", "runs:/abc/model"]
)
def test_registry_uris_are_trusted(uri: str, tmp_path: Path) -> None:
    check_model_reference(uri, trusting(tmp_path))


def test_training_records_the_checksum_in_the_model_card(tmp_path: Path, trained_model: Pipeline) -> None:
    from classifier.common.config import load_settings
    from classifier.modeling.train import export_model

    folder = export_model(trained_model, {"average_precision": 0.9}, {}, load_settings(), "7", tmp_path / "m")
    card = json.loads((folder / "model_card.json").read_text())
    assert card[CHECKSUM_FIELD] == file_sha256(folder / "model.joblib")
