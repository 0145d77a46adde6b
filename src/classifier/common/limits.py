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


_exited_children_peak_at_restart: int | None = None


def _live_children() -> Iterator[str]:
    for children in Path("/proc/self/task").glob("*/children"):
        try:
            yield from children.read_text().split()
        except OSError:
            continue


def restart_peak_rss() -> None:
    """Measure peaks from now on, so that a step reports its own and not an earlier step's in the same
    process (the demo trains, then scores). Linux resets the high-water marks of this process and its
    live workers (``/proc/PID/clear_refs``); children that already exited keep theirs, so their
    maximum counts again only if a later child exceeds it. Elsewhere peaks stay since the start."""
    global _exited_children_peak_at_restart
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return
    for pid in _live_children():
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            continue  # a worker that just exited
    _exited_children_peak_at_restart = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def _high_water_kib(pid: str) -> int | None:
    """A process's peak RSS (VmHWM) in KiB, or None where /proc does not say (another system, or gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def _live_children_peak_kib() -> int:
    """The largest peak RSS of this process's running children: joblib keeps its workers alive, so
    getrusage, which counts only children that have exited, does not see them. Linux only."""
    return max((_high_water_kib(pid) or 0 for pid in _live_children()), default=0)


def peak_rss_mb() -> float:
    """The peak resident memory of this process or of any one of its workers, in MB (since
    :func:`restart_peak_rss`, where the system allows)."""
    exited = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if exited == _exited_children_peak_at_restart:
        exited = 0  # no child that exited since the restart used more than the earlier ones
    # VmHWM, not getrusage's own maximum, which also keeps the peak of the process this one was exec'd
    # from (a large parent's) and of any of its threads that exited, and which no restart clears
    own = _high_water_kib("self")
    own_mb = _kib_to_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) if own is None else own / 1024
    return round(max(own_mb, _kib_to_mb(exited), _live_children_peak_kib() / 1024), 1)


def check_memory(budget_mb: float) -> float:
    """The peak RSS so far; a warning in the log when it is over ``budget_mb`` (0: no budget)."""
    peak = peak_rss_mb()
    if budget_mb > 0 and peak > budget_mb:
        log.warning(
            "peak memory %.0f MB is over the budget of %.0f MB (score.memory_budget_mb)", peak, budget_mb
        )
    return peak
