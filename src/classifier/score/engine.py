"""The local batch engine: inputs -> documents -> scored rows -> a ranked queue file and the case store.

Records stream through ingestion, extraction (parallel, cached) and the model in chunks of
``score.chunk_size``; each chunk is committed to the run's checkpoint, so memory stays bounded and a
killed run started again with the same command continues after the last committed chunk. Grouping,
ranking and the outputs are computed from the checkpoint at the end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from classifier.config import EXTRACT_CACHE, SCORE_RUNS_DIR, ScoreSettings, Settings
from classifier.explanations import ExplainedPrediction, predict_and_explain
from classifier.extract import extract_documents
from classifier.faults import crash_point, slow_point
from classifier.features import TEXT_FIELDS
from classifier.ingest import IngestStats, iter_records
from classifier.limits import check_memory
from classifier.outputs import TableWriter
from classifier.score.checkpoint import Checkpoint
from classifier.score.drift import drift_report, reference_scores
from classifier.score.duplicates import MinHasher, band_keys, contact_keys, grouped, link
from classifier.score.priority import priority, recency, source_kind
from classifier.score.rows import SCORED_FIELDS, TEXT_CHARS

if TYPE_CHECKING:
    from classifier.score.distributed import DaskOptions

log = logging.getLogger(__name__)
EVIDENCE_MIN_SCORE = 0.05  # below this nobody reads why a page is not an ad; explaining it costs time
WRITE_BATCH = 500
Progress = Callable[[Iterator[dict[str, Any]], int], Iterator[dict[str, Any]]]


class ModelUnusableError(ValueError):
    """The model cannot score documents at all (a clear error for the command line, exit code 2)."""


@dataclass(frozen=True)
class ScoringModel:
    pipeline: Pipeline
    name: str
    version: str
    reference: str

    @property
    def threshold(self) -> float:
        return float(self.pipeline.named_steps["head"].threshold_)


def load_scoring_model(reference: str, settings: ScoreSettings) -> ScoringModel:
    """An exported folder (``models/drug-ad-classifier``) or an MLflow URI, with its name and version.

    Only from a trusted place (``model_trust``): loading a model runs code from it. An alias is
    resolved to a version first and that version is loaded, so the rows name the model that really
    scored them even if the alias moves during the run.
    """
    from classifier.model import load_model_file
    from classifier.model_trust import check_model_reference

    check_model_reference(reference, settings)
    path = Path(reference)
    if path.exists():
        card_path = (path if path.is_dir() else path.parent) / "model_card.json"
        card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.exists() else {}
        name = card.get("name") or path.name
        version = str(card.get("version") or "exported")
        return ScoringModel(load_model_file(path), name, version, str(path))
    if "://" not in reference and not reference.startswith("models:/"):
        raise FileNotFoundError(f"no model folder at {reference} (and it is not an MLflow model URI)")
    from classifier import tracking

    tracking.configure()
    name, version = tracking.resolve_model_uri(reference)
    uri = f"models:/{name}/{version}" if name else reference
    return ScoringModel(tracking.load_model(uri), name or "mlflow-model", version, reference)


# -- run identity and resumption ---------------------------------------------------------------
def _input_fingerprint(inputs: list[str]) -> list[Any]:
    """What the inputs are now: a changed file makes a new run instead of resuming a stale one."""
    found: list[Any] = []
    for item in inputs:
        path = Path(item).resolve()
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            stat = file.stat() if file.exists() else None
            found.append([str(file), stat.st_size if stat else None, stat.st_mtime_ns if stat else None])
    return found


# settings that change how fast or where a run works, not what its rows say: a run resumed with another
# --jobs or chunk size is the same run
_NOT_IN_ROWS = {"extract": ("n_jobs", "batch_size", "cache"), "score": ("chunk_size", "log_to_mlflow", "db")}


def _row_settings(settings: Settings) -> dict[str, Any]:
    sections = {name: asdict(getattr(settings, name)) for name in ("ingest", "extract", "normalize", "score")}
    for name, keys in _NOT_IN_ROWS.items():
        for key in keys:
            sections[name].pop(key)
    return sections


def run_key(
    inputs: list[str], out: Path, model: ScoringModel, db_url: str, settings: Settings, engine: str = "local"
) -> str:
    """The same command on the same inputs and model gives the same key, and so the same checkpoint.

    The engine is part of it (with the Dask engine, the partition size): a local run commits records, a
    Dask run partitions, so no run resumes a checkpoint counted another way.
    """
    identity = {
        "engine": engine,
        "inputs": _input_fingerprint(inputs),
        "out": str(out.resolve()),
        "model": [model.name, model.version, model.reference],
        "db": db_url,
        "settings": {
            name: asdict(getattr(settings, name)) for name in ("ingest", "extract", "normalize", "score")
        },
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:24]


# -- scoring one chunk ---------------------------------------------------------------------------
class ChunkScorer:
    """Documents -> scored rows (unranked), duplicate-grouping keys and MinHash signatures."""

    def __init__(self, model: ScoringModel, settings: ScoreSettings, run_id: str, scored_at: str):
        self.model = model
        self.settings = settings
        self.run_id = run_id
        self.scored_at = scored_at
        self.hasher = MinHasher(settings.minhash_permutations, settings.shingle_words)

    def _predict(self, docs: list[dict[str, Any]]) -> list[tuple[ExplainedPrediction | Exception, int]]:
        """(result, position in it) per document: the chunk in one pass, or, if the model fails on it,
        document by document, so that one hostile page costs only its own row."""
        frame = pd.DataFrame([{f: d.get(f) or "" for f in TEXT_FIELDS} for d in docs])
        top_k = self.settings.explain_top_k
        try:
            result = predict_and_explain(self.model.pipeline, frame, top_k, EVIDENCE_MIN_SCORE)
            return [(result, j) for j in range(len(docs))]
        except Exception as exc:
            log.warning("model failed on a chunk (%s); scoring its documents one by one", exc)
        results: list[tuple[ExplainedPrediction | Exception, int]] = []
        for i in range(len(frame)):
            try:
                results.append(
                    (predict_and_explain(self.model.pipeline, frame.iloc[[i]], top_k, EVIDENCE_MIN_SCORE), 0)
                )
            except Exception as exc:
                results.append((exc, 0))
        if len(results) > 1 and all(isinstance(r, Exception) for r, _ in results):
            # not a hostile page but a model that cannot score at all: stop before the queue fills
            # with errors; nothing of this chunk is committed, so the run resumes once fixed
            raise ModelUnusableError(
                f"the model fails on every document ({results[0][0]!r}); is it from an older version of "
                "the code? Retrain (classifier train) or pass another --model"
            )
        return results

    def score(
        self, docs: list[dict[str, Any]], first_seq: int
    ) -> tuple[list[dict[str, Any]], list[tuple[str, int]], list[tuple[int, np.ndarray, int]]]:
        rows = [self._base_row(doc, first_seq + i) for i, doc in enumerate(docs)]
        ok = [i for i, doc in enumerate(docs) if doc["status"] == "ok"]
        keys: list[tuple[str, int]] = []
        signatures: list[tuple[int, np.ndarray, int]] = []
        if not ok:
            return rows, keys, signatures
        for i, (result, j) in zip(ok, self._predict([docs[i] for i in ok]), strict=True):
            row = rows[i]
            if isinstance(result, Exception):
                row.update(status="error", error=f"model failed: {type(result).__name__}: {result}")
                continue
            self._fill(row, result, j)
            sketch = self.hasher.sketch(result.normalised[j])
            if sketch is not None:
                signatures.append((row["seq"], *sketch))
                keys += [(key, row["seq"]) for key in band_keys(sketch[0], self.settings.lsh_bands)]
            keys += [(key, row["seq"]) for key in contact_keys(row["contacts"], self.settings)]
        return rows, keys, signatures

    def _base_row(self, doc: dict[str, Any], seq: int) -> dict[str, Any]:
        text = doc.get("text") or ""
        return {
            "seq": seq,
            "id": doc["id"],
            "url": doc.get("url") or "",
            "domain": doc.get("domain") or "",
            "title": doc.get("title") or "",
            "excerpt": " ".join(text[: self.settings.excerpt_chars * 2].split())[
                : self.settings.excerpt_chars
            ],
            "score": None,
            "label": None,
            "category": None,
            "category_probability": None,
            "language": doc.get("lang") or "",
            "evidence": [],
            "contacts": {k: v for k, v in (doc.get("contacts") or {}).items() if v},
            "source_kind": source_kind(doc.get("url") or ""),
            "source": doc.get("source") or "",
            "fetched_at": doc.get("fetched_at") or "",
            "model_name": self.model.name,
            "model_version": self.model.version,
            "run_id": self.run_id,
            "scored_at": self.scored_at,
            "status": doc["status"],
            "error": doc.get("error") or "",
            "text": text[:TEXT_CHARS],
        }

    @staticmethod
    def _fill(row: dict[str, Any], result: ExplainedPrediction, j: int) -> None:
        prediction = result.prediction
        label = int(prediction.label[j])
        probability = float(prediction.category_probability[j])
        row.update(
            score=round(float(prediction.score[j]), 6),
            label=label,
            category=str(
                prediction.category[j]
            ),  # "none" below the threshold (model.prediction_from_features)
            # the queue shows a category's probability only for a category it names
            category_probability=round(probability, 4) if label and not math.isnan(probability) else None,
            evidence=[e.as_dict() for e in result.evidence[j]],
        )


def _chunks(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


# -- finishing: grouping, ranking, outputs ---------------------------------------------------------
def rank(checkpoint: Checkpoint, settings: ScoreSettings, now: datetime) -> None:
    """Cluster the run's records, compute every priority, and store the queue order in the checkpoint."""
    n = checkpoint.committed()
    roots = link(grouped(checkpoint.key_groups()), checkpoint.signatures, n, settings, checkpoint.sizes)
    sizes = np.bincount(roots, minlength=n)
    # a cluster is named after its first member (its root: the smallest position, so met first below),
    # which keeps the name when the run is resumed; only clusters with several members are remembered
    names: dict[int, str] = {}

    def values() -> Iterator[tuple[str, int, float, int]]:
        for seq, record_id, score, category, kind, fetched_at in checkpoint.scoring_inputs():
            root = int(roots[seq])
            size = int(sizes[root])
            if root == seq:
                name = "g-" + hashlib.sha1(record_id.encode()).hexdigest()[:16]
                if size > 1:
                    names[root] = name
            else:
                name = names[root]
            value = priority(score, category, kind, size, recency(fetched_at, now, settings), settings)
            yield name, size, value, seq

    checkpoint.set_ranking(values())


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
        self.clusters: dict[str, int] = {}
        self.top: list[dict[str, Any]] = []
        self.n_top = top

    def add(self, row: dict[str, Any]) -> None:
        self.status[row["status"]] += 1
        if row["status"] == "ok":
            self.language[row["language"] or "unknown"] += 1
            self.positives += row["label"] == 1
        else:
            self.errors[_reason(row["error"])] += 1
        if row["cluster_size"] > 1:
            self.clusters[row["cluster_id"]] = row["cluster_size"]
        # one line per case: members of a cluster are adjacent in the ranking
        first_of_case = not self.top or self.top[-1]["cluster_id"] != row["cluster_id"]
        if len(self.top) < self.n_top and row["status"] == "ok" and first_of_case:
            keys = ("rank", "score", "priority", "category", "cluster_size", "url")
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
    if out.suffix.lower() not in (".csv", ".parquet", ".jsonl"):
        raise ValueError(f"{out}: the queue file must end in .csv, .parquet or .jsonl")
    model = load_scoring_model(model_ref or settings.score.model, settings.score)
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
        from classifier.score.distributed import score_on_dask

        stats = score_on_dask(
            inputs, settings, checkpoint, model, run_id, started_at, dask, partition_progress
        )
    else:
        stats = _score_locally(inputs, settings, checkpoint, model, run_id, started_at, use_cache, progress)
    log.info("scored %d records in %.1fs", checkpoint.committed(), time.perf_counter() - started)
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
        for batch in _chunks(checkpoint.ranked(), min(WRITE_BATCH, settings.score.chunk_size)):
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
    model: ScoringModel,
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
    for chunk in _chunks(documents, settings.score.chunk_size):
        checkpoint.add_chunk(*scorer.score(chunk, seq))
        slow_point("score.chunk_committed")  # tests that kill a run mid-way make it last
        seq += len(chunk)
    return stats


def _summary(
    out: Path,
    store: CaseSink,
    run_id: str,
    model: ScoringModel,
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
        clusters=len(sizes),
        records_in_clusters=sum(sizes),
        largest_cluster=max(sizes, default=1),
        skipped=stats.as_dict()["skipped"],
        new_cases=new_cases,
        top_cases=tally.top,
    )


def _drift(
    checkpoint: Checkpoint, model: ScoringModel, settings: ScoreSettings, summary: ScoreSummary, run_id: str
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

        mlflow_run = log_scoring_run(report, summary, run_id)
    except Exception as exc:
        log.warning("could not log the scoring run to MLflow: %s", exc)
        return report | {"mlflow_error": str(exc)}
    checkpoint.put(mlflow_run=mlflow_run)
    return report | {"mlflow_run": mlflow_run}
