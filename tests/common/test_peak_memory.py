"""A step's peak memory is its own: what an earlier step of the same process used does not count."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="resetting peaks needs Linux's /proc"
)

PROGRAM = """
import multiprocessing
from classifier.common.limits import peak_rss_mb, restart_peak_rss

def use(megabytes):
    block = bytearray(megabytes * 1024 * 1024)
    block[:: 4096] = b"x" * len(block[:: 4096])  # touch every page: resident, not just reserved

if __name__ == "__main__":
    use(400)  # an earlier step in this process
    worker = multiprocessing.get_context("fork").Process(target=use, args=(300,))
    worker.start(); worker.join()  # and in a child that exited
    before = peak_rss_mb()
    restart_peak_rss()
    after = peak_rss_mb()
    use(150)  # this step
    during = peak_rss_mb()
    worker = multiprocessing.get_context("fork").Process(target=use, args=(450,))
    worker.start(); worker.join()  # a child of this step that used more than the earlier one
    print(before, after, during, peak_rss_mb())
"""


def test_a_restart_forgets_earlier_peaks_of_the_process_and_of_exited_children() -> None:
    printed = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True
    ).stdout
    before, after, during, with_child = map(float, printed.split())
    assert before > 400  # the earlier step counted until the restart
    assert after < 300  # neither it nor the exited child counts after
    assert 150 <= during < before  # the step's own use does
    assert with_child >= 450  # and so does a child of its own that exited
