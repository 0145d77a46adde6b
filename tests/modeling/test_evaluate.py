"""Metrics, slices, plots, error analysis and the gate, on small hand-made arrays."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from classifier.modeling.evaluate import (
    binary_metrics,
    calibration_table,
    choose_threshold,
    error_analysis,
    false_positive_rate,
    plot_all,
    slice_metrics,
)

# Precision by threshold (score >= t): 0.1 -> 4/7, 0.2 -> 4/6, 0.3 -> 4/5, 0.4 -> 3/4, 0.5 -> 3/3.
# It dips after 0.3, so "lowest threshold reaching the target" differs from "first one after a scan".
LABELS = [0, 0, 1, 0, 1, 1, 1]
SCORES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_threshold_for_target_precision_is_the_lowest_that_reaches_it() -> None:
    assert choose_threshold(LABELS, SCORES, target_precision=0.8) == pytest.approx(0.3)
    assert choose_threshold(LABELS, SCORES, target_precision=0.9) == pytest.approx(0.5)
    chosen = binary_metrics(LABELS, SCORES, choose_threshold(LABELS, SCORES, target_precision=0.8))
    assert chosen["precision"] >= 0.8
    assert chosen["recall"] == 1.0


def test_threshold_for_target_recall_is_the_highest_that_keeps_it() -> None:
    assert choose_threshold(LABELS, SCORES, target_recall=0.75) == pytest.approx(0.5)
    assert choose_threshold(LABELS, SCORES, target_recall=1.0) == pytest.approx(0.3)


def test_threshold_without_target_maximises_f1() -> None:
    # F1: 0.1 -> 0.727, 0.2 -> 0.8, 0.3 -> 0.889, 0.4 -> 0.75, 0.5 -> 0.857.
    assert choose_threshold(LABELS, SCORES) == pytest.approx(0.3)


def test_unreachable_precision_falls_back_to_f1_optimal() -> None:
    # The top-scored page is negative, so precision never exceeds 0.5.
    labels, scores = [1, 0, 1, 0], [0.2, 0.9, 0.5, 0.6]
    assert choose_threshold(labels, scores, target_precision=0.9) == pytest.approx(0.2)
    assert choose_threshold(labels, scores) == pytest.approx(0.2)


def test_threshold_rejects_two_targets_and_survives_one_class() -> None:
    with pytest.raises(ValueError, match="not both"):
        choose_threshold(LABELS, SCORES, target_precision=0.9, target_recall=0.9)
    assert choose_threshold([0, 0, 0], [0.1, 0.7, 0.9]) == 0.5


def test_binary_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 200)
    scores = np.clip(labels * 0.3 + rng.uniform(0, 0.7, 200), 0, 1)
    predicted = scores >= 0.5
    metrics = binary_metrics(labels, scores, 0.5)
    assert metrics["average_precision"] == pytest.approx(average_precision_score(labels, scores))
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert metrics["precision"] == pytest.approx(precision_score(labels, predicted))
    assert metrics["recall"] == pytest.approx(recall_score(labels, predicted))
    assert metrics["f1"] == pytest.approx(f1_score(labels, predicted))
    assert metrics["brier"] == pytest.approx(brier_score_loss(labels, scores))
    assert metrics["positives"] == labels.sum()
    assert metrics["negatives"] == 200 - labels.sum()
    assert metrics["predicted_positives"] == predicted.sum()
    expected_fpr = np.sum(predicted & (labels == 0)) / np.sum(labels == 0)
    assert metrics["false_positive_rate"] == pytest.approx(expected_fpr)
    assert false_positive_rate(labels, scores, 0.5) == pytest.approx(expected_fpr)
    assert metrics["threshold"] == 0.5
    assert "recall_at_k" not in metrics


def test_recall_and_precision_at_k_read_the_top_of_the_queue() -> None:
    labels = [0, 1, 1, 0, 0, 1]
    scores = [0.8, 0.9, 0.7, 0.6, 0.5, 0.1]  # ranked: 1, 0, 1, 0, 0, 1
    top3 = binary_metrics(labels, scores, 0.5, k=3)
    assert top3["recall_at_k"] == pytest.approx(2 / 3)
    assert top3["precision_at_k"] == pytest.approx(2 / 3)
    top1 = binary_metrics(labels, scores, 0.5, k=1)
    assert (top1["recall_at_k"], top1["precision_at_k"]) == (pytest.approx(1 / 3), 1.0)
    everything = binary_metrics(labels, scores, 0.5, k=10)  # k beyond the queue: all of it
    assert (everything["recall_at_k"], everything["precision_at_k"]) == (1.0, 0.5)


def test_single_class_gives_nan_not_an_exception() -> None:
    negatives = binary_metrics([0, 0, 0, 0], [0.1, 0.2, 0.6, 0.9], 0.5, k=2)
    for name in ("average_precision", "roc_auc", "recall", "f1", "recall_at_k"):
        assert math.isnan(negatives[name]), name
    assert negatives["false_positive_rate"] == 0.5
    assert negatives["precision"] == 0.0
    assert negatives["positives"] == 0.0
    positives = binary_metrics([1, 1, 1], [0.1, 0.2, 0.3], 0.5)
    assert math.isnan(positives["false_positive_rate"])
    assert math.isnan(positives["precision"])  # nothing predicted positive
    assert positives["recall"] == 0.0
    assert math.isnan(false_positive_rate([1, 1], [0.3, 0.9], 0.5))


def test_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match="only 0 and 1"):
        binary_metrics([0, 2], [0.1, 0.2], 0.5)
    with pytest.raises(ValueError, match="values"):
        binary_metrics([0, 1, 1], [0.1, 0.2], 0.5)


def test_ece_is_zero_when_every_bin_is_calibrated() -> None:
    labels = [1, 0, 0, 0, 1, 1, 1, 0]  # 1 of 4 at 0.25, 3 of 4 at 0.75
    scores = [0.25] * 4 + [0.75] * 4
    assert binary_metrics(labels, scores, 0.5)["ece"] == pytest.approx(0.0, abs=1e-12)
    table = calibration_table(labels, scores)
    assert table["bin"].tolist() == [2, 7]
    assert table["count"].tolist() == [4, 4]
    assert table["positive_rate"].tolist() == pytest.approx([0.25, 0.75])
    assert table["mean_score"].tolist() == pytest.approx([0.25, 0.75])


def test_ece_is_large_when_confident_and_wrong() -> None:
    assert binary_metrics([0] * 10, [0.95] * 10, 0.5)["ece"] == pytest.approx(0.95)
    # Half at 0.05 (all positive), half at 0.95 (all negative): off by 0.95 everywhere.
    assert binary_metrics([1] * 5 + [0] * 5, [0.05] * 5 + [0.95] * 5, 0.5)["ece"] == pytest.approx(0.95)
    # Bins weigh by their size: one wrong page among five calibrated ones is 0.95 / 5.
    assert binary_metrics([0, 1, 0, 0, 0], [0.95] + [0.25] * 4, 0.5)["ece"] == pytest.approx(0.19)


def test_calibration_table_puts_a_score_of_one_in_the_last_bin() -> None:
    table = calibration_table([1, 0, 1], [1.0, 0.0, 0.95], bins=10)
    assert table["bin"].tolist() == [0, 9]
    assert table["count"].tolist() == [1, 2]


def _slice_frame() -> pd.DataFrame:
    ru = pd.DataFrame(
        {"lang": "ru", "label": [1] * 10 + [0] * 15, "score": [0.9] * 8 + [0.2] * 2 + [0.6] * 3 + [0.1] * 12}
    )
    kk = pd.DataFrame({"lang": "kk", "label": [0] * 20, "score": [0.7] * 5 + [0.1] * 15})
    mixed = pd.DataFrame({"lang": "mixed", "label": [1, 0, 1], "score": [0.9, 0.1, 0.9]})
    return pd.concat([ru, kk, mixed], ignore_index=True)


def test_slice_metrics_per_value_with_min_rows() -> None:
    metrics = slice_metrics(_slice_frame(), "lang", 0.5)
    assert metrics["lang.ru.recall"] == pytest.approx(0.8)
    assert metrics["lang.ru.precision"] == pytest.approx(8 / 11)
    assert metrics["lang.ru.false_positive_rate"] == pytest.approx(3 / 15)
    assert metrics["lang.ru.n"] == 25
    assert 0 < metrics["lang.ru.average_precision"] <= 1
    assert metrics["lang.kk.false_positive_rate"] == pytest.approx(0.25)
    assert math.isnan(metrics["lang.kk.recall"])
    assert "lang.kk.average_precision" not in metrics  # one class only
    assert not any(key.startswith("lang.mixed.") for key in metrics)  # 3 rows < min_rows
    assert "slice/lang.mixed.n" in slice_metrics(_slice_frame(), "lang", 0.5, min_rows=3, prefix="slice/lang")


def test_slice_names_are_safe_for_mlflow_and_kept_apart() -> None:
    frame = pd.DataFrame(
        {
            "category": ["соль"] * 20 + ["мефа"] * 20 + ["a/b:c"] * 20,
            "label": [1, 0] * 30,
            "score": [0.9, 0.1] * 30,
        }
    )
    metrics = slice_metrics(frame, "category", 0.5, prefix="категория")
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/ ")
    assert all(set(key) <= allowed for key in metrics)
    assert "_________.a_b_c.n" in metrics
    # Both Cyrillic values sanitise to "____"; neither may overwrite the other.
    assert sum(key.endswith(".n") for key in metrics) == 3


def test_plots_are_written_as_png(tmp_path) -> None:
    labels = [0, 0, 1, 0, 1, 1, 1, 0, 1, 0]
    scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.05]
    paths = plot_all(labels, scores, 0.5, tmp_path / "plots", title="test run")
    names = ["pr_curve", "roc_curve", "calibration", "confusion_matrix", "score_histogram"]
    assert [path.name for path in paths] == [f"{name}.png" for name in names]
    for path in paths:
        content = path.read_bytes()
        assert content.startswith(PNG_MAGIC), path
        assert len(content) > 5_000, path


def test_plots_survive_a_single_class(tmp_path) -> None:
    paths = plot_all([0, 0, 0], [0.1, 0.4, 0.8], 0.5, tmp_path)
    assert len(paths) == 5
    assert all(path.read_bytes().startswith(PNG_MAGIC) for path in paths)


def test_error_analysis_picks_the_worst_errors_in_order() -> None:
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e", "f", "g", "h"],
            "label": [0, 0, 0, 1, 1, 1, 0, 1],
            "score": [0.6, 0.95, 0.3, 0.2, 0.05, 0.9, 0.8, 0.4],
            "text": list("ABCDEFGH"),
        }
    )
    errors = error_analysis(frame, 0.5)
    assert errors["id"].tolist() == ["b", "g", "a", "e", "d", "h"]
    assert errors["error"].tolist() == ["false_positive"] * 3 + ["false_negative"] * 3
    assert errors["text"].tolist() == ["B", "G", "A", "E", "D", "H"]
    assert set(frame.columns) < set(errors.columns)
    top = error_analysis(frame, 0.5, n=1)
    assert top["id"].tolist() == ["b", "e"]


def test_error_analysis_without_errors_keeps_the_columns() -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "label": [1, 0], "score": [0.9, 0.1]})
    errors = error_analysis(frame, 0.5)
    assert errors.empty
    assert list(errors.columns) == ["error", "id", "label", "score"]
