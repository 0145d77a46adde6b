"""Concurrent writers on one case store, on SQLite and PostgreSQL (``tests/databases.py``).

- two experts deciding the same case at the same moment, each from a page showing the same version:
  exactly one decision is stored, the other expert gets a clear refusal (the store's
  :class:`StaleCaseError`, the app's 409 page with the decision that came first), nothing is lost;
- two scoring batches creating the same new cases at once: no error, one case per resource, every
  report in the case's history, and the case shows the newest report whichever batch committed first.

The store-level tests run two processes (``store_workers.py``), each with its own :class:`CaseStore` (a
deployment has several: the scoring run, the web app's workers; SQLite's locks are per process), released
together by a barrier right before the call. The app-level test posts from two threads to two app
instances over one database. In half of the rounds the writer that gets there first holds its
transaction open after the contested statement until the other has started its call, and a moment more
for it to meet the lock: those calls overlap on any machine, however fast or slow. In the other half the
timing is left to the race.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from classifier.config import ReviewSettings
from classifier.queue import CaseStore
from classifier.queue import accounts as accounts_module
from classifier.queue.accounts import Accounts
from classifier.queue.schema import audit_table, cases_table, decisions_table, scores_table
from classifier.review.app import create_app
from classifier.review.security import SESSION_COOKIE
from databases import backend_params, fresh_database
from review_cases import populate
from store_workers import Outcome, Workers, hold_after

ROUNDS = 20
HOLD = 0.1  # seconds a writer keeps its transaction open, in held rounds, once the other has started
BUMP = "UPDATE cases SET version"  # record_decision's first statement: it takes the case's row lock
CREATE = "INSERT INTO cases"  # add_scored's statement that creates the new cases


@pytest.fixture(params=backend_params())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


# -- two processes calling the store at the same moment --


@pytest.fixture()
def store(db_url: str) -> Iterator[CaseStore]:
    """The test's own view of the store (it also creates the schema before the workers start)."""
    with CaseStore(db_url) as store:
        yield store


@pytest.fixture(scope="module")
def pool() -> Iterator[Workers]:
    pool = Workers()
    yield pool
    pool.close()


@pytest.fixture()
def workers(pool: Workers, store: CaseStore, db_url: str) -> Iterator[Workers]:
    pool.open(db_url)
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


# -- two experts in the web app --


@pytest.fixture()
def two_servers(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[dict[str, int], list[FastAPI], dict[str, str]]]:
    """Case ids, two apps over the store (two server processes would each have one), session tokens."""
    # sessions are opened directly, no password is checked: cheap hashes save seconds
    monkeypatch.setattr(
        accounts_module, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    ids = populate(db_url)
    with CaseStore(db_url) as store:
        accounts = Accounts(store)
        tokens = {
            u["username"]: accounts.start_session(u["id"], timedelta(days=1))[0] for u in accounts.users()
        }
    apps = [create_app(db_url, ReviewSettings()) for _ in range(2)]
    yield ids, apps, tokens
    for app in apps:
        app.state.store.close()


def test_two_experts_posting_decisions_on_one_case_at_once_get_one_redirect_and_one_409(
    two_servers: tuple[dict[str, int], list[FastAPI], dict[str, str]],
) -> None:
    ids, apps, tokens = two_servers
    experts = [("boris", "confirmed", "Нарушение подтверждено"), ("vera", "rejected", "Нарушения нет")]
    clients = []
    for (name, _, _), app in zip(experts, apps, strict=True):
        client = TestClient(app, follow_redirects=False)
        client.cookies.set(SESSION_COOKIE, tokens[name])
        clients.append(client)
    case_ids, overlapped = sorted(ids.values())[:10], 0
    for i, case_id in enumerate(case_ids):
        # in half of the rounds the first writer keeps its transaction open until the other has started
        entered = [threading.Event() for _ in apps]
        held = [
            (app.state.store.engine, hold_after(BUMP, HOLD, until=partial(entered[1 - k].wait, timeout=30)))
            for k, app in enumerate(apps)
        ]
        held = held if i % 2 else []
        for engine, listener in held:
            event.listen(engine, "after_cursor_execute", listener)
        forms = [hidden_inputs(c.get(f"/cases/{case_id}").text) for c in clients]
        assert [f["version"] for f in forms] == ["0", "0"]  # both pages show the same version
        posted = [
            {**form, "decision": decision, "comment": f"решение {name}"}
            for form, (name, decision, _) in zip(forms, experts, strict=True)
        ]
        responses, times = post_at_once(clients, f"/cases/{case_id}/decision", posted, entered)
        overlapped += times[0][0] < times[1][1] and times[1][0] < times[0][1]
        for engine, listener in held:
            event.remove(engine, "after_cursor_execute", listener)
        statuses = [r.status_code for r in responses]
        assert sorted(statuses) == [303, 409], statuses
        winner, loser = (0, 1) if statuses[0] == 303 else (1, 0)
        assert responses[winner].headers["location"] == f"/cases/{case_id}?saved=1"
        page = responses[loser].text
        # the loser is told that someone else decided first, and sees that decision
        assert "другой эксперт вынес решение" in page
        name, decision, label = experts[winner]
        assert f"<strong>{name}</strong>: {label}" in page
        assert hidden_inputs(page)["version"] == "1"  # the expert can decide again from this page
        store = apps[0].state.store
        case = store.case(case_id)
        assert case is not None and (case["status"], case["version"]) == (decision, 1)
        assert [d["expert"] for d in case["decisions"]] == [name]
        assert [e["actor"] for e in store.audit_log(1000, action="decision") if e["case_id"] == case_id] == [
            name
        ]
    assert overlapped >= len(case_ids) // 2, overlapped  # at least the held rounds ran at the same time


def hidden_inputs(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))


def post_at_once(
    clients: list[TestClient], path: str, forms: list[dict[str, str]], entered: list[threading.Event]
) -> tuple[list[Any], list[tuple[float, float]]]:
    """Each client posts its form from a thread of its own, the threads released together by a barrier,
    each setting its ``entered`` event as it starts; the responses, and when each request started and
    ended."""
    barrier = threading.Barrier(len(clients))
    responses: list[Any] = [None] * len(clients)
    times: list[tuple[float, float]] = [(0.0, 0.0)] * len(clients)

    def post(k: int) -> None:
        barrier.wait(timeout=30)
        started = time.monotonic()
        entered[k].set()
        responses[k] = clients[k].post(path, data=forms[k])
        times[k] = (started, time.monotonic())

    threads = [threading.Thread(target=post, args=(k,)) for k in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses, times
