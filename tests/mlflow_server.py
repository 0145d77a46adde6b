"""A real ``mlflow server`` process for integration tests, on a free loopback port.

The server runs in its own session (process group) so that stopping it also stops the uvicorn
workers it forks; its output goes to a log file that is shown when it fails to come up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STARTUP_TIMEOUT = 600.0  # a bound for a hang, not for speed: cold imports take ~30 s on a loaded machine
SHUTDOWN_TIMEOUT = 60.0


def free_port() -> int:
    """A port the OS reports free on 127.0.0.1 (another process could still take it; rare)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_command(directory: Path, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{directory / 'mlflow.db'}",
        "--serve-artifacts",
        "--artifacts-destination",
        str(directory / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]


def _is_healthy(uri: str) -> bool:
    try:
        with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _wait_until_healthy(process: subprocess.Popen, uri: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {process.returncode}:\n{log.read_text()}")
        if _is_healthy(uri):
            return
        time.sleep(0.25)
    raise RuntimeError(f"mlflow server not healthy after {timeout:.0f} s:\n{log.read_text()}")


def _signal_group(process: subprocess.Popen, sig: int) -> bool:
    """Send ``sig`` to the server's process group; False when the group no longer exists."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return False
    return True


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the whole group, wait for it to go, then SIGKILL any straggler."""
    _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + SHUTDOWN_TIMEOUT
    # Signal 0 only probes; process.poll() reaps the leader so that it stops counting as alive.
    while process.poll() is None or _signal_group(process, 0):
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    _signal_group(process, signal.SIGKILL)
    process.wait()


@contextmanager
def running_mlflow_server(directory: Path, timeout: float = STARTUP_TIMEOUT) -> Iterator[str]:
    """Start ``mlflow server`` with its store and artifacts in ``directory``; yield its http URI."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    log = directory / "server.log"
    # No telemetry from tests, no tracking URI inherited from the caller's environment, and no
    # background job runner (seven huey processes that serve GenAI jobs, not tracking or registry).
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    with log.open("wb") as output:
        process = subprocess.Popen(
            server_command(directory, port),
            cwd=directory,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_healthy(process, uri, log, timeout)
        yield uri
    finally:
        _stop(process)
