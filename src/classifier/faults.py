"""Fault injection for tests: named crash points where a test can SIGKILL the process on purpose.

As in SQLite's crash tests, the code marks the places where a kill hurts most (mid-transaction, between
two writes that belong together) with ``crash_point(name)``. ``CLASSIFIER_CRASH_AT=name`` kills the
process with SIGKILL the first time it reaches that point, ``name:N`` the Nth time;
``tests/test_crash_safety.py`` then starts the same command again and checks that nothing is lost or
duplicated. Never set it in production. Unset, a crash point costs one comparison: the variable is read
once, at import.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "CLASSIFIER_CRASH_AT"


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
