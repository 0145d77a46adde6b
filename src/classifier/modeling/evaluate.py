"""Metrics, slices, plots, error analysis and the champion gate. Pure functions: no training, no MLflow.

Convention everywhere: a page is predicted positive when ``score >= threshold`` (as in scikit-learn's
``precision_recall_curve``). Metrics that a sample cannot define (recall without positives, AUC with one
class) are ``float('nan')``, never an exception, so that small slices and smoke runs still report.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

NAN = float("nan")
_METRIC_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-/ ]")
# Slice values must not add "/" either: MLflow rejects names such as "a//b" that a path would normalise.
_SLICE_VALUE_UNSAFE = re.compile(r"[^A-Za-z0-9_.\- ]")
_EPS = 1e-12  # so that float noise does not decide which threshold reaches the target
ArrayLike = Sequence[float] | np.ndarray


def _as_arrays(y_true: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validated 1-D arrays: labels 0/1 as int, finite scores as float."""
    y = np.asarray(y_true).ravel()
    s = np.asarray(scores, dtype=float).ravel()
    if y.shape != s.shape:
        raise ValueError(f"y_true has {y.size} values but scores has {s.size}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must contain only 0 and 1")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return y.astype(int), s


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else NAN


def _f1(precision: float, recall: float) -> float:
    if math.isnan(precision) or math.isnan(recall):
        return NAN
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _has_both_classes(y: np.ndarray) -> bool:
    return 0 < int(y.sum()) < y.size


def _f1_optimal(precision: np.ndarray, recall: np.ndarray, thresholds: np.ndarray) -> float:
    # The last precision/recall pair has no threshold (it is "predict nothing").
    p, r = precision[:-1], recall[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    return float(thresholds[int(np.argmax(f1))])


def choose_threshold(
    y_true: ArrayLike,
    scores: ArrayLike,
    *,
    target_precision: float | None = None,
    target_recall: float | None = None,
) -> float:
    """Lowest threshold reaching target_precision, or highest keeping target_recall; else F1-optimal.

    Without both classes no threshold can be learnt and 0.5 is returned.
    """
    if target_precision is not None and target_recall is not None:
        raise ValueError("give target_precision or target_recall, not both")
    for target in (target_precision, target_recall):
        if target is not None and not 0.0 < target <= 1.0:
            raise ValueError(f"target must be in (0, 1], got {target}")
    y, s = _as_arrays(y_true, scores)
    if not _has_both_classes(y):
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y, s)
    p, r = precision[:-1], recall[:-1]  # aligned with thresholds, which ascend
    if target_precision is not None:
        # Precision is not monotone in the threshold: the lowest one that reaches it has the most recall.
        hits = np.flatnonzero(p >= target_precision - _EPS)
        if hits.size:
            return float(thresholds[hits[0]])
    if target_recall is not None:
        hits = np.flatnonzero(r >= target_recall - _EPS)
        if hits.size:
            return float(thresholds[hits[-1]])
    return _f1_optimal(precision, recall, thresholds)


