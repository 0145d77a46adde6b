"""Extraction throughput in both modes: bare extractors versus our ingest + extract + normalise.

Writes benchmarks/results/extraction.json (OCR off: the bare extractors read no images). Targets:
- issue 2: our pipeline (trafilatura mode) keeps >= 85% of bare trafilatura's single-process pages/s,
  and 2 jobs give >= 1.7x one job;
- issue 6: the resiliparse mode gives >= 10x the pages/s of the trafilatura mode, and our pipeline in
  that mode keeps >= 85% of bare resiliparse (``extract_plain_text(main_content=True)``).

    python benchmarks/extraction.py [--warc data/demo/pages.warc.gz] [--pages 2000]
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from dataclasses import replace
from pathlib import Path

import trafilatura
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree
from warcio.archiveiterator import ArchiveIterator

from classifier.common.config import DATA_DIR, load_settings
from classifier.corpus.build import generate_corpus
from classifier.extract.run import extract_documents
from classifier.ingest.decoding import decode_html
from classifier.ingest.sources import iter_records
from classifier.text.normalize import normalize_text
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


def bare_resiliparse(pages: list[str]) -> float:
    started = time.perf_counter()
    for page in pages:
        extract_plain_text(HTMLTree.parse(page), main_content=True)
    return len(pages) / (time.perf_counter() - started)


def our_pipeline(warc: Path, pages: int, n_jobs: int, engine: str = "trafilatura") -> float:
    """Pages/s of ingest + extract (with contacts and language id) + the model's normalisation, no cache."""
    settings = load_settings()
    # OCR off: the bare extractors read no images, and image_text.py measures what reading them costs
    extract_settings = replace(settings.extract, n_jobs=n_jobs, engine=engine, ocr=False)
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
    best = lambda measure: max(measure() for _ in range(args.repeats))  # noqa: E731
    # warm-up: imports and language models, in this process and in the (reused) worker pool
    our_pipeline(args.warc, min(pages, 50), 1)
    our_pipeline(args.warc, min(pages, 50), 1, "resiliparse")
    our_pipeline(args.warc, min(pages, 200), 2)
    bare = best(lambda: bare_trafilatura(payloads))
    decoded = [decode_html(p).text for p in payloads]  # the same pages, decoded as our ingestion does
    bare_str = best(lambda: bare_trafilatura(decoded))
    bare_fast = best(lambda: bare_resiliparse(decoded))
    ours_1 = best(lambda: our_pipeline(args.warc, pages, 1))
    ours_2 = best(lambda: our_pipeline(args.warc, pages, 2))
    fast_1 = best(lambda: our_pipeline(args.warc, pages, 1, "resiliparse"))
    fast_2 = best(lambda: our_pipeline(args.warc, pages, 2, "resiliparse"))
    met = {
        "pipeline_vs_bare": ours_1 / bare >= 0.85,
        "two_jobs_speedup": ours_2 / ours_1 >= 1.7,
        "resiliparse_mode_vs_trafilatura_mode": fast_1 / ours_1 >= 10,
        "resiliparse_pipeline_vs_bare": fast_1 / bare_fast >= 0.85,
    }
    result = {
        "pages": pages,
        "trafilatura": {
            "bare_pages_per_s": round(bare, 1),
            "bare_on_decoded_text_pages_per_s": round(bare_str, 1),
            "pipeline_1_job_pages_per_s": round(ours_1, 1),
            "pipeline_2_jobs_pages_per_s": round(ours_2, 1),
            "pipeline_vs_bare": round(ours_1 / bare, 3),
            "two_jobs_speedup": round(ours_2 / ours_1, 3),
        },
        "resiliparse": {
            "bare_on_decoded_text_pages_per_s": round(bare_fast, 1),
            "pipeline_1_job_pages_per_s": round(fast_1, 1),
            "pipeline_2_jobs_pages_per_s": round(fast_2, 1),
            "pipeline_vs_bare": round(fast_1 / bare_fast, 3),
            "bare_vs_bare_trafilatura": round(bare_fast / bare_str, 1),
        },
        "resiliparse_mode_vs_trafilatura_mode": round(fast_1 / ours_1, 2),
        "targets": {
            "pipeline_vs_bare": 0.85,
            "two_jobs_speedup": 1.7,
            "resiliparse_mode_vs_trafilatura_mode": 10,
            "resiliparse_pipeline_vs_bare": 0.85,
        },
        "met": met,
        "note": "pipeline = ingest (charset detection) + extraction + contacts + language id + normalisation; "
        "OCR off (benchmarks/image_text.py measures it)",
        "versions": {"trafilatura": trafilatura.__version__},
    }
    write_results("extraction", result)


if __name__ == "__main__":
    main()
