"""The Dask engine: the same scoring as the local engine, with partitions of the inputs as tasks.

The driver plans partitions (``partitions.py``), sends the model to every worker once, and submits one
task per partition as workers free up: read, extract and score it with the local engine's ``ChunkScorer``. Results come
back in partition order and go into the same checkpoint, in the same order, with the same sequence
numbers as a local run; grouping, ranking and the outputs are then the local engine's. So the queue is
the same row for row, and a run resumes after its last committed partition. A worker that dies takes
its tasks with it; the scheduler runs them again elsewhere, and nothing is lost.

``--workers N`` starts a ``LocalCluster`` of N single-threaded worker processes; ``--scheduler
tcp://HOST:PORT`` joins a running cluster (``dask scheduler`` / ``dask worker``), whose workers must have
this package installed. The extraction cache is not used: workers may not share a disk.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from dataclasses import dataclass, replace
from functools import partial
from itertools import islice
from typing import Any

import numpy as np

from classifier.common.batching import batched
from classifier.common.config import Settings
from classifier.common.faults import slow_point
from classifier.extract.run import extract_documents
from classifier.ingest.partitions import Partition, plan_partitions, read_partition
from classifier.ingest.records import IngestStats
from classifier.score.checkpoint import Checkpoint
from classifier.score.chunks import ChunkScorer

log = logging.getLogger(__name__)
PARTITIONS_DONE = "partitions_done"
_MAX_ATTEMPTS = 3  # a partition whose model is lost this often stops the run (resumable, as any failure)
_NEW_WORKER_WAIT_SECONDS = 3600  # a cluster that lost every worker has this long to get one back


@dataclass(frozen=True)
class DaskOptions:
    scheduler: str | None = None  # tcp://HOST:PORT of a running cluster; None: start a LocalCluster
    workers: int = 2  # LocalCluster size
    partition_records: int = 250  # records per task: small enough to spread, big enough to batch


def dask_options(
    engine: str, scheduler: str | None, workers: int | None, partition_records: int
) -> DaskOptions | None:
    """The Dask options of a scoring command (None for the local engine), refusing contradictions."""
    if partition_records < 1:
        raise ValueError("--partition-records must be at least 1")
    if workers is not None and workers < 1:
        raise ValueError("--workers must be at least 1")
    if workers and scheduler:
        raise ValueError("give --workers (a local cluster) or --scheduler (a running one), not both")
    if engine != "dask":
        if scheduler or workers:
            raise ValueError("--scheduler and --workers need --engine dask")
        return None
    return DaskOptions(scheduler=scheduler, workers=workers or 2, partition_records=partition_records)


@dataclass
class PartitionResult:
    rows: list[dict[str, Any]]
    keys: list[tuple[str, int]]
    signatures: list[tuple[int, np.ndarray, int]]
    stats: IngestStats


def score_partition(
    part: Partition, model: Any, settings: Settings, run_id: str, scored_at: str
) -> PartitionResult:
    """Runs on a worker: one partition read, extracted and scored; sequence numbers start at 0."""
    stats = IngestStats()
    records = read_partition(part, settings.ingest, stats)
    # one process per worker already: no nested process pool, and no shared extraction cache
    documents = extract_documents(records, replace(settings.extract, n_jobs=1), None)
    scorer = ChunkScorer(model, settings.score, run_id, scored_at)
    result = PartitionResult([], [], [], stats)
    for chunk in batched(documents, settings.score.chunk_size):
        rows, keys, signatures = scorer.score(chunk, len(result.rows))
        result.rows += rows
        result.keys += keys
        result.signatures += signatures
    return result


def _shifted(result: PartitionResult, offset: int) -> PartitionResult:
    for row in result.rows:
        row["seq"] += offset
    result.keys = [(key, seq + offset) for key, seq in result.keys]
    result.signatures = [(seq + offset, signature, size) for seq, signature, size in result.signatures]
    return result


def _client(options: DaskOptions) -> Any:
    from distributed import Client, LocalCluster

    if options.scheduler:
        return Client(options.scheduler, timeout="30s")
    cluster = LocalCluster(
        n_workers=options.workers,
        threads_per_worker=1,  # the model and trafilatura are pure Python: processes, not threads
        processes=True,
        dashboard_address=None,
    )
    return Client(cluster)


class _Submissions:
    """The run's tasks in flight: partitions go out as workers free up, and come back in any order.

    Two per worker thread are in flight (one running, one waiting, so no worker idles between tasks):
    the scheduler holds a few tasks instead of every partition's. The model is sent once to every
    worker; a copy lives only on workers that were there when it was sent, so if they all die the
    scheduler drops it and cancels the tasks that need it: it is then sent again (waiting up to an hour
    for a worker) and those partitions go out once more.
    """

    def __init__(self, client: Any, parts: list[Partition], model: Any, task: Callable[..., Any]) -> None:
        from distributed import as_completed

        self.client, self.parts, self.model, self.task = client, parts, model, task
        self.nonce = uuid.uuid4().hex[:8]
        self.window = 2 * max(1, sum(client.nthreads().values()))
        self.models = [client.scatter(model, broadcast=True)]
        self.attempts: Counter[int] = Counter()
        self.pending: dict[Any, tuple[int, int]] = {}  # future -> (partition, models sent before it)
        self.completed = as_completed([])

    def submit(self, index: int, run_id: str) -> None:
        self.attempts[index] += 1
        # a fresh key per invocation and attempt: a scheduler still holding an old task never answers for it
        future = self.client.submit(
            self.task,
            self.parts[index],
            self.models[-1],
            key=f"score-{run_id}-{index}-{self.nonce}-{self.attempts[index]}",
        )
        self.pending[future] = (index, len(self.models))
        self.completed.add(future)

    def results(self, run_id: str) -> Iterator[tuple[int, PartitionResult]]:
        """Each finished partition's result; a partition whose model was lost is sent again first."""
        for future in self.completed:
            index, sent = self.pending.pop(future)
            try:
                result = future.result()
            except CancelledError:  # the model's last copy died with its workers
                if self.attempts[index] >= _MAX_ATTEMPTS:
                    raise
                if sent == len(self.models):  # once per loss, however many tasks it cancelled
                    log.warning("the workers holding the model are gone: sending it again")
                    self.models.append(
                        self.client.scatter(self.model, broadcast=True, timeout=_NEW_WORKER_WAIT_SECONDS)
                    )
                self.submit(index, run_id)
                continue
            future.release()
            yield index, result


