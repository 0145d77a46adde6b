"""One function per ``classifier`` command: settings from the arguments, one call into the stage that
does the work, and what to print. Stage modules are imported inside each command, so that
``classifier --help`` and light commands start without loading MLflow or scikit-learn.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from classifier.cli.printing import (
    PartitionBar,
    print_counts,
    print_metrics,
    print_score_summary,
    progress,
    record_progress,
)
from classifier.common.config import DEFAULT_PARAMS, EXTRACT_CACHE, Settings, load_settings

if TYPE_CHECKING:
    from classifier.modeling.train import TrainResult
    from classifier.queue import CaseStore


def settings_from_args(args: argparse.Namespace) -> Settings:
    """params.yaml (or --params) with --set changes, then the options that override a setting."""
    settings = load_settings(args.params, getattr(args, "set", None) or ())
    extractor = getattr(args, "extractor", None)
    if extractor:  # --extractor overrides params extract.engine
        settings = replace(settings, extract=replace(settings.extract, engine=extractor))
    if getattr(args, "allow_untrusted_model", False):
        settings = replace(settings, score=replace(settings.score, allow_untrusted_model=True))
    if getattr(args, "jobs", None):
        settings = replace(settings, extract=replace(settings.extract, n_jobs=args.jobs))
    return settings


def parse_tags(pairs: list[str]) -> dict[str, str]:
    """--tag key=value ... as a dict."""
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--tag wants key=value, not {pair!r}")
        tags[key.strip()] = value
    return tags


def case_store(args: argparse.Namespace, settings: Settings) -> CaseStore:
    from classifier.queue import CaseStore

    return CaseStore(args.db or settings.score.db or None, score_settings=settings.score)


def demo_data(args: argparse.Namespace) -> int:
    from classifier.corpus.build import generate_corpus

    started = time.perf_counter()
    summary = generate_corpus(Path(args.out), settings_from_args(args).corpus, n=args.n, seed=args.seed)
    elapsed = time.perf_counter() - started
    print(f"wrote {summary['pages']} pages to {args.out}/pages.warc.gz in {elapsed:.1f}s")
    print_counts(summary)
    return 0


def extract(args: argparse.Namespace) -> int:
    from classifier.extract.run import extract_to_file

    settings = settings_from_args(args)
    cache = EXTRACT_CACHE if not args.no_cache and settings.extract.cache else None
    print_counts(extract_to_file(args.inputs, Path(args.out), settings, cache, progress))
    return 0


def demo(args: argparse.Namespace) -> int:
    """The whole job on the bundled demo data: corpus, ingestion, extraction, training, scoring."""
    from classifier.demo import DemoError, run_demo

    try:
        result = run_demo(
            settings_from_args(args),
            Path(args.out),
            n=args.n,
            params_path=args.params or DEFAULT_PARAMS,
            use_cache=not args.no_cache,
            train_model=not args.no_train,
            show=print_counts,
            trained=_print_training,
            progress=progress,
            score_progress=record_progress,
        )
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if result.scoring is not None:
        print_score_summary(asdict(result.scoring))
        print(f"done: the ranked queue is in {result.queue_file}, the cases in {result.scoring.case_store}")
        print(
            "review the cases in the browser: classifier users add NAME --role admin, then classifier review"
            " (http://127.0.0.1:8000/)"
        )
    return 0


def _print_training(result: TrainResult) -> None:
    print_metrics(result.metrics)
    role = "champion" if result.promoted else "challenger"
    print(f"model version {result.version} is the {role}; evaluation report in {result.report_dir}")


def train(args: argparse.Namespace) -> int:
    from classifier.modeling.train import train as train_model

    result = train_model(
        settings_from_args(args),
        [Path(p) for p in args.data] if args.data else None,
        params_path=args.params or DEFAULT_PARAMS,
        labels=[Path(p) for p in args.labels] if args.labels else None,
        run_name=args.run_name,
        tags=parse_tags(args.tag or []) | ({"overrides": " ".join(args.set)} if args.set else {}),
    )
    print_metrics(result.metrics)
    print(f"report: {result.report_dir}")
    return 0


def search(args: argparse.Namespace) -> int:
    from classifier.modeling.search import search as search_space

    settings = settings_from_args(args)
    data = [Path(p) for p in args.data] if args.data else None
    result = search_space(settings, data=data, register=not args.no_register)
    print(result.table().drop(columns="run_id").to_string(index=False, float_format="{:.4f}".format))
    print(
        f"best: {result.best.overrides} (MLflow run {result.parent_run}, experiment {settings.search.experiment})"
    )
    if result.registered is not None:
        print(f"registered version {result.registered.version}: {result.registered.gate_reason}")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    from classifier.modeling.report import evaluate_model

    metrics = evaluate_model(
        args.model, [Path(p) for p in args.data], Path(args.out), settings_from_args(args)
    )
    print_metrics(metrics)
    print(f"wrote metrics.json, predictions.csv and plots to {args.out}")
    return 0


def promote(args: argparse.Namespace) -> int:
    from classifier.modeling.promote import promote as promote_version

    reason = args.reason or "promoted by hand"
    out = Path(args.out) if args.out else None
    done = promote_version(args.version, settings_from_args(args), by=args.by, reason=reason, out=out)
    if done.warning:
        print(f"warning: {done.warning}")
    print(
        f"version {done.version} of {done.name} is now the champion ({done.reason}); exported to {done.folder}"
    )
    return 0


def score(args: argparse.Namespace) -> int:
    from classifier.score.distributed import dask_options
    from classifier.score.engine import check_queue_file, score_inputs

    settings = settings_from_args(args)
    dask = dask_options(args.engine, args.scheduler, args.workers, args.partition_records)
    check_queue_file(Path(args.out))  # before the case store is opened (and, the first time, made)
    partitions = PartitionBar()
    with case_store(args, settings) as store:
        summary = score_inputs(
            args.inputs,
            Path(args.out),
            settings,
            store,
            model_ref=args.model,
            use_cache=not args.no_cache,
            progress=record_progress,
            runs_dir=Path(args.checkpoints),
            dask=dask,
            partition_progress=partitions,
        )
    partitions.close()
    print_score_summary(asdict(summary))
    return 0
