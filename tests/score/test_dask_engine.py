"""The Dask engine against a real cluster: ``dask scheduler`` and two ``dask worker`` processes on
loopback. Its queue equals the local engine's, row for row, and a worker killed mid-run loses nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from classifier.common.config import DEFAULT_PARAMS, IngestSettings, load_settings
from classifier.common.faults import SLOW_ENV
from classifier.corpus.build import generate_corpus
from classifier.ingest.sources import iter_records
from classifier.queue import CaseStore

pytestmark = pytest.mark.slow
VOLATILE = ("run_id", "scored_at")
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(args: list[str], log: Path) -> subprocess.Popen:
    # a process group of its own: killing it kills the worker and its nanny together
    return subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Cluster:
    def __init__(self, folder: Path):
        self.folder = folder
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.scheduler = _start(
            [
                str(BIN / "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                self.address.rsplit(":", 1)[1],
                "--no-dashboard",
            ],
            folder / "scheduler.log",
        )
        self.workers: list[subprocess.Popen] = []

    def add_worker(self) -> subprocess.Popen:
        n = len(self.workers)
        worker = _start(
            [
                str(BIN / "dask"),
                "worker",
                self.address,
                "--nthreads",
                "1",
                "--nworkers",
                "1",
                "--no-dashboard",
                "--name",
                f"w{n}",
                "--local-directory",
                str(self.folder / f"w{n}"),
            ],
            self.folder / f"worker{n}.log",
        )
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, n: int, timeout: float = 600) -> None:
        from distributed import Client

        with Client(self.address, timeout="300s") as client:
            client.wait_for_workers(n, timeout=timeout)

    def close(self) -> None:
        for process in [*self.workers, self.scheduler]:
            _stop(process)


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path)
    try:
        running.add_worker()
        running.add_worker()
        running.wait_for_workers(2)
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def params(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))
    raw["score"] |= {"chunk_size": 20, "log_to_mlflow": False}
    raw["extract"] |= {"n_jobs": 1}
    path = tmp_path_factory.mktemp("params") / "params.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A WARC of generated reports, and a JSONL with a broken line."""
    folder = tmp_path_factory.mktemp("reports")
    generate_corpus(folder, load_settings().corpus, n=160, seed=31)
    jsonl = folder / "reports.jsonl"
    rows = [
        {
            "url": f"https://t.me/shop{i}_example",
            "text": f"Меф и шишки, закладки по городу. Пиши @shop{i}_example",
        }
        for i in range(12)
    ]
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    lines.insert(5, "{broken")
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [str(folder / "pages.warc.gz"), str(jsonl)]


def score(
    params: Path, inputs: list[str], model: Path, out: Path, *extra: str, slow_at: str = ""
) -> subprocess.Popen:
    command = [
        str(BIN / "classifier"),
        "--params",
        str(params),
        "score",
        *inputs,
        "--model",
        str(model),
        "--out",
        str(out),
        "--db",
        f"sqlite:///{out.with_suffix('.db')}",
        "--checkpoints",
        str(out.parent / "runs"),
        "--no-cache",
        *extra,
    ]
    env = {**os.environ, SLOW_ENV: slow_at}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def score_on(
    cluster: Cluster,
    params: Path,
    inputs: list[str],
    model: Path,
    out: Path,
    partition_records: int,
    slow_at: str = "",
) -> subprocess.Popen:
    """``classifier score`` with the Dask engine on the test cluster."""
    dask = ("--engine", "dask", "--scheduler", cluster.address, "--partition-records", str(partition_records))
    return score(params, inputs, model, out, *dask, slow_at=slow_at)


def rows(path: Path) -> list[dict]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        for name in VOLATILE:
            row.pop(name)
        out.append(row)
    return out


def cases(out: Path) -> list[tuple]:
    with CaseStore(f"sqlite:///{out.with_suffix('.db')}") as store:
        return [(c["url"], c["score"], c["cluster_size"], c["status"]) for c in store.cases(limit=10_000)]


def image_texts(out: Path) -> dict[str, str]:
    """What OCR read in each case's images (the demo's image pages), by URL."""
    with CaseStore(f"sqlite:///{out.with_suffix('.db')}") as store:
        found = (store.case(c["id"]) for c in store.cases(limit=10_000))
        return {c["url"]: " | ".join(i["text"] for i in c["images"] or []) for c in found if c}


