"""Hypothesis profiles and a hang guard for the fuzz tests (``tests/test_fuzz.py``).

Profiles, chosen by ``HYPOTHESIS_PROFILE``, else ``ci`` when ``CI`` is set, else ``dev``:

* ``ci``: each test's own bounded number of examples, derandomized and without an example database,
  so every CI run tries the same inputs and a failure reproduces anywhere;
* ``dev``: twice as many random examples, failures kept in ``.hypothesis/`` and replayed first;
* ``deep``: 20 times as many, for local fuzzing runs (``HYPOTHESIS_PROFILE=deep``).

They are registered as ``fuzz-ci``, ``fuzz-dev`` and ``fuzz-deep`` and applied per test by :func:`fuzz`,
never loaded: hypothesis loads its own ``ci`` profile for the whole session when ``CI`` is set, and
registering a profile of that name would change every other hypothesis test of the suite too.
"""

from __future__ import annotations

import functools
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

# No deadline: a slow example is no failure (speed is measured by the benchmarks, and a test must pass on
# a machine ten times slower). An example still running after HANG_SECONDS (examples take well under a
# second here) is a hang: it is stopped and reported with its input.
DEADLINE_MS = None
HANG_SECONDS = 120
# Whole-test time limit, per unit of profile scale: the backstop for a hang in C code, where the
# hang guard's signal is never handled (pytest-timeout's thread method ends the run instead). It
# leaves room for shrinking a failure, which hypothesis gives up after five minutes.
TEST_TIMEOUT_SECONDS = 600

SCALE = {"ci": 1, "dev": 2, "deep": 20}
# No explain phase: on Python < 3.12 it traces every line, which made shrinking one failure take minutes.
PHASES = tuple(p for p in Phase if p is not Phase.explain)
settings.register_profile(
    "fuzz-ci", derandomize=True, database=None, deadline=DEADLINE_MS, phases=PHASES, print_blob=True
)
settings.register_profile("fuzz-dev", deadline=DEADLINE_MS, phases=PHASES)
settings.register_profile("fuzz-deep", deadline=DEADLINE_MS, phases=PHASES)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
if PROFILE not in SCALE:
    raise ValueError(f"HYPOTHESIS_PROFILE for the fuzz tests must be one of {sorted(SCALE)}, not {PROFILE!r}")


class Hang(BaseException):
    """An example ran past ``HANG_SECONDS``. Not an ``Exception``: hypothesis would shrink it, and every
    shrinking step could hang as long again; this one ends the test at once, naming the input."""


@contextmanager
def no_hang(inputs: Any, seconds: float = HANG_SECONDS) -> Iterator[None]:
    def alarm(signum: int, frame: Any) -> None:
        shown = repr(inputs)
        shown = shown if len(shown) <= 2000 else f"{shown[:2000]}... ({len(shown)} characters)"
        raise Hang(f"no result after {seconds} s for {shown}")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def fuzz(examples: int, suppress: tuple[HealthCheck, ...] = ()) -> Callable[[Any], Any]:
    """Decorate a ``@given`` test: ``examples`` examples in CI (scaled by the profile), the profile's
    deadline, a hang guard around every example and a whole-test timeout."""
    scale = SCALE[PROFILE]

    def decorate(test: Any) -> Any:
        inner = test.hypothesis.inner_test

        @functools.wraps(inner)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            with no_hang(kwargs or args):
                return inner(*args, **kwargs)

        test.hypothesis.inner_test = guarded  # hypothesis' documented hook for wrapping each example
        test = settings(
            settings.get_profile(f"fuzz-{PROFILE}"),
            max_examples=examples * scale,
            suppress_health_check=suppress,
        )(test)
        # the thread method: pytest-timeout's signal method would share SIGALRM with the hang guard
        return pytest.mark.timeout(TEST_TIMEOUT_SECONDS * scale, method="thread")(test)

    return decorate
