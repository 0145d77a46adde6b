"""Crash safety: `classifier score` killed with SIGKILL at its crash points (classifier/common/faults.py) and at
random moments, then started again, ends as an uninterrupted run does: no record lost or duplicated,
the case store consistent; a decision killed mid-transaction is all there or not at all. On SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, func, select

from classifier.common.faults import CRASH_ENV, SLOW_ENV
from classifier.queue import CaseStore
from classifier.queue.schema import cases_table, decisions_table, runs_table, scores_table
from databases import backend_params, fresh_database
from scoring_runs import command, rows, write_corpus, write_params

pytestmark = pytest.mark.slow
PAGES = 150
CHUNK = 25  # records per checkpoint chunk and per case store batch: six of each
KILLED = -signal.SIGKILL
CASE_FIELDS = ("url", "score", "label", "category", "priority", "cluster_id", "cluster_size", "status")
SCORE_FIELDS = ("record_id", "score", "label", "category", "priority", "rank", "cluster_id", "status")


@pytest.fixture(scope="module")
def params(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_params(tmp_path_factory.mktemp("params"), chunk_size=CHUNK)


@pytest.fixture(scope="module")
def warc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("pages"), n=PAGES, seed=8)


@pytest.fixture(params=backend_params())
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture()
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with fresh_database(backend, tmp_path) as url:
        yield url


def environment(crash_at: str | None = None, slow_at: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (CRASH_ENV, SLOW_ENV)} | {"PYTHONUNBUFFERED": "1"}
    return env | ({CRASH_ENV: crash_at} if crash_at else {}) | ({SLOW_ENV: slow_at} if slow_at else {})


def run(args: list[str], crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=environment(crash_at), capture_output=True, text=True, timeout=1800)


def checkpoint_path(args: list[str]) -> Path:
    """Where the command keeps its checkpoint: a file named by ``run_key`` of the command's arguments."""
    from classifier.cli.arguments import build_parser
    from classifier.cli.commands import settings_from_args
    from classifier.modeling.loading import LoadedModel
    from classifier.queue.store import masked_url
    from classifier.score.run_identity import run_key

    parsed = build_parser().parse_args(args[1:])
    card = json.loads((Path(parsed.model) / "model_card.json").read_text(encoding="utf-8"))
    model = LoadedModel(None, card["name"], str(card["version"]), parsed.model)  # type: ignore[arg-type]
    key = run_key(parsed.inputs, Path(parsed.out), model, masked_url(parsed.db), settings_from_args(parsed))
    return Path(parsed.checkpoints) / f"{key}.sqlite"


