"""Where the time of `classifier score` goes: fixed cost, cost per page, and both extraction modes against
bare loops, all on the same input.

Writes benchmarks/results/score_cost.json. Targets (issue 21):
- fixed cost < 2 s: the whole command on 10 pages;
- the fast mode (`--extractor resiliparse`) >= 10x the trafilatura mode end to end on the large input,
  and >= 0.5x a bare loop there (warcio + resiliparse main-content text, UTF-8 only, in one process);
- peak memory on 10x the pages <= 1.2x.
The cost per page is the slope between the 1,000- and the 10,000-page runs (so without the fixed cost).
Every run is a fresh process with one extraction job and no cache. OCR is off in all of them: the bare
loops read no images, and benchmarks/image_text.py measures what reading them costs.

    python benchmarks/score_cost.py [--pages 10000] [--model models/drug-ad-classifier]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from classifier.common.config import DEFAULT_PARAMS, MODELS_DIR, PROJECT_ROOT, load_settings
from classifier.corpus.build import generate_corpus
from results_file import write_results
from scoring import score_command

SMALL, MEDIUM = 10, 1000
_BARE_LOOP = """
import sys
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree
from warcio.archiveiterator import ArchiveIterator
{extract_import}
with open(sys.argv[1], "rb") as stream:
    for record in ArchiveIterator(stream):
        if record.rec_type == "response" and "html" in (record.http_headers.get_header("Content-Type") or ""):
            page = record.content_stream().read().decode("utf-8", errors="replace")
            {extract_call}
"""
BARE_LOOPS = {
    "resiliparse": _BARE_LOOP.format(
        extract_import="", extract_call="extract_plain_text(HTMLTree.parse(page), main_content=True)"
    ),
    "trafilatura": _BARE_LOOP.format(
        extract_import="import trafilatura", extract_call="trafilatura.extract(page, favor_recall=True)"
    ),
}


def first_pages(source: Path, target: Path, pages: int) -> Path:
    """The archive's records up to its ``pages``-th HTML page (with the images archived among them)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    seen = 0
    with source.open("rb") as stream, target.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for record in ArchiveIterator(stream):
            is_page = record.rec_type == "response" and "html" in (
                record.http_headers.get_header("Content-Type") or ""
            )
            if is_page and seen == pages:
                break
            writer.write_record(record)
            seen += is_page
    return target


