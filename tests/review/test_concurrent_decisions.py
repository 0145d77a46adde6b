"""Two experts deciding the same case at the same moment in the web app, on SQLite and PostgreSQL
(``tests/databases.py``): each posts from a page showing the same version, one gets the redirect, the
other the 409 page with the decision that came first; nothing is lost.

The test posts from two threads to two app instances over one database (two server processes would each
have one). In half of the rounds the writer that gets there first holds its transaction open after the
contested statement until the other has started its call, and a moment more for it to meet the lock:
those calls overlap on any machine, however fast or slow. In the other half the timing is left to the
race. The store's own concurrent writers are tested in ``tests/queue/test_concurrent_writers.py``.
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
from sqlalchemy import event

from classifier.common.config import ReviewSettings
from classifier.queue import CaseStore
from classifier.queue import accounts as accounts_module
from classifier.queue.accounts import Accounts
from classifier.review.app import create_app
from classifier.review.security import SESSION_COOKIE
from databases import backend_params, fresh_database
from review.cases import TEST_HOSTS, populate
from store_workers import hold_after

ROUNDS = 20
HOLD = 0.1  # seconds a writer keeps its transaction open, in held rounds, once the other has started
BUMP = "UPDATE cases SET version"  # record_decision's first statement: it takes the case's row lock


@pytest.fixture(params=backend_params())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


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
    apps = [create_app(db_url, ReviewSettings(allowed_hosts=TEST_HOSTS)) for _ in range(2)]
    yield ids, apps, tokens
    for app in apps:
        app.state.store.close()


def test_two_experts_posting_decisions_on_one_case_at_once_get_one_redirect_and_one_409(
    two_servers: tuple[dict[str, int], list[FastAPI], dict[str, str]],
) -> None:
    ids, apps, tokens = two_servers
    experts = [("boris", "confirmed", "нарушение подтверждено"), ("vera", "rejected", "нарушения нет")]
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
            {**form, "decision": decision, "category": "sale", "comment": f"решение {name}"}
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
