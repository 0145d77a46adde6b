"""What the commands print: counts, headline metrics, the scoring summary, and progress bars (shown on a
terminal only, never in logs and CI)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from classifier.modeling.model_card import HEADLINE

if TYPE_CHECKING:
    from classifier.queue.bank_import import ImportSummary


def progress(
    items: Iterator[dict[str, Any]], unit: str = "page", initial: int = 0
) -> Iterator[dict[str, Any]]:
    """A progress bar with records/s on a terminal, nothing in logs and CI."""
    return tqdm(items, unit=unit, disable=None, smoothing=0.1, mininterval=0.5, initial=initial)


def record_progress(items: Iterator[dict[str, Any]], done: int) -> Iterator[dict[str, Any]]:
    """The scoring engine's progress: records, counting those a resumed run had already committed."""
    return progress(items, unit="record", initial=done)


class PartitionBar:
    """Partitions scored on a Dask cluster, as a progress bar opened at the first one."""

    def __init__(self) -> None:
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        self.bar = self.bar or tqdm(total=total, initial=done - 1, unit="partition", disable=None)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def print_counts(summary: dict[str, Any]) -> None:
    for key, value in summary.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        print(f"  {key:<22} {value}")


def print_metrics(metrics: dict[str, float]) -> None:
    for name in HEADLINE:
        if name in metrics:
            print(f"  {name:<22} {metrics[name]:.4f}")


def print_score_summary(summary: dict[str, Any]) -> None:
    """The closing summary of a scoring run: counts, errors by reason, drift, and the top cases."""
    top = summary.pop("top_cases")
    drift = summary.pop("drift")
    if summary["resumed_after"]:
        print(f"resumed a killed run after {summary['resumed_after']} committed records")
    print_counts({k: v for k, v in summary.items() if k != "resumed_after"})
    if drift.get("psi") is not None:
        flag = "  WARNING: the scores drift from the training distribution" if drift["psi_warning"] else ""
        print(f"  {'psi':<22} {drift['psi']:.4f}{flag}")
    print(f"  {'above threshold':<22} {drift.get('share_above_threshold', 0):.1%}")
    if top:
        print("top cases:")
        print(f"  {'rank':>5} {'score':>6} {'priority':>8}  {'category':<12} {'pages':>5}  url")
        for case in top:
            known = (
                f"  (known shop {case['shop_id']}: {case['known_status']})"
                if case.get("known_status")
                else ""
            )
            print(
                f"  {case['rank']:>5} {case['score']:>6.3f} {case['priority']:>8.1f}  {case['category']:<12}"
                f" {case['cluster_size']:>5}  {case['url']}{known}"
            )


def print_import_summary(summary: ImportSummary) -> None:
    """What a bank import did with every line of its file: counts, then each error with its line."""
    decided = ", ".join(f"{n} {decision}" for decision, n in sorted(summary.decisions.items()))
    print(f"{summary.file}: {summary.lines} lines (import run {summary.run_id})")
    print(f"  {'imported':<22} {len(summary.imported)}" + (f" ({decided})" if decided else ""))
    print(f"  {'already imported':<22} {len(summary.already)}")
    print(f"  {'errors':<22} {len(summary.errors)}")
    print(f"  {'shops':<22} {summary.shops} ({summary.known_shops} already in the bank)")
    for line, reason in summary.errors:
        print(f"  line {line}: {reason}")