@pytest.fixture(scope="module")
def local_queue(
    params: Path, inputs: list[str], exported_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("local") / "queue.jsonl"
    process = score(params, inputs, exported_model, out)
    output, _ = process.communicate(timeout=1800)
    assert process.returncode == 0, output
    return out


def test_dask_gives_the_local_queue(
    cluster: Cluster, params: Path, inputs: list[str], exported_model: Path, local_queue: Path, tmp_path: Path
) -> None:
    out = tmp_path / "queue.jsonl"
    process = score_on(cluster, params, inputs, exported_model, out, partition_records=15)
    output, _ = process.communicate(timeout=1800)
    assert process.returncode == 0, output
    expected = rows(local_queue)
    assert len(expected) == sum(1 for _ in iter_records(inputs, IngestSettings()))  # every record, once
    assert rows(out) == expected
    assert cases(out) == cases(local_queue)
    # Dask workers read the pages' images too, wherever the partition with the image lies
    read = image_texts(out)
    assert read == image_texts(local_queue) and sum(bool(text) for text in read.values()) >= 3
    assert not list((tmp_path / "runs").glob("*.sqlite"))  # a finished run leaves no checkpoint


def test_a_worker_killed_mid_run_loses_no_record(
    cluster: Cluster, params: Path, inputs: list[str], exported_model: Path, local_queue: Path, tmp_path: Path
) -> None:
    out = tmp_path / "queue.jsonl"
    # the driver pauses after committing each of the ~35 partitions: when the third is committed, the
    # run has seconds to go on any machine, and the killed worker holds results not yet collected
    slow_at = "score.chunk_committed=0.2"
    process = score_on(cluster, params, inputs, exported_model, out, partition_records=5, slow_at=slow_at)
    killed = False
    while process.poll() is None:
        checkpoints = list((tmp_path / "runs").glob("*.sqlite"))
        if checkpoints and not killed and _partitions_done(checkpoints[0]) >= 3:
            os.killpg(cluster.workers[0].pid, signal.SIGKILL)  # the worker and its nanny, mid-run
            killed = True
        time.sleep(0.2)
    output, _ = process.communicate(timeout=1800)
    assert killed, "the run finished before a worker could be killed"
    assert process.returncode == 0, output
    assert rows(out) == rows(local_queue)
    assert cases(out) == cases(local_queue)


def test_a_run_survives_losing_every_worker_that_held_the_model(
    params: Path, inputs: list[str], exported_model: Path, local_queue: Path, tmp_path: Path
) -> None:
    """The model is sent once, to the workers there at the start. Its only worker dies mid-run and another
    joins: the scheduler has dropped the model and cancelled the tasks that needed it, so the driver
    sends the model again and those partitions run again, and the queue is the local one."""
    cluster = Cluster(tmp_path)
    try:
        cluster.add_worker()
        cluster.wait_for_workers(1)
        out = tmp_path / "queue.jsonl"
        slow_at = "score.chunk_committed=0.2"  # ~35 partitions: seconds to go after the third
        process = score_on(cluster, params, inputs, exported_model, out, partition_records=5, slow_at=slow_at)
        killed = False
        while process.poll() is None:
            checkpoints = list((tmp_path / "runs").glob("*.sqlite"))
            if checkpoints and not killed and _partitions_done(checkpoints[0]) >= 3:
                os.killpg(cluster.workers[0].pid, signal.SIGKILL)  # the model's only holder
                cluster.workers[0].wait()
                cluster.add_worker()
                killed = True
            time.sleep(0.2)
        output, _ = process.communicate(timeout=1800)
    finally:
        cluster.close()
    assert killed, "the run finished before its worker could be killed"
    assert process.returncode == 0, output
    assert "sending it again" in output
    assert rows(out) == rows(local_queue)
    assert cases(out) == cases(local_queue)


def test_partitions_go_out_as_workers_free_up(
    cluster: Cluster, params: Path, inputs: list[str], exported_model: Path, local_queue: Path, tmp_path: Path
) -> None:
    """Issue 21: two partitions per worker in flight, not all ~35 at once. The driver pauses after each
    commit, so the run lasts seconds while the scheduler is watched; had every partition gone out at
    once, the scheduler would hold most of them all that time."""
    from distributed import Client

    def run_tasks(dask_scheduler: Any) -> int:
        return sum(str(key).startswith("score-") for key in dask_scheduler.tasks)

    out = tmp_path / "queue.jsonl"
    seen = []
    with Client(cluster.address, timeout="30s") as watcher:
        process = score_on(
            cluster,
            params,
            inputs,
            exported_model,
            out,
            partition_records=5,
            slow_at="score.chunk_committed=0.2",
        )
        while process.poll() is None:
            seen.append(watcher.run_on_scheduler(run_tasks))
            time.sleep(0.1)
    output, _ = process.communicate(timeout=1800)
    assert process.returncode == 0, output
    assert rows(out) == rows(local_queue)
    assert max(seen) > 0, "the scheduler was never seen holding the run's tasks"
    assert max(seen) <= 2 * 2  # two workers of one thread each


def _partitions_done(checkpoint: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{checkpoint}?mode=ro", uri=True, timeout=1) as db:
            row = db.execute("SELECT value FROM meta WHERE name = 'partitions_done'").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


@pytest.mark.parametrize(
    "options",
    [
        ["--workers", "0"],
        ["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
        ["--partition-records", "0"],
    ],
)
def test_bad_cluster_options_are_refused_before_any_work(options: list[str], tmp_path: Path, capsys) -> None:
    from classifier.cli import main

    out = tmp_path / "queue.csv"
    assert main(["score", "reports.jsonl", "--engine", "dask", *options, "--out", str(out)]) == 2
    assert "error:" in capsys.readouterr().err and not out.exists()
