"""A scoring run killed with SIGKILL and started again finishes with the output of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from classifier.config import DEFAULT_PARAMS
from classifier.corpus.generator import generate_corpus
from classifier.queue import CaseStore

pytestmark = pytest.mark.slow
VOLATILE = ("run_id", "scored_at")  # the only fields that differ between two separate runs


@pytest.fixture(scope="module")
def params(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Project params with small chunks, one extraction process and no MLflow logging."""
    raw = yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))
    raw["score"] |= {"chunk_size": 25, "log_to_mlflow": False}
    raw["extract"] |= {"n_jobs": 1}
    path = tmp_path_factory.mktemp("params") / "params.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def warc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from classifier.config import load_settings

    folder = tmp_path_factory.mktemp("reports")
    generate_corpus(folder, load_settings().corpus, n=400, seed=21)
    return folder / "pages.warc.gz"


def command(params: Path, warc: Path, model: Path, out: Path, checkpoints: Path) -> list[str]:
    executable = Path(sys.executable).with_name("classifier")
    db = f"sqlite:///{out.with_suffix('.db')}"
    return [
        str(executable),
        "--params",
        str(params),
        "score",
        str(warc),
        "--model",
        str(model),
        "--out",
        str(out),
        "--db",
        db,
        "--checkpoints",
        str(checkpoints),
        "--no-cache",
    ]


def committed(checkpoints: Path) -> int:
    """Rows committed so far by the running scorer (0 until its checkpoint exists)."""
    for path in checkpoints.glob("*.sqlite"):
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
                return int(db.execute("SELECT COUNT(*) FROM rows").fetchone()[0])
        except sqlite3.OperationalError:  # schema not created yet
            return 0
    return 0


def rows(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in VOLATILE} for line in lines]


def test_killed_run_resumes_without_loss_or_duplicates(
    params: Path, warc: Path, exported_model: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    reference = tmp_path / "reference.jsonl"
    subprocess.run(
        command(params, warc, exported_model, reference, tmp_path / "ref-runs"), check=True, env=env
    )

    out, checkpoints = tmp_path / "resumed.jsonl", tmp_path / "runs"
    args = command(params, warc, exported_model, out, checkpoints)
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while committed(checkpoints) < 100 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be killed: give it more pages"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    done = committed(checkpoints)
    assert 100 <= done < 400
    assert not out.exists()

    finished = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    assert f"resumed a killed run after {done} committed records" in finished.stdout

    expected, got = rows(reference), rows(out)
    assert len(got) == len(expected) == 400
    assert [r["id"] for r in got] == [r["id"] for r in expected]
    assert got == expected
    assert not list(checkpoints.glob("*.sqlite"))  # a finished run leaves no state behind
    with CaseStore(f"sqlite:///{out.with_suffix('.db')}") as store:
        cases = sum(store.counts().values())
        history = store.case(store.cases(limit=1)[0]["id"])
    with CaseStore(f"sqlite:///{reference.with_suffix('.db')}") as store:
        assert cases == sum(store.counts().values())
    assert len(history["scores"]) == 1
