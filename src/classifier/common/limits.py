"""Time and memory bounds for hostile inputs: a per-page time limit and the run's peak memory.

The time limit is a ``SIGALRM`` timer, so it works only in a process's main thread: the main process
(``extract.n_jobs: 1``) and joblib's worker processes run pages there. In other threads (Dask workers
run tasks in threads) pages run without a hard limit. A signal is handled between Python bytecodes, so
it cannot stop a single long call into C code: the extractors are guarded against the inputs known to
cause those (deep nesting, see ``extract_fast``).
"""

from __future__ import annotations

import logging
import resource
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


class PageTimeout(BaseException):
    """Raised inside a page's extraction when its time is up. Not an Exception: the extractors'
    ``except Exception`` clauses must not swallow it."""


def _raise_timeout(signum: int, frame: object) -> None:
    raise PageTimeout


@contextmanager
def time_limit(seconds: float) -> Iterator[bool]:
    """Raise :class:`PageTimeout` in the block after ``seconds``; yields whether the limit is armed.

    No limit (yields False) when ``seconds`` <= 0, off the main thread, where there is no SIGALRM, or when
    an enclosing timer (pytest-timeout's, a caller's) fires first; an enclosing timer gets back what is
    left of its time afterwards.
    """
    on_main_thread = threading.current_thread() is threading.main_thread()
    if seconds <= 0 or not hasattr(signal, "setitimer") or not on_main_thread:
        yield False
        return
    outer, interval = signal.getitimer(signal.ITIMER_REAL)
    if 0 < outer <= seconds:
        yield False
        return
    previous = signal.signal(signal.SIGALRM, _raise_timeout)
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:
            left = max(outer - (time.monotonic() - started), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, interval)


def _kib_to_mb(value: float) -> float:
    # ru_maxrss is in KiB on Linux, in bytes on macOS
    return value / (1024 * 1024) if sys.platform == "darwin" else value / 1024


def _live_children_peak_kib() -> int:
    """The largest peak RSS (VmHWM) of this process's running children: joblib keeps its workers alive,
    so getrusage, which counts only children that have exited, does not see them. Linux only."""
    peak = 0
    for children in Path("/proc/self/task").glob("*/children"):
        try:
            pids = children.read_text().split()
        except OSError:
            continue
        for pid in pids:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
    return peak


def peak_rss_mb() -> float:
    """The peak resident memory of this process or of any one of its workers, in MB."""
    own = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return round(max(_kib_to_mb(own), _live_children_peak_kib() / 1024), 1)


def check_memory(budget_mb: float) -> float:
    """The peak RSS so far; a warning in the log when it is over ``budget_mb`` (0: no budget)."""
    peak = peak_rss_mb()
    if budget_mb > 0 and peak > budget_mb:
        log.warning(
            "peak memory %.0f MB is over the budget of %.0f MB (score.memory_budget_mb)", peak, budget_mb
        )
    return peak