def score_on_dask(
    inputs: list[str],
    settings: Settings,
    checkpoint: Checkpoint,
    model: Any,
    run_id: str,
    scored_at: str,
    options: DaskOptions,
    progress: Callable[[int, int], None] | None = None,
) -> IngestStats:
    """Score every partition not yet committed into ``checkpoint``; return the ingestion counts."""
    started = time.perf_counter()
    parts = plan_partitions(inputs, options.partition_records)
    log.info("planned %d partitions in %.1fs", len(parts), time.perf_counter() - started)
    done = int(checkpoint.get(PARTITIONS_DONE) or 0)
    if done:
        log.warning("resuming run %s after %d of %d partitions", run_id, done, len(parts))
    stats = IngestStats()
    if done >= len(parts):
        return stats  # every partition is committed: a resumed run only has its outputs left to write
    client = _client(options)
    try:
        log.info("cluster ready at %.1fs: %s", time.perf_counter() - started, client)
        task = partial(score_partition, settings=settings, run_id=run_id, scored_at=scored_at)
        tasks = _Submissions(client, parts, model, task)
        log.info("model on every worker at %.1fs", time.perf_counter() - started)
        waiting = iter(range(done, len(parts)))
        for index in islice(waiting, tasks.window):
            tasks.submit(index, run_id)
        # Results commit in partition order; those that finished before an earlier, slow one wait, at
        # most ``4 * window`` of them: then no more go out until it is back.
        finished: dict[int, PartitionResult] = {}
        seq = checkpoint.committed()
        for index, result in tasks.results(run_id):
            finished[index] = result
            while done in finished:  # commit in partition order: sequence numbers as in a local run
                result = _shifted(finished.pop(done), seq)
                done += 1
                checkpoint.add_chunk(
                    result.rows, result.keys, result.signatures, meta={PARTITIONS_DONE: str(done)}
                )
                slow_point("score.chunk_committed")  # tests that kill a worker mid-run make the run last
                seq += len(result.rows)
                stats.records.update(result.stats.records)
                stats.skipped.update(result.stats.skipped)
                if progress is not None:
                    progress(done, len(parts))
                log.debug("partition %d committed at %.1fs", done, time.perf_counter() - started)
            in_flight = len(tasks.pending)
            room = min(tasks.window - in_flight, 4 * tasks.window - len(finished) - in_flight)
            for index in islice(waiting, max(0, room)):
                tasks.submit(index, run_id)
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None and not options.scheduler:
            cluster.close()
    return stats
