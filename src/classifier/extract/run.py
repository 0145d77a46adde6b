"""Extraction of a stream of records: batches run in parallel (joblib), cached documents pass through,
and documents come out in input order, one per record.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from pathlib import Path
from typing import Any

import pandas as pd
from joblib import Parallel, delayed

from classifier.common.batching import batched
from classifier.common.config import ExtractSettings, Settings
from classifier.common.outputs import TableWriter
from classifier.extract.cache import ExtractionCache, settings_fingerprint
from classifier.extract.documents import DOCUMENT_FIELDS, TIMEOUT_REASON, base_document, extract_document
from classifier.extract.ocr import OCR_CACHE
from classifier.ingest.records import IngestStats, Record
from classifier.ingest.sources import iter_records


def _with_source(doc: dict[str, Any], record: Record) -> dict[str, Any]:
    # a cached document keeps its content, but where this copy came from is this run's
    return {**doc, "source": record.source, "fetched_at": record.fetched_at}


def extract_documents(
    records: Iterable[Record], settings: ExtractSettings, cache_path: Path | None = None
) -> Iterator[dict[str, Any]]:
    """Documents for ``records``, in input order, one per record. With a cache, texts read from images
    are kept across runs too (``ocr.OCR_CACHE``)."""
    cache = ExtractionCache(cache_path, settings_fingerprint(settings)) if cache_path else None
    ocr_cache = OCR_CACHE if cache_path else None
    try:
        tasks = (
            _plan_batch(batch, settings, cache, ocr_cache) for batch in batched(records, settings.batch_size)
        )
        # a single batch runs here: starting worker processes would cost more than it (~0.5 s)
        first = list(islice(tasks, 2))
        tasks = chain(first, tasks)
        if settings.n_jobs == 1 or len(first) < 2:
            results = (task() for task in tasks)
        else:
            parallel = Parallel(n_jobs=settings.n_jobs, return_as="generator", pre_dispatch="4*n_jobs")
            results = parallel(delayed(task)() for task in tasks)
        for docs, fresh in results:
            if cache is not None and fresh:
                cache.put_many(fresh)
            yield from docs
    finally:
        if cache is not None:
            cache.close()


class _BatchTask:
    """A picklable unit of work: cached documents pass through, other records are extracted."""

    def __init__(
        self, items: list[Record | dict[str, Any]], settings: ExtractSettings, ocr_cache: Path | None
    ):
        self.items = items
        self.settings = settings
        self.ocr_cache = ocr_cache

    def __call__(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        # trafilatura logs every short page at ERROR; the full-text fallback handles them
        logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
        docs, fresh = [], []
        for item in self.items:
            if isinstance(item, Record):
                doc = extract_document(item, self.settings, self.ocr_cache)
                if not str(doc["error"] or "").startswith(TIMEOUT_REASON):  # a later run may be faster
                    fresh.append(doc)
            else:
                doc = item
            docs.append(doc)
        return docs, fresh


def _plan_batch(
    batch: list[Record], settings: ExtractSettings, cache: ExtractionCache | None, ocr_cache: Path | None
) -> _BatchTask:
    cached = cache.get_many([r.id for r in batch if r.status == "ok"]) if cache else {}
    items: list[Record | dict[str, Any]] = []
    for record in batch:
        if record.status != "ok":
            items.append(base_document(record))
        elif record.id in cached:
            items.append(_with_source(cached[record.id], record))
        else:
            items.append(record)
    return _BatchTask(items, settings, ocr_cache)


def extract_to_file(
    inputs: list[str],
    out: Path,
    settings: Settings,
    cache_path: Path | None = None,
    progress: Callable[[Iterator[dict[str, Any]]], Iterator[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Ingest and extract ``inputs`` into the table ``out``; return the run's summary (counts by status,
    error reason, language, extractor and what became of the pages' images, and speed)."""
    stats = IngestStats()
    documents = extract_documents(iter_records(inputs, settings.ingest, stats), settings.extract, cache_path)
    kinds = ("status", "errors", "lang", "extractor", "images")
    counts: dict[str, Counter[str]] = {key: Counter() for key in kinds}
    started = time.perf_counter()
    with TableWriter(out, DOCUMENT_FIELDS) as writer:
        for doc in progress(documents) if progress else documents:
            writer.write([doc])
            counts["status"][doc["status"]] += 1
            counts["extractor"][doc["extractor"]] += 1
            if doc["status"] == "ok":
                counts["lang"][doc["lang"]] += 1
                counts["images"].update(image_outcome(image) for image in doc["images"])
            else:
                counts["errors"][str(doc["error"]).split(":")[0]] += 1
    elapsed = time.perf_counter() - started
    total = sum(counts["status"].values())
    _provenance(out).write_text(json.dumps(_made_from(inputs, settings.extract)), encoding="utf-8")
    return {
        "output": str(out),
        "records": total,
        "status": dict(counts["status"]),
        "errors": dict(counts["errors"].most_common()),
        "lang": dict(counts["lang"].most_common()),
        "extractor": dict(counts["extractor"].most_common()),
        "images": dict(counts["images"].most_common()),
        "skipped": stats.as_dict()["skipped"],
        "seconds": round(elapsed, 2),
        "records_per_second": round(total / elapsed, 1) if elapsed else None,
    }


def image_outcome(image: dict[str, Any]) -> str:
    """What became of one image of a page, for counting: "text read", "no text", or the reason's kind."""
    if image["error"]:
        return str(image["error"]).split(":")[0]
    return "text read" if image["text"] else "no text"


def _provenance(table: Path) -> Path:
    return table.with_name(table.name + ".provenance.json")


def _made_from(inputs: list[str], settings: ExtractSettings) -> dict[str, Any]:
    """What a documents table was extracted from: the inputs as they are now, and the settings."""
    files = [Path(i).resolve() for i in inputs]
    return {
        "inputs": [
            [str(f), f.stat().st_size, f.stat().st_mtime_ns] if f.is_file() else [str(f)] for f in files
        ],
        "settings": settings_fingerprint(settings),
    }


def reuse_documents(table: Path, inputs: list[str], settings: ExtractSettings) -> pd.DataFrame | None:
    """The documents ``extract_to_file`` wrote to ``table`` from these very inputs with these settings,
    nested fields restored; None when there are none, or they came from other inputs or settings."""
    try:
        made_from = json.loads(_provenance(table).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if made_from != json.loads(json.dumps(_made_from(inputs, settings))) or table.suffix != ".parquet":
        return None
    documents = pd.read_parquet(table)
    documents = documents.astype(object).where(
        documents.notna(), None
    )  # empty cells as extraction gives them
    for column in ("links", "contacts", "images"):  # JSON strings in Parquet (common.outputs)
        documents[column] = documents[column].map(lambda cell: json.loads(cell) if cell else cell)
    return documents