def bare_loop(kind: str, warc: Path) -> float:
    """Wall seconds of a bare loop over ``warc`` in a fresh process, imports included."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", BARE_LOOPS[kind], str(warc)], check=True)
    return time.perf_counter() - started


def params_without_ocr(folder: Path) -> Path:
    params = yaml.safe_load(DEFAULT_PARAMS.read_text(encoding="utf-8"))
    params["extract"]["ocr"] = False
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--pages", type=int, default=10_000, help="the large input; the others are 10 and 1,000"
    )
    parser.add_argument("--model", default=str(MODELS_DIR / "drug-ad-classifier"))
    args = parser.parse_args()
    if not Path(args.model).exists():
        sys.exit(f"no model at {args.model}: run `bash scripts/demo.sh` first")
    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="score-cost-") as tmp:
        work = Path(tmp)
        # drift runs go to a temporary MLflow store: a benchmark must not fill the project's
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
        params = params_without_ocr(work)
        generate_corpus(work / "corpus", settings.corpus, n=args.pages, seed=303)
        large = work / "corpus" / "pages.warc.gz"
        inputs = {n: first_pages(large, work / f"p{n}" / "pages.warc.gz", n) for n in (SMALL, MEDIUM)}
        inputs[args.pages] = large
        bare = {kind: bare_loop(kind, large) for kind in BARE_LOOPS}
        score_command(inputs[SMALL], work, args.model, 1, params)  # creates the MLflow store: not measured
        runs: dict[str, dict[int, dict[str, float]]] = {}
        for mode in ("resiliparse", "trafilatura"):
            extra = ("--extractor", mode)
            runs[mode] = {
                n: score_command(path, work, args.model, 1, params, extra) for n, path in inputs.items()
            }
    write_results("score_cost", _summary(runs, bare, args.pages, args.model))


def _summary(runs: dict, bare: dict[str, float], pages: int, model: str) -> dict:
    fast, slow = runs["resiliparse"], runs["trafilatura"]
    fixed = fast[SMALL]["seconds"]
    per_page = {
        mode: (r[pages]["seconds"] - r[MEDIUM]["seconds"]) / (r[pages]["records"] - r[MEDIUM]["records"])
        for mode, r in runs.items()
    }
    vs_trafilatura = slow[pages]["seconds"] / fast[pages]["seconds"]
    vs_bare = bare["resiliparse"] / fast[pages]["seconds"]
    memory = fast[pages]["rss_mb"] / fast[MEDIUM]["rss_mb"]
    return {
        "pages": pages,
        "runs": {
            mode: {
                str(n): {
                    "records": r["records"],
                    "seconds": round(r["seconds"], 2),
                    "pages_per_s": round(r["pages_per_s"], 1),
                    "peak_rss_mb": round(r["rss_mb"], 1),
                }
                for n, r in by_size.items()
            }
            for mode, by_size in runs.items()
        },
        "bare_loop_seconds": {kind: round(s, 2) for kind, s in bare.items()},
        # where a run's time goes, stage by stage (from the command's log)
        "stages_seconds": {
            mode: {str(n): _stages(r) for n, r in by_size.items() if n in (SMALL, pages)}
            for mode, by_size in runs.items()
        },
        "fixed_seconds": {mode: round(r[SMALL]["seconds"], 2) for mode, r in runs.items()},
        "per_page_ms": {mode: round(1000 * s, 3) for mode, s in per_page.items()},
        "bare_per_page_ms": {kind: round(1000 * s / pages, 3) for kind, s in bare.items()},
        "fast_vs_trafilatura_mode": round(vs_trafilatura, 2),
        "fast_vs_bare_resiliparse": round(vs_bare, 3),
        "trafilatura_mode_vs_bare_trafilatura": round(bare["trafilatura"] / slow[pages]["seconds"], 3),
        "memory_growth": round(memory, 3),
        "targets": {
            "fixed_seconds": 2.0,
            "fast_vs_trafilatura_mode": 10.0,
            "fast_vs_bare_resiliparse": 0.5,
            "memory_growth": 1.2,
        },
        "met": {
            "fixed_seconds": fixed < 2.0,
            "fast_vs_trafilatura_mode": vs_trafilatura >= 10.0,
            "fast_vs_bare_resiliparse": vs_bare >= 0.5,
            "memory_growth": memory <= 1.2,
        },
        "note": "whole `classifier score` processes, 1 extraction job, no cache, OCR off, drift logged to "
        "a temporary MLflow store; the model is an exported folder (a registry alias adds MLflow's client)",
        "model": os.path.relpath(Path(model).resolve(), PROJECT_ROOT),
    }


def _stages(run: dict) -> dict[str, float]:
    """Seconds of each part of one run, from its log: the model, the loop (read, extract, score),
    grouping and ranking, the queue file and case store, drift; the rest is the interpreter, imports
    and exit (the log counts from the start of score_inputs)."""
    marks = run["stages"]
    parts, previous = {}, 0.0
    for part, mark in (
        ("model", "model_loaded"),
        ("loop", "scored"),
        ("ranking", "ranked"),
        ("outputs", "written"),
        ("drift", "drift_logged"),
    ):
        parts[part] = marks[mark] - previous
        previous = marks[mark]
    parts["imports_and_exit"] = run["seconds"] - previous
    return {name: round(value, 2) for name, value in parts.items()}


if __name__ == "__main__":
    main()
