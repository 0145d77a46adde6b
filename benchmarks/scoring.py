"""Batch scoring end to end: `classifier score` against bare trafilatura, and memory as the input grows.

Writes benchmarks/results/scoring.json. Targets (issue 4):
- `classifier score` on the demo WARC (ingest, extraction, model, evidence, duplicate grouping,
  ranking, queue file, case store, drift) keeps >= 85% of bare `trafilatura.extract` pages/s on the same
  pages, both in one process;
- scoring 10x the input costs at most 1.2x the peak memory (RSS of the scoring process, one job).

    python benchmarks/scoring.py [--pages 2000] [--scale 10] [--model models/drug-ad-classifier]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from classifier.config import DEFAULT_PARAMS, MODELS_DIR, load_settings
from classifier.corpus.generator import generate_corpus
from extraction import bare_trafilatura, html_payloads
from results_file import write_results


def score_command(warc: Path, out_dir: Path, model: str, jobs: int, params: Path) -> tuple[float, float, int]:
    """Run `classifier score` in a fresh process: (wall seconds, peak RSS in MB, records scored)."""
    executable = Path(sys.executable).with_name("classifier")
    out = out_dir / f"queue-{jobs}-{warc.parent.name}.csv"
    args = [
        str(executable),
        "--params",
        str(params),
        "score",
        str(warc),
        "--model",
        model,
        "--out",
        str(out),
        "--db",
        f"sqlite:///{out.with_suffix('.db')}",
        "--checkpoints",
        str(out_dir / "runs"),
        "--jobs",
        str(jobs),
        "--no-cache",
    ]
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"classifier score failed: {process.stderr.read().decode()[-2000:]}")
    records = sum(1 for _ in out.open(encoding="utf-8")) - 1
    return seconds, usage.ru_maxrss / 1024, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--scale", type=int, default=10, help="the larger input is this many times bigger")
    parser.add_argument("--model", default=str(MODELS_DIR / "drug-ad-classifier"))
    parser.add_argument("--repeats", type=int, default=2, help="best of N for the throughput runs")
    args = parser.parse_args()
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    if not Path(args.model).exists() and not args.model.startswith("models:/"):
        sys.exit(f"no model at {args.model}: run `bash scripts/demo.sh` first")
    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="scoring-bench-") as tmp:
        work = Path(tmp)
        # drift runs go to a temporary MLflow store: a benchmark must not fill the project's
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
        params = DEFAULT_PARAMS
        small, large = work / "x1", work / f"x{args.scale}"
        generate_corpus(small, settings.corpus, n=args.pages, seed=101)
        generate_corpus(large, settings.corpus, n=args.pages * args.scale, seed=202)
        warc = small / "pages.warc.gz"
        payloads = html_payloads(warc, args.pages)
        bare = max(bare_trafilatura(payloads) for _ in range(args.repeats))
        runs = {
            jobs: [score_command(warc, work, args.model, jobs, params) for _ in range(args.repeats)]
            for jobs in (1, 2)
        }
        one_job = min(runs[1])
        two_jobs = min(runs[2])
        rate_1 = one_job[2] / one_job[0]
        rate_2 = two_jobs[2] / two_jobs[0]
        memory_small = min(run[1] for run in runs[1])
        large_seconds, memory_large, large_records = score_command(
            large / "pages.warc.gz", work, args.model, 1, params
        )
        shutil.rmtree(work / "runs", ignore_errors=True)
    ratio = rate_1 / bare
    growth = memory_large / memory_small
    write_results(
        "scoring",
        {
            "pages": len(payloads),
            "records_scored": one_job[2],
            "bare_trafilatura_pages_per_s": round(bare, 1),
            "score_1_job_pages_per_s": round(rate_1, 1),
            "score_2_jobs_pages_per_s": round(rate_2, 1),
            "score_vs_bare": round(ratio, 3),
            "score_2_jobs_vs_bare": round(rate_2 / bare, 3),
            "peak_rss_mb_1x": round(memory_small, 1),
            f"peak_rss_mb_{args.scale}x": round(memory_large, 1),
            f"records_{args.scale}x": large_records,
            f"seconds_{args.scale}x": round(large_seconds, 1),
            "memory_growth": round(growth, 3),
            "targets": {"score_vs_bare": 0.85, "memory_growth": 1.2},
            "met": {"score_vs_bare": ratio >= 0.85, "memory_growth": growth <= 1.2},
            "note": "wall time of the whole command, including start-up, model loading and drift logging",
            "model": args.model,
        },
    )


if __name__ == "__main__":
    main()
