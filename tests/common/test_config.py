from __future__ import annotations

from pathlib import Path

import pytest

from classifier.common.config import DEFAULT_PARAMS, load_settings


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


def test_a_mistyped_params_path_is_an_error_not_the_defaults(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no params file"):
        load_settings(tmp_path / "paramz.yaml")


def test_overrides_change_one_run_and_are_checked(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("model:\n  C: 2.0\n")
    settings = load_settings(params, ["model.C=8", "train.target_recall=0.95", "model.char_ngrams=[2, 4]"])
    assert (settings.model.C, settings.train.target_recall, settings.model.char_ngrams) == (8, 0.95, (2, 4))
    assert load_settings(params).model.C == 2.0
    for bad, message in [
        ("model.Cc=1", "unknown key 'Cc'"),
        ("modle.C=1", "unknown section 'modle'"),
        ("C=1", "section.key=value"),
        ("model.C", "section.key=value"),
    ]:
        with pytest.raises(ValueError, match=message):
            load_settings(params, [bad])


def test_train_command_takes_overrides_a_run_name_and_tags() -> None:
    from classifier.cli.arguments import build_parser
    from classifier.cli.commands import parse_tags, settings_from_args

    args = build_parser().parse_args(
        [
            "train",
            "--set",
            "model.C=8",
            "corpus.n_pages=900",
            "--run-name",
            "c8",
            "--tag",
            "who=ds",
            "why=a b",
        ]
    )
    settings = settings_from_args(args)
    assert (settings.model.C, settings.corpus.n_pages, args.run_name) == (8, 900, "c8")
    assert parse_tags(args.tag) == {"who": "ds", "why": "a b"}


@pytest.mark.parametrize(
    ("change", "allowed"),
    [
        ("model.estimator=logistic", "logreg, linear_svm, complement_nb, sgd"),
        ("model.calibration=platt", "sigmoid, isotonic"),
        ("model.feature_set=words", "subword, sklearn_char"),
        ("model.head=forest", "linear, boosted"),
        ("train.real_negatives=sometimes", "auto, always, never"),
        ("extract.engine=fast", "trafilatura, resiliparse"),
    ],
)
def test_choice_settings_are_checked_when_settings_load(change: str, allowed: str) -> None:
    """A typo fails at once, naming the key and the allowed values, before any fitting starts."""
    name, value = change.split("=")
    with pytest.raises(ValueError, match=f"{name} must be one of {allowed}, not '{value}'"):
        load_settings(None, [change])
