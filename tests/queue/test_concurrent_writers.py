"""Concurrent writers on one case store, on SQLite and PostgreSQL (``tests/databases.py``):

- two processes opening a new store at the same moment: its tables are created once, neither fails;
- two experts deciding the same case at the same moment, each from a page showing the same version:
  exactly one decision is stored, the other expert gets a clear refusal (the store's
  :class:`StaleCaseError`), nothing is lost;
- two scoring batches creating the same new cases at once: no error, one case per resource, every
  report in the case's history, and the case shows the newest report whichever batch committed first.

The tests run two processes (``tests/store_workers.py``), each with its own :class:`CaseStore` (a
deployment has several: the scoring run, the web app's workers; SQLite's locks are per process), released
together by a barrier right before the call. In half of the rounds the writer that gets there first holds
its transaction open after the contested statement until the other has started its call, and a moment
more for it to meet the lock: those calls overlap on any machine, however fast or slow. In the other half
the timing is left to the race. Two experts deciding in the web app at once: ``tests/test_concurrency.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, inspect, select

from classifier.queue import CaseStore
from classifier.queue.migrate import current_revision, head_revision
from classifier.queue.schema import audit_table, cases_table, decisions_table, metadata, scores_table
from databases import fresh_database
from store_workers import Outcome, Workers

ROUNDS = 20
HOLD = 0.1  # seconds a writer keeps its transaction open, in held rounds, once the other has started
BUMP = "UPDATE cases SET version"  # record_decision's first statement: it takes the case's row lock
CREATE = "INSERT INTO cases"  # add_scored's statement that creates the new cases
STAMP = "INSERT INTO alembic_version"  # a new store's first revision is created, the others not yet


# -- two processes calling the store at the same moment --


@pytest.fixture(scope="module")
def pool() -> Iterator[Workers]:
    pool = Workers()
    yield pool
    pool.close()


@pytest.fixture()
def workers(pool: Workers, store: CaseStore, db_url: str) -> Iterator[Workers]:
    assert [o.kind for o in pool.open(db_url)] == ["ok", "ok"]
    yield pool
    pool.release()  # before the database is dropped


def scored(record_id: str, url: str, run_id: str, scored_at: str, score: float) -> dict[str, Any]:
    return {
        "id": record_id,
        "url": url,
        "domain": url.split("/")[2],
        "title": f"title {record_id}",
        "excerpt": f"excerpt {record_id}",
        "score": score,
        "label": 1,
        "category": "sale",
        "priority": score,
        "language": "ru",
        "cluster_id": f"c-{url}",
        "model_name": "drug-ad-classifier",
        "model_version": run_id,
        "run_id": run_id,
        "scored_at": scored_at,
        "status": "ok",
    }


def overlapping(first: Outcome, second: Outcome) -> bool:
    return first.started < second.ended and second.started < first.ended


def test_two_processes_opening_a_new_store_at_once_create_it_once(
    pool: Workers, backend: str, tmp_path: Path
) -> None:
    """Both open the same empty database at once (a scoring run and the review app started together):
    one creates the tables while the other waits for it, then finds nothing left to do."""
    rounds, overlapped = 6, 0
    for i in range(rounds):
        with fresh_database(backend, tmp_path, f"new{i}") as url:
            outcomes = pool.open(url, (STAMP, HOLD) if i % 2 else None)
            pool.release()
            assert [o.kind for o in outcomes] == ["ok", "ok"], outcomes
            overlapped += overlapping(*outcomes)
            with CaseStore(url) as store, store.engine.connect() as conn:
                assert current_revision(conn) == head_revision()
                assert set(inspect(conn).get_table_names()) == {*metadata.tables, "alembic_version"}
    assert overlapped >= rounds // 2, overlapped  # every held round


def test_two_experts_deciding_the_same_case_at_once_one_wins_the_other_is_told(
    workers: Workers, store: CaseStore
) -> None:
    urls = [f"https://shop{i}.example/" for i in range(ROUNDS)]
    store.add_scored(
        [scored(f"r{i}", url, "run-1", "2024-05-01T10:00:00Z", 0.9) for i, url in enumerate(urls)]
    )
    case_ids = {c["url"]: c["id"] for c in store.cases(limit=ROUNDS)}
    overlapped = 0
    for i, url in enumerate(urls):
        case_id = case_ids[url]
        outcomes = workers.call(
            "record_decision",
            [(case_id, "confirmed", "boris", "магазин"), (case_id, "rejected", "vera", "новости")],
            [{"expected_version": 0, "shown": {"score": "0.9"}}] * 2,
            (BUMP, HOLD) if i % 2 else None,
        )
        assert sorted(o.kind for o in outcomes) == ["ok", "stale"], outcomes
        winner, loser = sorted(outcomes, key=lambda o: o.kind)
        overlapped += overlapping(winner, loser)
        winner_name, decision = ("boris", "confirmed") if winner.worker == 0 else ("vera", "rejected")
        assert winner.value["expert"] == winner_name and winner.value["version"] == 1
        # the refusal says what happened, who came first, and what to do
        assert loser.value == (
            f"case {case_id} was decided by {winner_name} ({decision}) while you were deciding: "
            "reload it and decide again"
        )
        case = store.case(case_id)
        assert case is not None
        assert (case["status"], case["version"]) == (decision, 1)  # bumped once
        assert [(d["expert"], d["decision"]) for d in case["decisions"]] == [(winner_name, decision)]
        audited = [e for e in store.audit_log(1000, action="decision") if e["case_id"] == case_id]
        assert [(e["actor"], e["detail"]["decision"]) for e in audited] == [(winner_name, decision)]
    # both workers were inside record_decision at once in every held round (and maybe in others): the
    # race was real, not two calls in turn
    assert overlapped >= ROUNDS // 2, overlapped
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(decisions_table)).scalar_one() == ROUNDS
        assert conn.execute(select(func.count()).select_from(audit_table)).scalar_one() == ROUNDS
        assert store.counts()["new"] == 0


@pytest.mark.parametrize("same_run", [False, True], ids=["two-runs", "one-run-twice"])
def test_two_scoring_batches_creating_the_same_cases_at_once(
    same_run: bool, workers: Workers, store: CaseStore
) -> None:
    """Two runs reporting the same new resources (or one run's batch sent twice, as by a resumed run
    racing its first attempt): every report lands once, in the history of the one case of its resource."""
    n, rounds, overlapped = 100, 6, 0
    for i in range(rounds):
        urls = [f"https://round{i}-site{j}.example/page" for j in range(n)]
        older = [scored(f"a{i}-{j}", url, "run-a", "2024-05-01T10:00:00Z", 0.3) for j, url in enumerate(urls)]
        newer = (
            older
            if same_run
            else [
                scored(f"b{i}-{j}", url, "run-b", "2024-05-02T10:00:00Z", 0.8) for j, url in enumerate(urls)
            ]
        )
        outcomes = workers.call(
            "add_scored", [(older,), (newer,)], [{}, {}], (CREATE, HOLD) if i % 2 else None
        )
        assert [o.kind for o in outcomes] == ["ok", "ok"], outcomes
        assert sum(o.value for o in outcomes) == (n if same_run else 2 * n)  # new score rows, none twice
        overlapped += overlapping(*outcomes)
        cases = [c for c in store.cases(limit=10_000) if c["url"] in set(urls)]
        assert sorted(c["url"] for c in cases) == sorted(urls)  # one case each
        for case in cases:
            assert case["report_count"] == (1 if same_run else 2), case
            assert case["first_seen"] == "2024-05-01T10:00:00+00:00"
            if not same_run:  # the newer report's values, whichever batch committed first
                assert (case["score"], case["last_run_id"]) == (0.8, "run-b"), case
                assert case["last_seen"] == "2024-05-02T10:00:00+00:00"
    assert overlapped >= rounds // 2, overlapped  # every held round
    with store.engine.connect() as conn:
        scores = conn.execute(select(func.count()).select_from(scores_table)).scalar_one()
        assert scores == rounds * n * (1 if same_run else 2)
        assert conn.execute(select(func.count()).select_from(cases_table)).scalar_one() == rounds * n
        assert sorted(r["run_id"] for r in store.runs()) == (["run-a"] if same_run else ["run-a", "run-b"])