# -- what the case store holds ------------------------------------------------------------------
def snapshot(url: str) -> dict[str, Any]:
    """Cases by key, score rows, runs: what must come out the same after a crash and a restart."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            c, s = cases_table.c, scores_table.c
            cases = {
                r[0]: tuple(r[1:]) for r in conn.execute(select(c.case_key, *(c[f] for f in CASE_FIELDS)))
            }
            key = select(c.case_key).where(c.id == s.case_id).scalar_subquery()
            scores = sorted(conn.execute(select(key, *(s[f] for f in SCORE_FIELDS))).all(), key=repr)
            runs = [dict(r._mapping) for r in conn.execute(select(runs_table))]
            _assert_consistent(conn)
    finally:
        engine.dispose()
    if url.startswith("sqlite:///"):
        _assert_sqlite_intact(Path(url.removeprefix("sqlite:///")))
    return {"cases": cases, "scores": scores, "runs": runs}


def _assert_consistent(conn: Connection) -> None:
    """One score row per (run, record), report counts that match them, and no row pointing nowhere."""
    c, s, d = cases_table.c, scores_table.c, decisions_table.c
    pairs = conn.execute(select(s.run_id, s.record_id)).all()
    assert not [pair for pair, n in Counter(pairs).items() if n > 1], "duplicated score rows"
    counted = select(s.case_id, func.count(s.record_id.distinct())).group_by(s.case_id)
    expected = dict(conn.execute(counted).all())
    assert dict(conn.execute(select(c.id, c.report_count)).all()) == expected, "cases without scores?"
    case_ids = set(conn.execute(select(c.id)).scalars())
    run_ids = set(conn.execute(select(runs_table.c.run_id)).scalars())
    assert set(conn.execute(select(s.case_id)).scalars()) <= case_ids
    assert set(conn.execute(select(s.run_id)).scalars()) <= run_ids
    assert set(conn.execute(select(d.case_id)).scalars()) <= case_ids


def _assert_sqlite_intact(path: Path) -> None:
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []


def assert_whole_batches(state: dict[str, Any], ranked_ids: list[str]) -> int:
    """After a kill the store holds the first batches of the queue, whole: a batch is one transaction."""
    stored = {row[1] for row in state["scores"]}
    n = len(stored)
    assert n % CHUNK == 0 or n == len(ranked_ids), f"{n} records stored: a batch was cut"
    assert stored == set(ranked_ids[:n])
    return n


@dataclass(frozen=True)
class Reference:
    rows: list[dict[str, Any]]  # the queue file, without the fields that differ between runs
    store: dict[str, Any]  # snapshot() of its case store
    checkpoint: Path  # a copy of its checkpoint: every record scored and ranked


def until_store_phase(process: subprocess.Popen[bytes], partial: Path) -> bool:
    """Wait until the run (re)opens its partial queue file, right before its store phase; False if it
    ended first."""
    before = partial.stat().st_mtime_ns if partial.exists() else None
    while process.poll() is None:
        if partial.exists() and partial.stat().st_mtime_ns != before:
            return True
        time.sleep(0.005)
    return False


def start(
    args: list[str], crash_at: str | None = None, slow_at: str | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, env=environment(crash_at, slow_at), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


@pytest.fixture(scope="module")
def reference(
    params: Path, warc: Path, exported_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Reference:
    """A run that stops after its last write (finish_run) and before deleting its checkpoint.

    Its queue file and case store are an uninterrupted run's; its checkpoint lets the tests of the
    store phase start there instead of scoring every page again (it becomes their run's checkpoint).
    """
    folder = tmp_path_factory.mktemp("reference")
    out = folder / "queue.jsonl"
    args = command(params, warc, exported_model, out, folder / "runs")
    process = start(args, crash_at="score.run_finished")
    assert until_store_phase(process, folder / ".queue.partial.jsonl")
    assert process.wait() == KILLED
    template = folder / "scored.sqlite"
    with (
        closing(sqlite3.connect(checkpoint_path(args))) as source,
        closing(sqlite3.connect(template)) as copy,
    ):
        source.backup(copy)  # the WAL's committed pages included
        # as a run killed right after scoring leaves it: nothing of the store phase is in it yet
        copy.execute("DELETE FROM meta WHERE name NOT IN ('run_id', 'started_at')")
        copy.commit()
    state = snapshot(f"sqlite:///{out.with_suffix('.db')}")
    assert len(state["scores"]) == PAGES and state["runs"][0]["finished_at"] is not None
    return Reference(rows(out), state, template)


def assert_as_reference(url: str, out: Path, checkpoints: Path, reference: Reference) -> None:
    assert rows(out) == reference.rows
    assert not list(out.parent.glob(".*partial*")), "a stray partial queue file"
    assert not list(checkpoints.glob("*.sqlite")), "a finished run leaves no checkpoint"
    state = snapshot(url)
    assert state["cases"] == reference.store["cases"]
    assert state["scores"] == reference.store["scores"]
    [got], [expected] = state["runs"], reference.store["runs"]
    assert got["finished_at"] is not None
    for name in ("records", "new_cases", "positives", "status", "clusters"):
        assert got["summary"][name] == expected["summary"][name], name


def prepared_run(params: Path, warc: Path, model: Path, folder: Path, url: str, ref: Reference) -> list[str]:
    """The command, its checkpoint already holding every record scored: it starts at the store phase."""
    args = command(params, warc, model, folder / "queue.jsonl", folder / "runs", db=url)
    path = checkpoint_path(args)
    path.parent.mkdir()
    shutil.copy(ref.checkpoint, path)
    return args


# -- the tests ----------------------------------------------------------------------------------
def test_killed_while_checkpointing(
    params: Path, warc: Path, exported_model: Path, reference: Reference, db_url: str, tmp_path: Path
) -> None:
    out, checkpoints = tmp_path / "queue.jsonl", tmp_path / "runs"
    args = command(params, warc, exported_model, out, checkpoints, db=db_url)
    killed = run(args, crash_at="checkpoint.add_chunk:3")  # mid-transaction of the third chunk
    assert killed.returncode == KILLED, killed.stderr
    assert not out.exists()

    finished = run(args)
    assert finished.returncode == 0, finished.stderr
    assert f"resumed a killed run after {2 * CHUNK} committed records" in finished.stdout
    assert_as_reference(db_url, out, checkpoints, reference)


STORE_PHASE = {  # crash point: (records in the store, queue file there) when it kills
    "store.add_scored:2": (CHUNK, False),  # mid-transaction of batch 2: its cases written, their scores not
    "score.store_batch:3": (3 * CHUNK, False),  # between batches 3 and 4
    "score.queue_replaced": (PAGES, True),  # every output written, the run not finished
    "score.run_finished": (PAGES, True),  # the run finished, its checkpoint not yet deleted
}


@pytest.mark.parametrize(("crash_at", "left"), list(STORE_PHASE.items()), ids=list(STORE_PHASE))
def test_killed_while_writing_the_store(
    crash_at: str,
    left: tuple[int, bool],
    params: Path,
    warc: Path,
    exported_model: Path,
    reference: Reference,
    db_url: str,
    tmp_path: Path,
) -> None:
    args = prepared_run(params, warc, exported_model, tmp_path, db_url, reference)
    killed = run(args, crash_at=crash_at)
    assert killed.returncode == KILLED, killed.stderr
    resumed = f"resuming run {reference.store['runs'][0]['run_id']}" in killed.stderr
    assert resumed, "the prepared checkpoint was not resumed: does checkpoint_path() match the CLI?"
    stored = assert_whole_batches(snapshot(db_url), [row["id"] for row in reference.rows])
    assert (stored, (tmp_path / "queue.jsonl").exists()) == left

    finished = run(args)
    assert finished.returncode == 0, finished.stderr
    assert_as_reference(db_url, tmp_path / "queue.jsonl", tmp_path / "runs", reference)


def test_killed_at_random_moments_while_writing_the_store(
    params: Path, warc: Path, exported_model: Path, reference: Reference, db_url: str, tmp_path: Path
) -> None:
    args = prepared_run(params, warc, exported_model, tmp_path, db_url, reference)
    partial = tmp_path / ".queue.partial.jsonl"
    rng = random.Random(3)
    # each store batch is followed by a pause, so the store phase lasts at least BATCHES * PAUSE seconds
    # on any machine, and a kill within the first 80% of that certainly finds the run still writing
    pause, batches = 0.5, PAGES // CHUNK
    for _ in range(2):
        process = start(args, crash_at="score.run_finished", slow_at=f"score.store_batch={pause}")
        assert until_store_phase(process, partial)
        time.sleep(rng.uniform(0, 0.8 * batches * pause))
        assert process.poll() is None, "the run ended before the kill"
        process.kill()
        assert process.wait(timeout=600) == KILLED
        assert_whole_batches(snapshot(db_url), [row["id"] for row in reference.rows])

    finished = run(args)
    assert finished.returncode == 0, finished.stderr
    assert_as_reference(db_url, tmp_path / "queue.jsonl", tmp_path / "runs", reference)


DECIDE = """
import sys
from classifier.queue import CaseStore
with CaseStore(sys.argv[1]) as store:
    store.record_decision(int(sys.argv[2]), "confirmed", "bob", expected_version=1)
"""


def decision_state(store: CaseStore, case_id: int) -> tuple[Any, ...]:
    case = store.case(case_id)
    assert case is not None
    decisions = [(d["decision"], d["expert"]) for d in case["decisions"]]
    audit = [(a["actor"], a["action"], a["case_id"]) for a in store.audit_log()]
    return case["version"], case["status"], decisions, audit


def test_killed_while_recording_a_decision(db_url: str) -> None:
    with CaseStore(db_url) as store:
        store.start_run("run-1", model_name="m", model_version="1")
        row = {"id": "r1", "run_id": "run-1", "url": "https://shop.example/1", "score": 0.9, "label": 1}
        store.add_scored([row | {"status": "ok", "scored_at": "2026-01-01T00:00:00+00:00"}])
        case_id = store.cases()[0]["id"]
        store.record_decision(case_id, "unsure", "ann", expected_version=0)
        before = decision_state(store, case_id)
    decide = [sys.executable, "-c", DECIDE, db_url, str(case_id)]
    killed = subprocess.run(decide, env=environment("store.record_decision"), timeout=600)
    assert killed.returncode == KILLED

    with CaseStore(db_url) as store:
        assert decision_state(store, case_id) == before  # none of the killed decision
        store.record_decision(case_id, "confirmed", "bob", expected_version=1)
        version, status, decisions, audit = decision_state(store, case_id)
    assert (version, status) == (2, "confirmed")
    assert decisions == [("unsure", "ann"), ("confirmed", "bob")]
    assert audit == [("bob", "decision", case_id), ("ann", "decision", case_id)]
    snapshot(db_url)  # consistent, and on SQLite intact


def test_crash_point_names_a_point_and_its_count() -> None:
    from classifier.common.faults import _target

    assert _target("") is None
    assert _target("store.add_scored") == ("store.add_scored", 1)
    assert _target("store.add_scored:3") == ("store.add_scored", 3)
    with pytest.raises(ValueError, match="NAME:N"):
        _target("store.add_scored:x")
