"""Extraction throughput: bare `trafilatura.extract` versus our ingest + extract + normalise.

Writes benchmarks/results/extraction.json. Targets (issue 2): our pipeline keeps >= 85% of bare
trafilatura's single-process pages/s, and 2 jobs give >= 1.7x one job.

    python benchmarks/extraction.py [--warc data/demo/pages.warc.gz] [--pages 1000]
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from dataclasses import replace
from pathlib import Path

import trafilatura
from warcio.archiveiterator import ArchiveIterator

from classifier.config import DATA_DIR, load_settings
from classifier.corpus.generator import generate_corpus
from classifier.decoding import decode_html
from classifier.extract import extract_documents
from classifier.ingest import iter_records
from classifier.normalize import normalize_text
from results_file import write_results


def html_payloads(warc: Path, limit: int) -> list[bytes]:
    payloads = []
    with warc.open("rb") as stream:
        for record in ArchiveIterator(stream):
            content_type = record.http_headers.get_header("Content-Type", "") if record.http_headers else ""
            if record.rec_type == "response" and content_type.startswith("text/html"):
                payloads.append(record.content_stream().read())
                if len(payloads) >= limit:
                    break
    return payloads


def bare_trafilatura(payloads: list[bytes] | list[str]) -> float:
    started = time.perf_counter()
    for payload in payloads:
        trafilatura.extract(payload)
    return len(payloads) / (time.perf_counter() - started)


def our_pipeline(warc: Path, pages: int, n_jobs: int) -> float:
    """Pages/s of ingest + extract (with language id) + the model's normalisation, no cache."""
    settings = load_settings()
    extract_settings = replace(settings.extract, n_jobs=n_jobs)
    started = time.perf_counter()
    count = 0
    for doc in extract_documents(iter_records([warc], settings.ingest), extract_settings, cache_path=None):
        normalize_text(doc["text"])
        count += 1
        if count >= pages:
            break
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warc", type=Path, default=DATA_DIR / "demo" / "pages.warc.gz")
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=2, help="best of N runs for each measurement")
    args = parser.parse_args()
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message=".*tasks which were still being processed")
    if not args.warc.exists():
        generate_corpus(args.warc.parent, load_settings().corpus)
    payloads = html_payloads(args.warc, args.pages)
    pages = len(payloads)
    # warm-up: imports and language models, in this process and in the (reused) worker pool
    our_pipeline(args.warc, min(pages, 50), 1)
    our_pipeline(args.warc, min(pages, 200), 2)
    bare = max(bare_trafilatura(payloads) for _ in range(args.repeats))
    # the same pages already decoded: trafilatura without its own charset guessing
    decoded = [decode_html(p).text for p in payloads]
    bare_str = max(bare_trafilatura(decoded) for _ in range(args.repeats))
    ours_1 = max(our_pipeline(args.warc, pages, 1) for _ in range(args.repeats))
    ours_2 = max(our_pipeline(args.warc, pages, 2) for _ in range(args.repeats))
    result = {
        "pages": pages,
        "bare_trafilatura_pages_per_s": round(bare, 1),
        "bare_trafilatura_on_decoded_text_pages_per_s": round(bare_str, 1),
        "pipeline_1_job_pages_per_s": round(ours_1, 1),
        "pipeline_2_jobs_pages_per_s": round(ours_2, 1),
        "pipeline_vs_bare": round(ours_1 / bare, 3),
        "pipeline_vs_bare_on_decoded_text": round(ours_1 / bare_str, 3),
        "two_jobs_speedup": round(ours_2 / ours_1, 3),
        "targets": {"pipeline_vs_bare": 0.85, "two_jobs_speedup": 1.7},
        "met": {"pipeline_vs_bare": ours_1 / bare >= 0.85, "two_jobs_speedup": ours_2 / ours_1 >= 1.7},
        "trafilatura": trafilatura.__version__,
    }
    write_results("extraction", result)


if __name__ == "__main__":
    main()
