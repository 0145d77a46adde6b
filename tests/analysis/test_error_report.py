"""The error-analysis tables on small hand-made frames (the notebook test runs them on a real model)."""

from __future__ import annotations

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from classifier.analysis.error_report import (
    closing_problems,
    evidence_rows,
    notebook_settings,
    obfuscation_recall,
    plot_calibration,
    slice_table,
)
from classifier.modeling.evaluate import binary_metrics, calibration_table
from classifier.modeling.explanations import Evidence


def _scored() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label": [1, 1, 1, 1, 0, 0, 0, 0],
            "score": [0.95, 0.9, 0.2, 0.8, 0.1, 0.85, 0.05, 0.3],
            "lang": ["ru", "kk", "kk", "ru", "ru", "kk", "ru", "kk"],
            "obfuscations": ["", "digits+separators", "separators", "", "", "", "", ""],
        }
    )


def test_slice_table_has_one_row_per_value_and_the_slice_metrics() -> None:
    table = slice_table(_scored(), "lang", 0.5, min_rows=1)
    assert list(table.index) == ["kk", "ru"]
    assert table.loc["ru", "n"] == 4 and table.loc["ru", "recall"] == 1.0
    assert table.loc["kk", "recall"] == 0.5 and table.loc["kk", "false_positive_rate"] == 0.5


def test_obfuscation_recall_counts_each_kind_and_marks_held_out_ones() -> None:
    table = obfuscation_recall(_scored(), 0.5, ("separators",))
    assert table.index[0] == "none"
    assert table.loc["none", "recall"] == 1.0 and table.loc["none", "positives"] == 2
    assert table.loc["separators", "positives"] == 2 and table.loc["separators", "recall"] == 0.5
    assert table.loc["separators", "held_out"] and not table.loc["digits", "held_out"]


def test_evidence_rows_spell_out_each_word() -> None:
    errors = pd.DataFrame(
        {
            "error": ["false_positive"],
            "id": ["a"],
            "score": [0.9],
            "evidence": [[Evidence("меф", 0.5, "Меф.")]],
        }
    )
    rows = evidence_rows(errors)
    assert rows.to_dict("records") == [
        {"error": "false_positive", "id": "a", "score": 0.9, "term": "меф", "weight": 0.5, "sentence": "Меф."}
    ]


def test_closing_problems_pass_a_sane_result_and_catch_a_broken_one() -> None:
    scored = _scored()
    calibration = calibration_table(scored["label"], scored["score"])
    errors = pd.DataFrame({"error": ["false_positive"], "evidence": [[Evidence("меф", 0.5, "")]]})
    obfuscation = obfuscation_recall(scored, 0.5)
    good = binary_metrics(scored["label"], scored["score"], 0.5) | {"ece": 0.1}
    assert closing_problems(good, calibration, errors, obfuscation, min_average_precision=0.5) == []
    inverted = scored.assign(score=1 - scored["score"])
    bad = binary_metrics(inverted["label"], inverted["score"], 0.5)
    problems = closing_problems(
        bad,
        calibration_table(inverted["label"], inverted["score"]),
        errors.assign(evidence=[[]]),
        obfuscation_recall(inverted, 0.5),
        calibration_min_count=1,
    )
    assert len(problems) >= 4, problems


def test_plot_and_settings() -> None:
    figure = Figure()
    FigureCanvasAgg(figure)
    scored = _scored()
    plot_calibration(calibration_table(scored["label"], scored["score"]), figure.add_subplot())
    settings = notebook_settings("never", fast=True)
    assert settings.train.real_negatives == "never" and settings.model.folds == 3
