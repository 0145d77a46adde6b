"""Error analysis of a fitted model on held-out families, as tables and a plot for a notebook.

Thin layers over :mod:`classifier.modeling.evaluate` (slices, calibration, error lists) and
:mod:`classifier.modeling.model` (evidence): they reshape what those return into frames a person can read.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from classifier.common.config import Settings, load_settings
from classifier.modeling.evaluate import error_analysis, slice_metrics
from classifier.modeling.explanations import explain

SLICE_METRICS = ("n", "recall", "precision", "false_positive_rate", "average_precision")
NOT_OBFUSCATED = "none"


def notebook_settings(
    real_negatives: str = "auto", fast: bool = False, params: Path | str | None = None
) -> Settings:
    """The project's settings with ``train.real_negatives`` set, and 3 model folds when ``fast``."""
    settings = load_settings(params)
    settings = replace(settings, train=replace(settings.train, real_negatives=real_negatives))
    if fast:
        settings = replace(settings, model=replace(settings.model, folds=3))
    return settings


def headline_metrics(metrics: dict[str, float]) -> pd.Series:
    """The overall metrics of an assessment (names without a slice prefix), for display."""
    return pd.Series({name: value for name, value in metrics.items() if "." not in name}, dtype=float)


def slice_table(frame: pd.DataFrame, by: str, threshold: float, *, min_rows: int = 10) -> pd.DataFrame:
    """``slice_metrics`` of ``frame`` by ``by`` as a table: one row per value, one column per metric."""
    rows: dict[str, dict[str, float]] = {}
    for key, value in slice_metrics(frame, by, threshold, min_rows=min_rows, prefix=by).items():
        name, metric = key.removeprefix(f"{by}.").rsplit(".", 1)
        rows.setdefault(name, {})[metric] = value
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=list(SLICE_METRICS))
    table.index.name = by
    return table.astype({"n": int}) if len(table) else table


