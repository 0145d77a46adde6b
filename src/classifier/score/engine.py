"""The batch engine: inputs -> documents -> scored rows -> a ranked queue file and the case store.

Records stream through ingestion, extraction (parallel, cached) and the model in chunks of
``score.chunk_size``, locally or on a Dask cluster (``distributed``); each chunk is committed to the
run's checkpoint, so memory stays bounded and a killed run started again with the same command
continues after the last committed chunk. Grouping, ranking and the outputs are computed from the
checkpoint at the end.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

from classifier.common.batching import batched
from classifier.common.config import EXTRACT_CACHE, SCORE_RUNS_DIR, ScoreSettings, Settings
from classifier.common.faults import crash_point, slow_point
from classifier.common.limits import check_memory, restart_peak_rss
from classifier.common.outputs import TableWriter
from classifier.extract.run import extract_documents
from classifier.ingest.records import IngestStats
from classifier.ingest.sources import iter_records
from classifier.modeling.loading import LoadedModel, load_trusted_model
from classifier.score.checkpoint import Checkpoint
from classifier.score.chunks import ChunkScorer
from classifier.score.distributed import DaskOptions, score_on_dask
from classifier.score.drift import drift_report, reference_scores
from classifier.score.known import BankHit, match_known
from classifier.score.ranking import rank
from classifier.score.rows import SCORED_FIELDS
from classifier.score.run_identity import run_key

log = logging.getLogger(__name__)

WRITE_BATCH = 500
Progress = Callable[[Iterator[dict[str, Any]], int], Iterator[dict[str, Any]]]


@dataclass
class ScoreSummary:
    output: str
    case_store: str
    run_id: str
    model: str
    records: int = 0
    resumed_after: int = 0
    status: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    language: dict[str, int] = field(default_factory=dict)
    positives: int = 0
    known: dict[str, int] = field(default_factory=dict)  # records matching earlier cases, by decision
    bank_lookup_seconds: float = 0.0
    clusters: int = 0
    records_in_clusters: int = 0
    largest_cluster: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    new_cases: int = 0
    drift: dict[str, Any] = field(default_factory=dict)
    top_cases: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    records_per_second: float = 0.0
    peak_rss_mb: float = 0.0  # of this process or any one extraction worker (score.memory_budget_mb)


class _Tally:
    """Counts the ranked rows on their way to the outputs."""

    def __init__(self, top: int = 10):
        self.status: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.language: Counter[str] = Counter()
        self.positives = 0
        self.known: Counter[str] = Counter()
        self.clusters: dict[str, int] = {}
        self.top: list[dict[str, Any]] = []
        self.n_top = top

    def add(self, row: dict[str, Any]) -> None:
        self.status[row["status"]] += 1
        if row["status"] == "ok":
            self.language[row["language"] or "unknown"] += 1
            self.positives += row["label"] == 1
            if row["known_status"]:
                self.known[row["known_status"]] += 1
        else:
            self.errors[_reason(row["error"])] += 1
        if row["cluster_size"] > 1:
            self.clusters[row["cluster_id"]] = row["cluster_size"]
        # one line per case: members of a cluster are adjacent in the ranking
        first_of_case = not self.top or self.top[-1]["cluster_id"] != row["cluster_id"]
        if len(self.top) < self.n_top and row["status"] == "ok" and first_of_case:
            keys = ("rank", "score", "priority", "category", "cluster_size", "url", "shop_id", "known_status")
            self.top.append({k: row[k] for k in keys} | {"cluster_id": row["cluster_id"]})


def _reason(error: str) -> str:
    """The kind of an error without its details ('invalid JSON on line 7: ...' -> 'invalid JSON')."""
    head = error.split(":")[0]
    return head.split(" on line")[0].split(" after offset")[0].strip() or "unknown"


class CaseSink(Protocol):
    """Where ranked rows go after the queue file: the case store (``queue.CaseStore``), handed in by
    the caller so that scoring does not depend on the stage after it."""

    url: str

    def start_run(
        self,
        run_id: str,
        *,
        model_name: str,
        model_version: str,
        inputs: Any,
        started_at: Any,
        threshold: float | None,
    ) -> None: ...
    def add_scored(self, rows: Iterable[dict[str, Any]]) -> int: ...
    def finish_run(self, run_id: str, summary: dict[str, Any]) -> None: ...
    def counts(self) -> dict[str, int]: ...
    def lookup(self, keys: Sequence[str], max_cases_per_key: int) -> list[BankHit]: ...


def check_queue_file(out: Path) -> None:
    """Refuse a queue file name no writer knows, before anything is read or written."""
    if out.suffix.lower() not in (".csv", ".parquet", ".jsonl"):
        raise ValueError(f"{out}: the queue file must end in .csv, .parquet or .jsonl")


def score_inputs(
    inputs: list[str],
    out: Path,
    settings: Settings,
    store: CaseSink,
    *,
    model_ref: str | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
    runs_dir: Path = SCORE_RUNS_DIR,
    dask: DaskOptions | None = None,
    partition_progress: Callable[[int, int], None] | None = None,
) -> ScoreSummary:
    """Score ``inputs`` into the ranked file ``out`` and ``store``; resume a killed run of the same command.

    With ``dask``, partitions of the inputs are scored on a Dask cluster (``distributed.py``); the
    outputs are the same as the local engine's.
    """
    started = time.perf_counter()
    restart_peak_rss()  # the run's own peak: the demo trains in this process first
    check_queue_file(out)
    model = load_trusted_model(model_ref or settings.score.model, settings.score)
    log.info("model %s v%s loaded in %.1fs", model.name, model.version, time.perf_counter() - started)
    engine = f"dask:{dask.partition_records}" if dask else "local"
    checkpoint = Checkpoint(runs_dir / f"{run_key(inputs, out, model, store.url, settings, engine)}.sqlite")
    if checkpoint.get("run_id") is None:
        checkpoint.put(run_id=uuid.uuid4().hex, started_at=datetime.now(UTC).isoformat(timespec="seconds"))
    run_id, started_at = checkpoint.get("run_id"), checkpoint.get("started_at")
    done = checkpoint.committed()
    if done:
        log.warning("resuming run %s after %d committed records", run_id, done)

    if dask is not None:
        stats = score_on_dask(
            inputs, settings, checkpoint, model, run_id, started_at, dask, partition_progress
        )
    else:
        stats = _score_locally(inputs, settings, checkpoint, model, run_id, started_at, use_cache, progress)
    log.info("scored %d records in %.1fs", checkpoint.committed(), time.perf_counter() - started)
    matching = _match_known_shops(checkpoint, store, settings.score)
    rank(checkpoint, settings.score, datetime.fromisoformat(started_at))
    log.info("grouped and ranked at %.1fs", time.perf_counter() - started)
    tally = _Tally()
    partial = out.with_name(f".{out.stem}.partial{out.suffix}")
    with TableWriter(partial, SCORED_FIELDS) as writer:
        store.start_run(
            run_id,
            model_name=model.name,
            model_version=model.version,
            inputs=[str(Path(i).resolve()) for i in inputs],
            started_at=datetime.fromisoformat(started_at),
            threshold=model.threshold,
        )
        cases_before = _cases_before(checkpoint, store)
        # at most a chunk at a time, as everywhere else: chunk_size bounds memory (and tests get several)
        for batch in batched(checkpoint.ranked(), min(WRITE_BATCH, settings.score.chunk_size)):
            writer.write([{name: row[name] for name in SCORED_FIELDS} for row in batch])
            # a record with neither a URL nor content is nobody's case: it stays in the file and the summary
            store.add_scored([row for row in batch if row["url"] or row["status"] == "ok"])
            crash_point("score.store_batch")
            slow_point("score.store_batch")  # tests that kill the store phase at random make it last
            for row in batch:
                tally.add(row)
        writer.close()
        os.replace(partial, out)  # the queue file appears whole or not at all
        crash_point("score.queue_replaced")  # every output written, the run not yet finished
        new_cases = sum(store.counts().values()) - cases_before
        summary = _summary(out, store, run_id, model, done, tally, stats, new_cases)
        summary.bank_lookup_seconds = round(matching, 2)
        log.info("queue file and case store written at %.1fs", time.perf_counter() - started)
        summary.drift = _drift(checkpoint, model, settings.score, summary, run_id)
        log.info("drift logged at %.1fs", time.perf_counter() - started)
        summary.seconds = round(time.perf_counter() - started, 2)
        summary.records_per_second = round((summary.records - done) / summary.seconds, 1)
        summary.peak_rss_mb = check_memory(settings.score.memory_budget_mb)
        store.finish_run(run_id, asdict(summary))
    crash_point("score.run_finished")  # a restart now redoes a finished run: it must change nothing
    checkpoint.delete()
    return summary


def _match_known_shops(checkpoint: Checkpoint, store: CaseSink, settings: ScoreSettings) -> float:
    """Look the run's records up in the store's bank of earlier cases; return the seconds it took."""
    started = time.perf_counter()
    matched = match_known(checkpoint, store, settings)
    seconds = time.perf_counter() - started
    log.info("%d records match cases of earlier runs (looked up in %.1fs)", matched, seconds)
    return seconds


def _cases_before(checkpoint: Checkpoint, store: CaseSink) -> int:
    """The store's case count before the run's first write, kept in the checkpoint: a resumed run must
    not take the cases its killed predecessor created for old ones."""
    if checkpoint.get("cases_before") is None:
        checkpoint.put(cases_before=str(sum(store.counts().values())))
    return int(checkpoint.get("cases_before") or 0)


def _score_locally(
    inputs: list[str],
    settings: Settings,
    checkpoint: Checkpoint,
    model: LoadedModel,
    run_id: str,
    started_at: str,
    use_cache: bool,
    progress: Progress | None,
) -> IngestStats:
    """Stream the records not yet committed through extraction and the model, chunk by chunk."""
    stats = IngestStats()
    done = checkpoint.committed()
    cache = EXTRACT_CACHE if use_cache and settings.extract.cache else None
    # ingestion order is deterministic, so the first `done` records are the committed ones
    records = islice(iter_records(inputs, settings.ingest, stats), done, None)
    documents = extract_documents(records, settings.extract, cache)
    if progress is not None:
        documents = progress(documents, done)
    scorer = ChunkScorer(model, settings.score, run_id, started_at)
    seq = done
    for chunk in batched(documents, settings.score.chunk_size):
        checkpoint.add_chunk(*scorer.score(chunk, seq))
        slow_point("score.chunk_committed")  # tests that kill a run mid-way make it last
        seq += len(chunk)
    return stats


def _summary(
    out: Path,
    store: CaseSink,
    run_id: str,
    model: LoadedModel,
    done: int,
    tally: _Tally,
    stats: IngestStats,
    new_cases: int,
) -> ScoreSummary:
    sizes = list(tally.clusters.values())
    return ScoreSummary(
        output=str(out),
        case_store=store.url,
        run_id=run_id,
        model=f"{model.name} v{model.version}",
        records=sum(tally.status.values()),
        resumed_after=done,
        status=dict(tally.status),
        errors=dict(tally.errors.most_common()),
        language=dict(tally.language.most_common()),
        positives=tally.positives,
        known=dict(tally.known),
        clusters=len(sizes),
        records_in_clusters=sum(sizes),
        largest_cluster=max(sizes, default=1),
        skipped=stats.as_dict()["skipped"],
        new_cases=new_cases,
        top_cases=tally.top,
    )


def _drift(
    checkpoint: Checkpoint, model: LoadedModel, settings: ScoreSettings, summary: ScoreSummary, run_id: str
) -> dict[str, Any]:
    """The drift report, logged to the MLflow experiment ``scoring`` (a logging failure is a warning)."""
    report = drift_report(
        checkpoint.scores(),
        model.threshold,
        reference_scores(model.pipeline),
        settings.drift_bins,
        settings.psi_warning,
    )
    if report["psi_warning"]:
        log.warning(
            "score drift: PSI %.3f against the training scores (warning above %.2f)",
            report["psi"],
            settings.psi_warning,
        )
    if not settings.log_to_mlflow:
        return report
    if checkpoint.get("mlflow_run"):  # a resumed run already logged before it was killed
        return report | {"mlflow_run": checkpoint.get("mlflow_run")}
    try:
        from classifier.score.drift import log_scoring_run

        mlflow_run = log_scoring_run(report, summary, run_id, plot=settings.drift_plot)
    except Exception as exc:
        log.warning("could not log the scoring run to MLflow: %s", exc)
        return report | {"mlflow_error": str(exc)}
    checkpoint.put(mlflow_run=mlflow_run)
    return report | {"mlflow_run": mlflow_run}