def _operating_point(y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall, false positive rate and predicted positives at one threshold."""
    predicted = s >= threshold
    true_positives = np.sum(predicted & (y == 1))
    return {
        "precision": _ratio(true_positives, predicted.sum()),
        "recall": _ratio(true_positives, y.sum()),
        "false_positive_rate": _ratio(np.sum(predicted & (y == 0)), np.sum(y == 0)),
        "predicted_positives": float(predicted.sum()),
    }


def false_positive_rate(y_true: ArrayLike, scores: ArrayLike, threshold: float) -> float:
    """Share of negatives predicted positive; NaN without negatives."""
    return _operating_point(*_as_arrays(y_true, scores), threshold)["false_positive_rate"]


def hard_negative_fpr(frame: pd.DataFrame, scores: ArrayLike, threshold: float) -> float:
    """False-positive rate among the hard negatives (label 0, ``hard_negative``) of ``frame``."""
    y = frame["label"].to_numpy(dtype=int)
    hard = (y == 0) & frame["hard_negative"].astype(bool).to_numpy()
    return false_positive_rate(y[hard], np.asarray(scores, dtype=float)[hard], threshold)


def calibration_table(y_true: ArrayLike, scores: ArrayLike, bins: int = 10) -> pd.DataFrame:
    """One row per non-empty equal-width score bin on [0, 1]: bin, mean_score, positive_rate, count."""
    if bins < 1:
        raise ValueError("bins must be at least 1")
    y, s = _as_arrays(y_true, scores)
    index = np.clip(np.floor(np.clip(s, 0.0, 1.0) * bins).astype(int), 0, bins - 1)  # 1.0 joins the last bin
    table = (
        pd.DataFrame({"bin": index, "score": s, "label": y})
        .groupby("bin", sort=True)
        .agg(mean_score=("score", "mean"), positive_rate=("label", "mean"), count=("label", "size"))
        .reset_index()
    )
    return table.astype({"bin": int, "count": int})


def _expected_calibration_error(y: np.ndarray, s: np.ndarray, bins: int = 10) -> float:
    if not y.size:
        return NAN
    table = calibration_table(y, s, bins)
    gaps = (table["mean_score"] - table["positive_rate"]).abs()
    return float((gaps * table["count"]).sum() / y.size)


def _top_k(y: np.ndarray, s: np.ndarray, k: int) -> dict[str, float]:
    if k < 1:
        raise ValueError("k must be at least 1")
    # Stable sort so that ties keep input order and the queue is reproducible.
    found = int(y[np.argsort(-s, kind="stable")[:k]].sum())
    return {"recall_at_k": _ratio(found, y.sum()), "precision_at_k": _ratio(found, min(k, y.size))}


def binary_metrics(
    y_true: ArrayLike, scores: ArrayLike, threshold: float, *, k: int | None = None
) -> dict[str, float]:
    """Ranking, operating-point and calibration metrics in one flat dict; undefined ones are NaN."""
    y, s = _as_arrays(y_true, scores)
    point = _operating_point(y, s, threshold)
    both = _has_both_classes(y)
    metrics = {
        "average_precision": float(average_precision_score(y, s)) if both else NAN,
        "roc_auc": float(roc_auc_score(y, s)) if both else NAN,
        "precision": point["precision"],
        "recall": point["recall"],
        "f1": _f1(point["precision"], point["recall"]),
        "threshold": float(threshold),
        "brier": float(np.mean((s - y) ** 2)) if y.size else NAN,
        "ece": _expected_calibration_error(y, s),
        "positives": float(y.sum()),
        "negatives": float(y.size - y.sum()),
        "predicted_positives": point["predicted_positives"],
        "false_positive_rate": point["false_positive_rate"],
    }
    if k is not None:
        metrics.update(_top_k(y, s, k))
    return metrics


def _slice_name(value: object) -> str:
    name = _SLICE_VALUE_UNSAFE.sub("_", str(value))
    return name or "_"


def slice_metrics(
    frame: pd.DataFrame, by: str, threshold: float, *, min_rows: int = 20, prefix: str | None = None
) -> dict[str, float]:
    """Recall, precision, FPR, AP (when both classes) and n for each value of `by` with >= min_rows rows."""
    head = _METRIC_NAME_UNSAFE.sub("_", prefix or by)
    metrics: dict[str, float] = {}
    seen: dict[str, str] = {}
    for value, group in frame.groupby(by, sort=True, dropna=False):
        if len(group) < min_rows:
            continue
        name = _slice_name(value)
        if seen.setdefault(name, str(value)) != str(value):
            # Two values sanitised alike (e.g. Cyrillic categories of equal length): keep both apart.
            name = f"{name}_{hashlib.md5(str(value).encode()).hexdigest()[:6]}"
        y, s = _as_arrays(group["label"], group["score"])
        point = _operating_point(y, s, threshold)
        values = {name: point[name] for name in ("recall", "precision", "false_positive_rate")}
        values["n"] = float(len(group))
        if _has_both_classes(y):
            values["average_precision"] = float(average_precision_score(y, s))
        metrics.update({f"{head}.{name}.{metric}": number for metric, number in values.items()})
    return metrics


def error_analysis(frame: pd.DataFrame, threshold: float, n: int = 50) -> pd.DataFrame:
    """Top-n false positives (highest scores first) then top-n false negatives (lowest scores first)."""
    predicted = frame["score"] >= threshold
    false_pos = frame[(frame["label"] == 0) & predicted].sort_values("score", ascending=False, kind="stable")
    false_neg = frame[(frame["label"] == 1) & ~predicted].sort_values("score", ascending=True, kind="stable")
    parts = [
        false_pos.head(n).assign(error="false_positive"),
        false_neg.head(n).assign(error="false_negative"),
    ]
    result = pd.concat(parts, ignore_index=True)
    return result[["error", *frame.columns]]


def plot_all(
    y_true: ArrayLike, scores: ArrayLike, threshold: float, out_dir: Path, *, title: str = ""
) -> list[Path]:
    """Write pr_curve, roc_curve, calibration, confusion_matrix and score_histogram PNGs; return their paths."""
    y, s = _as_arrays(y_true, scores)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    drawers = {
        "pr_curve": _draw_pr,
        "roc_curve": _draw_roc,
        "calibration": _draw_calibration,
        "confusion_matrix": _draw_confusion,
        "score_histogram": _draw_histogram,
    }
    return [_render(out_dir / f"{name}.png", draw, y, s, threshold, title) for name, draw in drawers.items()]


def _render(path: Path, draw, y: np.ndarray, s: np.ndarray, threshold: float, title: str) -> Path:
    # Figure plus an explicit Agg canvas: no pyplot, so no global backend or figure state (safe in servers).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.5, 4.5), layout="tight")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    heading = draw(axes, y, s, threshold)
    axes.set_title(f"{title}\n{heading}" if title else heading, fontsize=10)
    figure.savefig(path, dpi=100)
    return path


def _one_class_note(axes) -> None:
    axes.text(0.5, 0.5, "undefined: one class only", ha="center", va="center", transform=axes.transAxes)


def _draw_pr(axes, y: np.ndarray, s: np.ndarray, threshold: float) -> str:
    axes.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02))
    if not _has_both_classes(y):
        _one_class_note(axes)
        return "precision-recall"
    precision, recall, _ = precision_recall_curve(y, s)
    axes.step(recall, precision, where="post")
    point = _operating_point(y, s, threshold)
    axes.plot(point["recall"], point["precision"], "o", color="crimson", label=f"threshold {threshold:.3f}")
    axes.legend(loc="lower left")
    return f"precision-recall (AP {average_precision_score(y, s):.3f})"


def _draw_roc(axes, y: np.ndarray, s: np.ndarray, threshold: float) -> str:
    axes.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.02))
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey")
    if not _has_both_classes(y):
        _one_class_note(axes)
        return "ROC"
    fpr, tpr, _ = roc_curve(y, s)
    axes.plot(fpr, tpr)
    point = _operating_point(y, s, threshold)
    axes.plot(
        point["false_positive_rate"],
        point["recall"],
        "o",
        color="crimson",
        label=f"threshold {threshold:.3f}",
    )
    axes.legend(loc="lower right")
    return f"ROC (AUC {roc_auc_score(y, s):.3f})"


def _draw_calibration(axes, y: np.ndarray, s: np.ndarray, threshold: float) -> str:
    table = calibration_table(y, s)
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect")
    sizes = 20 + 200 * table["count"] / max(len(y), 1)  # marker area shows how much each bin weighs
    axes.scatter(table["mean_score"], table["positive_rate"], s=sizes, label="bins")
    axes.plot(table["mean_score"], table["positive_rate"])
    axes.set(xlabel="mean score in bin", ylabel="share of positives", xlim=(0, 1), ylim=(0, 1.02))
    axes.legend(loc="upper left")
    return f"calibration (ECE {_expected_calibration_error(y, s):.3f})"


def _draw_confusion(axes, y: np.ndarray, s: np.ndarray, threshold: float) -> str:
    predicted = (s >= threshold).astype(int)
    counts = np.array([[np.sum((y == t) & (predicted == p)) for p in (0, 1)] for t in (0, 1)])
    axes.imshow(counts, cmap="Blues")
    for (row, col), count in np.ndenumerate(counts):
        color = "white" if count > counts.max() / 2 else "black"
        axes.text(col, row, str(count), ha="center", va="center", color=color, fontsize=14)
    axes.set(xticks=[0, 1], yticks=[0, 1], xlabel="predicted", ylabel="actual")
    axes.set_xticklabels(["negative", "positive"])
    axes.set_yticklabels(["negative", "positive"])
    return f"confusion matrix at threshold {threshold:.3f}"


def _draw_histogram(axes, y: np.ndarray, s: np.ndarray, threshold: float) -> str:
    edges = np.linspace(s.min(initial=0.0), s.max(initial=1.0), 41)  # [0, 1] unless scores stray outside
    for label, name in ((0, "negative"), (1, "positive")):
        axes.hist(s[y == label], bins=edges, alpha=0.6, label=f"{name} ({int(np.sum(y == label))})")
    axes.axvline(threshold, color="crimson", linestyle="--", label=f"threshold {threshold:.3f}")
    axes.set(xlabel="score", ylabel="pages")
    axes.legend(loc="best")
    return "scores by class"
