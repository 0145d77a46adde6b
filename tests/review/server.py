"""A real ``classifier review`` server over a small test case store, for the browser tests.

The store is filled by ``review.cases.populate``; one more account is added through the real
``classifier users add`` command, so that the tests also cover accounts made the way admins make them.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from review.cases import populate

STARTUP_TIMEOUT = 300.0  # bounds for a hang, not for speed: it starts in a few seconds
SHUTDOWN_TIMEOUT = 60.0
CLI_USER = ("dina", "dina-password-4", "admin")  # name, password, role: made by `classifier users add`

# loopback only, whatever http_proxy the environment sets
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class ReviewServer:
    base_url: str
    db_url: str
    ids: dict[str, int]  # case ids by record id, from populate()

    def url(self, path: str) -> str:
        return self.base_url + path


def classifier_command() -> list[str]:
    """The ``classifier`` console script next to this interpreter (``classifier = classifier.cli:run``)."""
    script = Path(sys.executable).parent / "classifier"
    if script.exists():
        return [str(script)]
    # classifier/cli has no ``if __name__ == "__main__"``: ``python -m classifier.cli`` would do nothing
    return [sys.executable, "-c", "from classifier.cli import run; run()"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def add_cli_user(db_url: str, cwd: Path) -> None:
    name, password, role = CLI_USER
    result = subprocess.run(
        [*classifier_command(), "users", "add", name, "--role", role, "--password-stdin", "--db", db_url],
        input=password + "\n",
        text=True,
        capture_output=True,
        cwd=cwd,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"classifier users add exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )


def _healthy(base_url: str) -> bool:
    try:
        with _LOCAL.open(f"{base_url}/healthz", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _wait_until_healthy(process: subprocess.Popen, base_url: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"classifier review exited with {process.returncode}:\n{log.read_text()}")
        if _healthy(base_url):
            return
        time.sleep(0.1)
    raise RuntimeError(f"classifier review not answering /healthz after {timeout:.0f} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=SHUTDOWN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_review_server(
    directory: Path, db_url: str | None = None, timeout: float = STARTUP_TIMEOUT, review: str = ""
) -> Iterator[ReviewServer]:
    """The test store (at ``db_url``, default a SQLite file in ``directory``), an account added by the
    CLI, and ``classifier review`` serving it; ``review``: the ``review:`` section of its params file
    (YAML lines, indented), as an admin would set it."""
    directory.mkdir(parents=True, exist_ok=True)
    db_url = db_url or f"sqlite:///{directory / 'queue.db'}"
    ids = populate(db_url)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    params: tuple[str, ...] = ()  # the project's params.yaml
    if review:
        (directory / "params.yaml").write_text(f"review:\n{review}\n", encoding="utf-8")
        params = ("--params", str(directory / "params.yaml"))
    log = directory / "server.log"  # a file, not a pipe: a chatty server can never block on a full pipe
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                *classifier_command(),
                *params,
                *("review", "--db", db_url),
                *("--host", "127.0.0.1", "--port", str(port)),
            ],
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        add_cli_user(db_url, directory)  # while the server starts: both take a few seconds of imports
        _wait_until_healthy(process, base_url, log, timeout)
        yield ReviewServer(base_url, db_url, ids)
    finally:
        _stop(process)
