"""Shared fixtures: small hand-made inputs and settings that keep tests fast."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from classifier.config import Settings, load_settings

RESOURCES = Path(__file__).parent / "resources"


@pytest.fixture()
def resources() -> Path:
    return RESOURCES


@pytest.fixture()
def settings() -> Settings:
    """The project's settings, single-process so that tests stay quick and deterministic."""
    base = load_settings()
    return replace(base, extract=replace(base.extract, n_jobs=1))


def write_warc(path: Path, pages: list[tuple[str, bytes, str]], gzip: bool = True) -> Path:
    """A WARC with a warcinfo record, and a request and a response record for each page."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=gzip)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "tests"}))
        for url, body, content_type in pages:
            request = StatusAndHeaders(f"GET {url} HTTP/1.1", [], is_http_request=True)
            writer.write_record(writer.create_warc_record(url, "request", http_headers=request))
            http = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)
            )
    return path


@pytest.fixture()
def mlflow_server(tmp_path_factory: pytest.TempPathFactory):
    """A real ``mlflow server`` process with its own store in a temporary directory; yields its URI."""
    from mlflow_server import running_mlflow_server  # tests/ is on sys.path, as for this conftest

    with running_mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as uri:
        yield uri