def plot_calibration(table: pd.DataFrame, ax: Any, *, title: str = "calibration on held-out families") -> Any:
    """Draw a ``calibration_table`` on matplotlib axes: observed share against mean score, sized by count."""
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect")
    sizes = 20 + 300 * table["count"] / max(int(table["count"].sum()), 1)
    ax.plot(table["mean_score"], table["positive_rate"], color="tab:blue")
    ax.scatter(
        table["mean_score"], table["positive_rate"], s=sizes, color="tab:blue", label="bins (area = pages)"
    )
    for row in table.itertuples():
        ax.annotate(
            str(row.count), (row.mean_score, row.positive_rate), textcoords="offset points", xytext=(5, -10)
        )
    ax.set(
        xlabel="mean predicted score in bin",
        ylabel="observed share of violations",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    ax.set_title(title)
    ax.legend(loc="upper left")
    return ax


def calibration_gap(table: pd.DataFrame, min_count: int = 1) -> float:
    """Largest |mean score - observed share| over bins with at least ``min_count`` pages (NaN if none)."""
    rows = table[table["count"] >= min_count]
    return float((rows["mean_score"] - rows["positive_rate"]).abs().max()) if len(rows) else float("nan")


def top_errors(
    pipeline: Pipeline,
    scored: pd.DataFrame,
    threshold: float,
    *,
    n: int = 10,
    top_k: int = 5,
    columns: tuple[str, ...] = ("lang_slice", "category", "layout", "obfuscations", "family", "title"),
) -> pd.DataFrame:
    """The top-n false positives and false negatives (``error_analysis``) with the model's evidence.

    ``evidence`` holds the :class:`~classifier.modeling.model.Evidence` list; ``words`` and ``sentences``
    spell it out (word and weight; the distinct sentences the words occur in).
    """
    keep = ["id", "label", "score", *[c for c in columns if c in scored], "text"]
    errors = error_analysis(scored[list(dict.fromkeys(keep))], threshold, n=n)
    evidence = explain(pipeline, errors, top_k=top_k) if len(errors) else []
    return errors.assign(
        evidence=evidence,
        words=[", ".join(f"{e.term} ({e.weight:.2f})" for e in found) for found in evidence],
        sentences=[" | ".join(dict.fromkeys(e.sentence for e in found if e.sentence)) for found in evidence],
    ).drop(columns=["text"])


def evidence_rows(errors: pd.DataFrame) -> pd.DataFrame:
    """One row per piece of evidence of a ``top_errors`` frame: error, id, score, term, weight, sentence."""
    rows = [
        {"error": row.error, "id": row.id, "score": row.score, **item.as_dict()}
        for row in errors.itertuples()
        for item in row.evidence
    ]
    return pd.DataFrame(rows, columns=["error", "id", "score", "term", "weight", "sentence"])


def obfuscation_recall(
    scored: pd.DataFrame, threshold: float, held_out_kinds: tuple[str, ...] | list[str] = ()
) -> pd.DataFrame:
    """Recall of the positives in ``scored`` by obfuscation kind (``none`` = not disguised).

    A page disguised with several kinds ("digits+separators") counts under each. ``held_out`` marks
    the kinds kept out of training (``train.robustness_kinds``): the model never saw them.
    """
    positives = scored[scored["label"] == 1]
    kinds = positives["obfuscations"].fillna("").astype(str).replace("", NOT_OBFUSCATED).str.split("+")
    long = pd.DataFrame(
        {"kind": kinds, "detected": positives["score"] >= threshold, "score": positives["score"]}
    ).explode("kind")
    table = long.groupby("kind").agg(
        positives=("detected", "size"),
        detected=("detected", "sum"),
        recall=("detected", "mean"),
        mean_score=("score", "mean"),
    )
    table = table.astype({"positives": int, "detected": int})
    table.insert(0, "held_out", table.index.isin(list(held_out_kinds)))
    order = table.assign(first=table.index != NOT_OBFUSCATED).sort_values(["first", "recall", "positives"])
    return order.drop(columns=["first"])


def closing_problems(
    metrics: dict[str, float],
    calibration: pd.DataFrame,
    errors: pd.DataFrame,
    obfuscation: pd.DataFrame,
    *,
    min_average_precision: float = 0.7,
    max_calibration_gap: float = 0.35,
    calibration_min_count: int = 10,
    max_ece: float = 0.25,
    min_plain_score: float = 0.4,
) -> list[str]:
    """Reasons the analysis looks absurd (a broken pipeline, not a merely weak model); empty when sane."""
    problems = []
    if not (metrics.get("positives", 0) > 0 and metrics.get("negatives", 0) > 0):
        problems.append(
            f"held-out families need both classes: {metrics.get('positives')} positives, "
            f"{metrics.get('negatives')} negatives"
        )
    ap = metrics.get("average_precision", float("nan"))
    if not ap > min_average_precision:
        problems.append(f"PR-AUC on held-out families is {ap:.3f}, not above {min_average_precision}")
    if calibration["count"].sum() != metrics.get("positives", 0) + metrics.get("negatives", 0):
        problems.append("the calibration bins do not hold every held-out page")
    gap = calibration_gap(calibration, calibration_min_count)
    if gap > max_calibration_gap:  # NaN (no bin that full) cannot be judged
        problems.append(
            f"a calibration bin of {calibration_min_count}+ pages is {gap:.3f} from its observed share "
            f"(allowed {max_calibration_gap})"
        )
    ece = metrics.get("ece", float("nan"))
    if not ece <= max_ece:
        problems.append(f"expected calibration error is {ece:.3f} (allowed {max_ece})")
    false_pos = errors[errors["error"] == "false_positive"]
    if (false_pos["evidence"].map(len) == 0).any():
        problems.append("a false positive has no evidence words: the explanations are broken")
    plain = obfuscation.loc[obfuscation.index == NOT_OBFUSCATED]
    if plain.empty or not (plain["detected"].iloc[0] > 0 and plain["mean_score"].iloc[0] > min_plain_score):
        found = plain.round(3).to_dict("records")[0] if len(plain) else "there are none"
        problems.append(f"the model misses plain (un-obfuscated) held-out positives: {found}")
    if obfuscation["positives"].sum() < metrics.get("positives", 0):
        problems.append("the obfuscation table lost held-out positives")
    return problems
