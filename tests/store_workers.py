"""Two processes with a case store each, calling it at the same moment: the concurrency tests' writers.

A module of its own, light to import: each worker is a spawned interpreter that imports it (the test
module imports the web app, whose text tools take seconds to import).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

from sqlalchemy import Engine, event

from classifier.queue import CaseStore, StaleCaseError


class Outcome(NamedTuple):
    worker: int
    kind: str  # "ok", "stale" (StaleCaseError) or "error" (anything else)
    value: Any  # the return value, or the error's message
    started: float  # time.monotonic() (system-wide on Linux) around the call
    ended: float


def hold_after(after: str, seconds: float, until: Callable[[], Any]) -> Callable[..., None]:
    """An engine listener that keeps the transaction open after statements starting with ``after``: until
    ``until()`` returns (it waits for the other writer to have started its call: the two calls overlap
    whatever the machine's speed), then ``seconds`` more, for the other writer to reach the lock."""

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith(after):
            until()
            time.sleep(seconds)

    return listener


def _serve(worker: int, barrier: Any, entered: list[Any], jobs: Any, results: Any) -> None:
    """A worker process: closes its store when told; for every other job (opening a store, or calling
    the open one), waits for the other worker at the barrier, then tells it (``entered``) and acts."""
    store: CaseStore | None = None
    while (job := jobs.get()) is not None:
        method, args, kwargs, hold = job
        if method in ("open", "close") and store is not None:
            store.close()
            store = None
        if method == "close":
            results.put(Outcome(worker, "ok", None, 0.0, 0.0))
            continue
        assert store is not None or method == "open", "open a store first"
        # opening a store creates its engine, so a hold for "open" listens on every engine of the process
        target = Engine if method == "open" else store.engine  # type: ignore[union-attr]
        listener = hold_after(*hold, until=partial(entered[1 - worker].wait, timeout=60)) if hold else None
        if listener:
            event.listen(target, "after_cursor_execute", listener)
        entered[worker].clear()  # before the barrier, which the other passes only after it
        barrier.wait(timeout=60)
        started = time.monotonic()
        entered[worker].set()
        try:
            if method == "open":
                kind, value, store = "ok", None, CaseStore(*args, **kwargs)
            else:
                kind, value = "ok", getattr(store, method)(*args, **kwargs)
        except StaleCaseError as exc:
            kind, value = "stale", str(exc)
        except Exception as exc:  # reported to the test, which fails on it
            kind, value = "error", f"{type(exc).__name__}: {exc}"
        results.put(Outcome(worker, kind, value, started, time.monotonic()))
        if listener:
            event.remove(target, "after_cursor_execute", listener)
    if store is not None:
        store.close()


class Workers:
    """Two store processes (started once: each takes seconds to import the store) released together by a
    barrier for each pair of calls."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # nothing inherited: no engine, no pool, no lock
        self.barrier = context.Barrier(2)
        self.entered = [context.Event(), context.Event()]
        self.jobs = [context.Queue(), context.Queue()]
        self.results = context.Queue()
        self.processes = [
            context.Process(
                target=_serve, args=(i, self.barrier, self.entered, self.jobs[i], self.results), daemon=True
            )
            for i in range(2)
        ]
        for process in self.processes:
            process.start()

    def _send(self, jobs: list[tuple]) -> list[Outcome]:
        for queue, job in zip(self.jobs, jobs, strict=True):
            queue.put(job)
        return sorted((self.results.get(timeout=120) for _ in self.jobs), key=lambda o: o.worker)

    def open(self, url: str, hold: tuple | None = None) -> list[Outcome]:
        """Each worker opens a store of its own on ``url``, both at once; outcomes by worker.

        ``hold``: as for :meth:`call`, in the worker that reaches the statement first.
        """
        return self._send([("open", (url,), {}, hold)] * 2)

    def release(self) -> None:
        """Each worker closes its store: its database can be dropped."""
        self._send([("close", (), {}, None)] * 2)

    def call(self, method: str, args: list[tuple], kwargs: list[dict], hold: tuple | None) -> list[Outcome]:
        """``method`` in both workers at once, with each worker's arguments; outcomes by worker.

        ``hold``: (statement prefix, seconds): after that statement, inside the transaction, wait until the
        other worker has started its call, then sleep ``seconds``.
        """
        return self._send([(method, a, k, hold) for a, k in zip(args, kwargs, strict=True)])

    def close(self) -> None:
        for queue in self.jobs:
            queue.put(None)
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
