from __future__ import annotations

from pathlib import Path

import pytest

from classifier.config import DEFAULT_PARAMS, load_settings


def test_project_params_load() -> None:
    settings = load_settings(DEFAULT_PARAMS)
    assert settings.extract.n_jobs >= 1
    assert abs(sum(settings.corpus.language_shares.values()) - 1) < 1e-6


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("extract:\n  n_jobz: 3\n")
    with pytest.raises(ValueError, match="n_jobz"):
        load_settings(params)


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(AttributeError):
        settings.extract.n_jobs = 5  # type: ignore[misc]
