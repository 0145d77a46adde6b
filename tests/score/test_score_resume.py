"""A scoring run killed with SIGKILL and started again finishes with the output of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from classifier.common.faults import SLOW_ENV
from classifier.queue import CaseStore
from scoring_runs import command, committed, rows, write_corpus, write_params

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def params(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_params(tmp_path_factory.mktemp("params"))


@pytest.fixture(scope="module")
def warc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("reports"), n=400, seed=21)


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
    # a pause after each committed chunk: 12 chunks of 25 records are still to come after the first 100,
    # so the kill below certainly finds the run running, however fast the machine
    slow = {**env, SLOW_ENV: "score.chunk_committed=0.3"}
    process = subprocess.Popen(args, env=slow, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    while committed(checkpoints) < 100 and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=300)
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
