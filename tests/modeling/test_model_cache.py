"""The local cache of registered model versions: what it keeps, and what it refuses to load.

Loading through MLflow, and the cache's use by scoring, are tested against a real MLflow store in
``test_tracking.py``; here the cache's own rules, on plain objects.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from classifier.modeling import model_cache


def identity(version: int) -> dict[str, str]:
    return {
        "tracking_uri": "sqlite:///x.db",
        "name": "m",
        "version": str(version),
        "run_id": "r",
        "created": "1",
    }


def test_an_entry_comes_back_as_it_was_stored(tmp_path: Path) -> None:
    model_cache.store(tmp_path, identity(1), {"weights": [1.0, 2.0]})
    assert model_cache.load_cached(tmp_path, identity(1)) == {"weights": [1.0, 2.0]}
    assert model_cache.load_cached(tmp_path, identity(2)) is None  # another version: not cached
    [entry] = tmp_path.iterdir()
    assert json.loads((entry / "entry.json").read_text())["identity"] == identity(1)


def test_the_newest_five_stay_and_a_load_counts_as_use(tmp_path: Path) -> None:
    for version in range(1, 6):
        model_cache.store(tmp_path, identity(version), version)
        os.utime(model_cache.entry_folder(tmp_path, identity(version)), (version, version))  # used long ago
    assert model_cache.load_cached(tmp_path, identity(1)) == 1  # used now
    model_cache.store(tmp_path, identity(6), 6)
    kept = [v for v in range(1, 7) if model_cache.load_cached(tmp_path, identity(v)) is not None]
    assert kept == [1, 3, 4, 5, 6]  # the least recently used one went


def test_an_entry_recorded_for_another_version_is_not_loaded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    model_cache.store(tmp_path, identity(1), "one")
    folder = model_cache.entry_folder(tmp_path, identity(1))
    record = json.loads((folder / "entry.json").read_text())
    (folder / "entry.json").write_text(json.dumps({**record, "identity": identity(2)}))
    assert model_cache.load_cached(tmp_path, identity(1)) is None
    assert "it records another model version" in caplog.text


def test_a_cache_that_cannot_be_written_is_only_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    model_cache.store(blocked, identity(1), "one")  # the cache folder cannot be made
    assert "could not cache the model" in caplog.text
    assert model_cache.load_cached(blocked, identity(1)) is None
