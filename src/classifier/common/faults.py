"""Fault injection for tests: named points where a test kills the process, or makes it slow, on purpose.

Crash points. As in SQLite's crash tests, the code marks the places where a kill hurts most (mid-transaction, between
two writes that belong together) with ``crash_point(name)``. ``CLASSIFIER_CRASH_AT=name`` kills the
process with SIGKILL the first time it reaches that point, ``name:N`` the Nth time;
``tests/test_crash_safety.py`` then starts the same command again and checks that nothing is lost or
duplicated. Never set it in production. Unset, a crash point costs one comparison: the variable is read
once, at import.

Slow points. ``slow_point(name, key)`` marks a place whose duration a time limit must bound (a page's
extraction, a batch of the store phase). ``CLASSIFIER_SLOW_AT=name=SECONDS`` makes it sleep that long,
``name@PART=SECONDS`` only where its key (a page's URL) contains PART; several are separated by commas.
A test of a time limit then meets something slow by construction, whatever the machine's speed, instead
of a page that happens to be slow on one machine. The variable is read at each call, so a test can set
it after import and worker processes see it; unset, a slow point costs one dictionary look-up.
"""

from __future__ import annotations

import os
import signal
import time
from functools import cache

CRASH_ENV = "CLASSIFIER_CRASH_AT"
SLOW_ENV = "CLASSIFIER_SLOW_AT"


def _target(value: str) -> tuple[str, int] | None:
    if not value:
        return None
    name, _, nth = value.partition(":")
    if nth and not (nth.isdigit() and int(nth) >= 1):  # a typo must not silently disable a test's crash
        raise ValueError(f"{CRASH_ENV}={value!r}: expected NAME or NAME:N with N >= 1")
    return name, int(nth or 1)


_TARGET = _target(os.environ.get(CRASH_ENV, ""))
_reached = 0


def crash_point(name: str) -> None:
    """SIGKILL this process here if ``CLASSIFIER_CRASH_AT`` names this point (and this is its Nth time)."""
    global _reached
    if _TARGET is None or name != _TARGET[0]:
        return
    _reached += 1
    if _reached == _TARGET[1]:
        os.kill(os.getpid(), signal.SIGKILL)


@cache
def _slow_targets(value: str) -> dict[str, list[tuple[str, float]]]:
    targets: dict[str, list[tuple[str, float]]] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        where, _, seconds = item.rpartition("=")
        name, _, part = where.partition("@")
        try:
            delay = float(seconds)
        except ValueError:
            delay = -1.0
        if not name or not delay >= 0:  # a typo must not silently disable a test's slow page
            raise ValueError(
                f"{SLOW_ENV}={value!r}: expected NAME=SECONDS or NAME@PART=SECONDS, comma-separated"
            )
        targets.setdefault(name, []).append((part, delay))
    return targets


def slow_point(name: str, key: str = "") -> None:
    """Sleep here if ``CLASSIFIER_SLOW_AT`` names this point (and a part of ``key``, if it gives one)."""
    value = os.environ.get(SLOW_ENV)
    if not value:
        return
    for part, seconds in _slow_targets(value).get(name, ()):
        if part in key:
            time.sleep(seconds)  # a signal (the page time limit's SIGALRM) interrupts it
            return
