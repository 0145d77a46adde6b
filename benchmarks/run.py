"""The benchmark suite: runs the benchmark scripts, then prints one table of their latest results.

Each script writes benchmarks/results/<name>.json (with the machine and time it ran on); this one runs
them one after another, in fresh processes, and renders results/table.md, the table in the README.

    python benchmarks/run.py                 # everything (about 80 minutes on 2 cores)
    python benchmarks/run.py --only dask_engine extraction
    python benchmarks/run.py --table         # only the table, from the results on disk
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
RESULTS = HERE / "results"
SUITE = (
    "extraction",
    "decoding",
    "extraction_quality",
    "model",
    "challenge",
    "scoring",
    "dask_engine",
    "minhash",
    "image_text",
    "model_loading",
    "score_cost",
)


def run(names: list[str]) -> None:
    for name in names:
        print(f"== {name}", flush=True)
        subprocess.run([sys.executable, str(HERE / f"{name}.py")], check=True, cwd=HERE.parent)


def _load(name: str) -> dict[str, Any]:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _mark(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def rows() -> list[tuple[str, str, str, str]]:
    """(measure, result, target, met) for every benchmark that has results."""
    out: list[tuple[str, str, str, str]] = []
    ex = _load("extraction")
    if "trafilatura" in ex:
        t, r = ex["trafilatura"], ex["resiliparse"]
        out += [
            ("bare trafilatura, 1 core", f"{t['bare_pages_per_s']} pages/s", "", "—"),
            (
                "our extraction pipeline, trafilatura mode, 1 job",
                f"{t['pipeline_1_job_pages_per_s']} pages/s = {t['pipeline_vs_bare']}× bare",
                "≥ 0.85× bare",
                _mark(ex["met"]["pipeline_vs_bare"]),
            ),
            (
                "… with 2 jobs",
                f"{t['pipeline_2_jobs_pages_per_s']} pages/s = {t['two_jobs_speedup']}× 1 job",
                "≥ 1.7×",
                _mark(ex["met"]["two_jobs_speedup"]),
            ),
            (
                "bare resiliparse main content, 1 core",
                f"{r['bare_on_decoded_text_pages_per_s']} pages/s",
                "",
                "—",
            ),
            (
                "our extraction pipeline, resiliparse mode, 1 job",
                f"{r['pipeline_1_job_pages_per_s']} pages/s = {r['pipeline_vs_bare']}× bare",
                "≥ 0.85× bare",
                _mark(ex["met"]["resiliparse_pipeline_vs_bare"]),
            ),
            (
                "resiliparse mode vs trafilatura mode",
                f"{ex['resiliparse_mode_vs_trafilatura_mode']}×",
                "≥ 10×",
                _mark(ex["met"]["resiliparse_mode_vs_trafilatura_mode"]),
            ),
        ]
    decoding = _load("decoding")
    if decoding:
        shares = decoding["shares"]
        cells = {k: v for k, v in shares.items() if k.startswith("undeclared ") and v["pages"] >= 100}
        worst = min(cells, key=lambda k: cells[k]["share"])
        texts = " and ".join(f"{n} {lang}" for lang, n in decoding["texts"].items())
        out += [
            (
                f"single-byte Cyrillic pages without a declared charset decoded exactly ({texts} real texts,"
                " as written, lower case, capitals)",
                f"{shares['undeclared']['share']:.2%} of {shares['undeclared']['pages']}"
                f" (lowest: {worst.removeprefix('undeclared ')}, {cells[worst]['share']:.1%})",
                "≥ 95%",
                _mark(decoding["met"]["undeclared"]),
            ),
            (
                "… with their charset declared",
                f"{shares['declared']['share']:.2%}",
                "100%",
                _mark(decoding["met"]["declared"]),
            ),
            ("… declared as another Cyrillic charset (overruled)", f"{shares['lie']['share']:.2%}", "", "—"),
        ]
    quality = _load("extraction_quality")
    if quality:
        base = quality["trained_trafilatura_scoring_trafilatura"]["average_precision"]
        fast = quality["trained_resiliparse_scoring_resiliparse"]["average_precision"]
        mixed = quality["trained_trafilatura_scoring_resiliparse"]["average_precision"]
        out += [
            ("PR-AUC, trafilatura mode (held-out families)", f"{base}", "", "—"),
            (
                "PR-AUC, resiliparse mode (trained and scored)",
                f"{fast} (drop {quality['pr_auc_drop_fast_mode']})",
                "drop ≤ 0.01",
                _mark(quality["met"]["fast_mode"]),
            ),
            (
                "PR-AUC, default model scoring resiliparse text",
                f"{mixed}",
                "drop ≤ 0.01",
                _mark(quality["met"]["default_model_on_fast_extraction"]),
            ),
        ]
    model = _load("model")
    if "subword" in model:
        m = model["subword"]
        out += [
            (
                "training (demo corpus, extraction cached)",
                f"{m['train_seconds']} s",
                "≤ 120 s",
                _mark(model["met"]["train_seconds"]),
            ),
            (
                "classification, 1 core (~500-character texts; warm caches, and a model just loaded on unseen texts)",
                f"{m['docs_per_second_one_core']} docs/s"
                + (
                    f" (cold: {m['docs_per_second_cold_cache']})" if "docs_per_second_cold_cache" in m else ""
                ),
                "≥ 2,000 docs/s",
                _mark(model["met"]["docs_per_second_one_core"]),
            ),
        ]
    challenge = _load("challenge")
    if challenge:
        models = list(challenge["models"].values())
        book, ours = models[0], models[1]  # the textbook model, ours as configured
        out.append(
            (
                "challenge set AP (data/challenge/, never fitted on): ours vs the textbook model",
                f"{ours['challenge.average_precision']} vs {book['challenge.average_precision']}",
                "≥ 0.98 and ≥ textbook + 0.01",
                _mark(
                    ours["challenge.average_precision"] >= 0.98
                    and ours["challenge.average_precision"] >= book["challenge.average_precision"] + 0.01
                ),
            )
        )
    scoring = _load("scoring")
    if scoring:
        scale = next(
            (
                k.removeprefix("peak_rss_mb_")
                for k in scoring
                if k.startswith("peak_rss_mb_") and k != "peak_rss_mb_1x"
            ),
            "10x",
        )
        out += [
            (
                f"`classifier score` end to end, 1 job, {scoring['records_scored']} records (trafilatura mode;"
                f" measured {scoring['measured_at'][:10]})",
                f"{scoring['score_1_job_pages_per_s']} pages/s = {scoring['score_vs_bare']}× bare",
                "≥ 0.85× bare",
                _mark(scoring["met"]["score_vs_bare"]),
            ),
            (
                f"… on the {scale} input ({scoring.get(f'records_{scale}', '?')} records)",
                f"{scoring[f'pages_per_s_{scale}']} pages/s = "
                f"{round(scoring[f'pages_per_s_{scale}'] / scoring['bare_trafilatura_pages_per_s'], 3)}× bare",
                "≥ 0.85× bare",
                _mark(scoring[f"pages_per_s_{scale}"] / scoring["bare_trafilatura_pages_per_s"] >= 0.85),
            ),
            (
                f"peak memory, 1× → {scale} input",
                f"{scoring['peak_rss_mb_1x']} → {scoring[f'peak_rss_mb_{scale}']} MB "
                f"= {scoring['memory_growth']}×",
                "≤ 1.2×",
                _mark(scoring["met"]["memory_growth"]),
            ),
        ]
    out += _score_cost_rows(_load("score_cost"))
    out += _dask_rows(_load("dask_engine"))
    out += _minhash_rows()
    out += _image_text_rows()
    out += _model_loading_rows()
    return out


def _dask_rows(dask: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    if not dask:
        return []
    sizes = dask.get("sizes") or {str(dask["records"]): dask}  # results written before sizes were
    largest = max(sizes, key=int)
    out = []
    for size, run in sorted(sizes.items(), key=lambda item: int(item[0])):
        judged = size == largest
        out += [
            (
                f"Dask on {size} pages, 2 vs 1 worker: whole command",
                f"{run['dask_2_workers_pages_per_s']} vs {run['dask_1_worker_pages_per_s']} pages/s "
                f"= {run['speedup_2_vs_1_workers']}×",
                "≥ 1.7×" if judged else "",
                _mark(run["speedup_2_vs_1_workers"] >= 1.7) if judged else "—",
            ),
            (
                "… scoring loop (worker start-up included) / steady state (warm workers)",
                f"{run['loop_speedup_2_vs_1_workers']}× / {run['steady_speedup_2_vs_1_workers']}×",
                "",
                "—",
            ),
        ]
    return out


def _model_loading_rows() -> list[tuple[str, str, str, str]]:
    found = _load("model_loading")
    if not found:
        return []
    now, before = found["arrays"], found["dict"]
    return [
        (
            f"loading the model, vocabulary as arrays vs as a dict ({found['vocabulary_features']} features):"
            " skops (MLflow)",
            f"{now['skops_load_seconds']} s, {now['skops_mb']} MB vs {before['skops_load_seconds']} s,"
            f" {before['skops_mb']} MB",
            "",
            "—",
        ),
        (
            "… joblib (models/)",
            f"{now['joblib_load_seconds']} s, {now['joblib_mb']} MB vs {before['joblib_load_seconds']} s,"
            f" {before['joblib_mb']} MB",
            "",
            "—",
        ),
    ]


def _image_text_rows() -> list[tuple[str, str, str, str]]:
    found = _load("image_text")
    if not found:
        return []
    recall, cost = found["recall"], found["cost"]
    pictures, text = recall["pictures"], recall["text"]
    return [
        (
            f"recall at the threshold, held-out demo violations with their text only in pictures vs as text"
            f" ({pictures['violations']} pages each)",
            f"{pictures['recall_at_threshold']:.3f} vs {text['recall_at_threshold']:.3f}"
            f" (gap {recall['recall_gap']:.3f})",
            "gap ≤ 0.05",
            _mark(recall["target_met"]),
        ),
        (
            f"OCR, 1 core, a crawl of {cost['pages']} pages, 10% with pictures",
            f"{cost['images_per_second']} images/s ({cost['seconds_per_image']} s each);"
            f" {cost['share_of_time_ocr_adds']:.0%} of extraction time",
            "",
            "—",
        ),
    ]


def _minhash_rows() -> list[tuple[str, str, str, str]]:
    minhash = _load("minhash")
    if not minhash:
        return []
    speed, decision = minhash["signatures_per_second"], minhash["decision"]
    ours, theirs = minhash["grouping"]["hand-written"], minhash["grouping"]["datasketch"]
    rensa = f", rensa {speed['rensa']}" if "rensa" in speed else ""
    return [
        (
            f"MinHash signatures/s ({minhash['pages']} demo pages): datasketch vs the hand-written one",
            f"{speed['datasketch']} vs {speed['hand-written']}{rensa}",
            "≥ 0.5× hand-written",
            _mark(decision["met"]["speed"]),
        ),
        (
            "… duplicate grouping, ARI vs exact Jaccard grouping: datasketch vs hand-written",
            f"{theirs['jaccard_vs_exact']['adjusted_rand_index_mean']} vs "
            f"{ours['jaccard_vs_exact']['adjusted_rand_index_mean']}",
            "≥ hand-written − 0.01",
            _mark(decision["met"]["as_close_to_exact"]),
        ),
        (
            "… text grouping, ARI vs the hand-written one's: datasketch vs hand-written under another seed",
            f"{theirs['text_vs_hand_written']['adjusted_rand_index_mean']} vs "
            f"{ours['text_vs_hand_written']['adjusted_rand_index_mean']}",
            "≥ hand-written − 0.01",
            _mark(decision["met"]["agrees_with_hand_written_as_it_does_with_itself"]),
        ),
    ]


def _score_cost_rows(cost: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    if not cost:
        return []
    n, fixed, slope, bare = (
        cost["pages"],
        cost["fixed_seconds"],
        cost["per_page_ms"],
        cost["bare_per_page_ms"],
    )
    return [
        (
            "`classifier score`, fixed cost: the whole command on 10 pages (resiliparse / trafilatura mode)",
            f"{fixed['resiliparse']} s / {fixed['trafilatura']} s",
            "< 2 s",
            _mark(cost["met"]["fixed_seconds"]),
        ),
        (
            "… cost per page, slope from 1,000 to 10,000 pages (resiliparse / trafilatura mode; bare loops)",
            f"{slope['resiliparse']} / {slope['trafilatura']} ms "
            f"(bare {bare['resiliparse']} / {bare['trafilatura']} ms)",
            "",
            "—",
        ),
        (
            f"… fast mode vs trafilatura mode, whole command on {n} pages",
            f"{cost['fast_vs_trafilatura_mode']}×",
            "≥ 10×",
            _mark(cost["met"]["fast_vs_trafilatura_mode"]),
        ),
        (
            f"… fast mode vs a bare resiliparse loop, {n} pages",
            f"{cost['fast_vs_bare_resiliparse']}×",
            "≥ 0.5×",
            _mark(cost["met"]["fast_vs_bare_resiliparse"]),
        ),
        (
            f"… peak memory, 1,000 → {n} pages (fast mode)",
            f"{cost['runs']['resiliparse']['1000']['peak_rss_mb']} → "
            f"{cost['runs']['resiliparse'][str(n)]['peak_rss_mb']} MB = {cost['memory_growth']}×",
            "≤ 1.2×",
            _mark(cost["met"]["memory_growth"]),
        ),
    ]


def table() -> str:
    measured = [_load(n) for n in SUITE if _load(n)]
    dates = sorted(result["measured_at"][:10] for result in measured)
    machines = sorted({(r["machine"]["cpus"], r["machine"]["python"]) for r in measured})
    platforms = sorted({r["machine"]["platform"] for r in measured})
    lines = ["| measure | result | target | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows()]
    span = dates[0] if dates[0] == dates[-1] else f"{dates[0]}–{dates[-1]}"
    on = "; ".join(f"{cpus} cores, Python {python}" for cpus, python in machines)
    lines += ["", f"Measured {span} on {on} ({', '.join(platforms)})."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", choices=SUITE, help="run only these benchmarks")
    parser.add_argument("--table", action="store_true", help="only print the table from results on disk")
    args = parser.parse_args()
    if not args.table:
        run(args.only or list(SUITE))
    text = table()
    (RESULTS / "table.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
