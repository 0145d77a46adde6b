"""The `classifier` command: argument parsing, progress bars and exit codes; the work is elsewhere."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from classifier.config import (
    DATA_DIR,
    DEFAULT_PARAMS,
    EXTRACT_CACHE,
    EXTRACT_ENGINES,
    SCORE_RUNS_DIR,
    Settings,
    load_settings,
)

log = logging.getLogger("classifier")
DEMO_DIR = DATA_DIR / "demo"
PROCESSED_DIR = DATA_DIR / "processed"


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.params, getattr(args, "set", None) or ())
    extractor = getattr(args, "extractor", None)
    if extractor:  # --extractor overrides params extract.engine
        settings = replace(settings, extract=replace(settings.extract, engine=extractor))
    if getattr(args, "allow_untrusted_model", False):
        settings = replace(settings, score=replace(settings.score, allow_untrusted_model=True))
    return settings


def _model_trust_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-untrusted-model",
        action="store_true",
        help="load a model from outside models/ and the MLflow registry: loading runs code from the file,"
        " so only for files you know the origin of",
    )


def _extractor_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--extractor",
        choices=EXTRACT_ENGINES,
        default=None,
        help="main-content extraction: trafilatura (default) or resiliparse (fast, for large crawls)",
    )


def cmd_demo_data(args: argparse.Namespace) -> int:
    from classifier.corpus.generator import generate_corpus

    settings = _settings(args)
    started = time.perf_counter()
    summary = generate_corpus(Path(args.out), settings.corpus, n=args.n, seed=args.seed)
    elapsed = time.perf_counter() - started
    print(f"wrote {summary['pages']} pages to {args.out}/pages.warc.gz in {elapsed:.1f}s")
    _print_counts(summary)
    return 0


def _progress(
    items: Iterator[dict[str, Any]], unit: str = "page", initial: int = 0
) -> Iterator[dict[str, Any]]:
    """A progress bar with records/s on a terminal, nothing in logs and CI."""
    return tqdm(items, unit=unit, disable=None, smoothing=0.1, mininterval=0.5, initial=initial)


def run_extraction(inputs: list[str], out: Path, settings: Settings, use_cache: bool) -> dict[str, Any]:
    """Ingest and extract ``inputs`` into ``out``; return the run summary."""
    from classifier.extract import DOCUMENT_FIELDS, extract_documents
    from classifier.ingest import IngestStats, iter_records
    from classifier.outputs import TableWriter

    stats = IngestStats()
    records = iter_records(inputs, settings.ingest, stats)
    cache = EXTRACT_CACHE if use_cache and settings.extract.cache else None
    status: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    langs: Counter[str] = Counter()
    extractors: Counter[str] = Counter()
    started = time.perf_counter()
    with TableWriter(out, DOCUMENT_FIELDS) as writer:
        for doc in _progress(extract_documents(records, settings.extract, cache)):
            writer.write([doc])
            status[doc["status"]] += 1
            extractors[doc["extractor"]] += 1
            if doc["status"] == "ok":
                langs[doc["lang"]] += 1
            else:
                errors[str(doc["error"]).split(":")[0]] += 1
    elapsed = time.perf_counter() - started
    total = sum(status.values())
    return {
        "output": str(out),
        "records": total,
        "status": dict(status),
        "errors": dict(errors.most_common()),
        "lang": dict(langs.most_common()),
        "extractor": dict(extractors.most_common()),
        "skipped": stats.as_dict()["skipped"],
        "seconds": round(elapsed, 2),
        "records_per_second": round(total / elapsed, 1) if elapsed else None,
    }


def cmd_extract(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.jobs:
        settings = _with_jobs(settings, args.jobs)
    summary = run_extraction(args.inputs, Path(args.out), settings, use_cache=not args.no_cache)
    _print_counts(summary)
    return 0


def _with_jobs(settings: Settings, jobs: int) -> Settings:
    return replace(settings, extract=replace(settings.extract, n_jobs=jobs))


def cmd_demo(args: argparse.Namespace) -> int:
    """The whole job on the bundled demo data: corpus, ingestion, extraction, training, summary."""
    from classifier.corpus.generator import generate_corpus

    settings = _settings(args)
    out_dir = Path(args.out)
    steps = 2 if args.no_train else 4
    print(f"1/{steps} generating the demo corpus in {out_dir} ...")
    corpus = generate_corpus(out_dir, settings.corpus, n=args.n)
    _print_counts(corpus)
    print(f"2/{steps} ingesting and extracting pages.warc.gz ...")
    documents = out_dir / "documents.parquet"
    summary = run_extraction([str(out_dir / "pages.warc.gz")], documents, settings, not args.no_cache)
    _print_counts(summary)
    if summary["records"] != corpus["pages"]:
        print(
            f"error: {corpus['pages']} pages written but {summary['records']} records read", file=sys.stderr
        )
        return 1
    print(
        f"extracted {summary['status'].get('ok', 0)} of {summary['records']} pages into {summary['output']}"
    )
    if args.no_train:
        return 0
    from dataclasses import asdict

    from classifier.queue import CaseStore
    from classifier.score.engine import score_inputs
    from classifier.train import train

    print(f"3/{steps} training on held-out families, logging to MLflow ...")
    result = train(settings, demo_dir=out_dir, params_path=args.params or DEFAULT_PARAMS)
    _print_metrics(result.metrics)
    role = "champion" if result.promoted else "challenger"
    print(f"model version {result.version} is the {role}; evaluation report in {result.report_dir}")

    # new reports, not the training pages: another draw from the generator
    incoming = out_dir / "incoming"
    print(f"4/{steps} scoring {incoming}/pages.warc.gz (a new batch of reports) with the champion ...")
    n_incoming = max(50, (args.n or settings.corpus.n_pages) // 4)
    generate_corpus(incoming, settings.corpus, n=n_incoming, seed=settings.corpus.seed + 1)
    queue_file = PROCESSED_DIR / "queue.csv"
    with CaseStore(settings.score.db or None) as store:
        scored = score_inputs(
            [str(incoming / "pages.warc.gz")],
            queue_file,
            settings,
            store,
            use_cache=not args.no_cache,
            progress=lambda docs, done: _progress(docs, unit="record", initial=done),
        )
    print_score_summary(asdict(scored))
    print(f"done: the ranked queue is in {queue_file}, the cases in {scored.case_store}")
    print(
        "review the cases in the browser: classifier users add NAME --role admin, then classifier review"
        " (http://127.0.0.1:8000/)"
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from classifier.train import train

    settings = _settings(args)
    result = train(
        settings,
        [Path(p) for p in args.data] if args.data else None,
        params_path=args.params or DEFAULT_PARAMS,
        labels=[Path(p) for p in args.labels] if args.labels else None,
        run_name=args.run_name,
        tags=_tags(args.tag or []) | ({"overrides": " ".join(args.set)} if args.set else {}),
    )
    _print_metrics(result.metrics)
    print(f"report: {result.report_dir}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from classifier.search import search

    settings = _settings(args)
    data = [Path(p) for p in args.data] if args.data else None
    result = search(settings, data=data, register=not args.no_register)
    print(result.table().drop(columns="run_id").to_string(index=False, float_format="{:.4f}".format))
    print(
        f"best: {result.best.overrides} (MLflow run {result.parent_run}, experiment {settings.search.experiment})"
    )
    if result.registered is not None:
        print(f"registered version {result.registered.version}: {result.registered.gate_reason}")
    return 0


def _tags(pairs: list[str]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--tag wants key=value, not {pair!r}")
        tags[key.strip()] = value
    return tags


def _print_metrics(metrics: dict[str, float]) -> None:
    from classifier.model_card import HEADLINE

    for name in HEADLINE:
        if name in metrics:
            print(f"  {name:<22} {metrics[name]:.4f}")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from classifier.report import evaluate_model

    settings = _settings(args)
    metrics = evaluate_model(args.model, [Path(p) for p in args.data], Path(args.out), settings)
    _print_metrics(metrics)
    print(f"wrote metrics.json, predictions.csv and plots to {args.out}")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from classifier import tracking
    from classifier.config import MODELS_DIR, settings_from_dict
    from classifier.train import export_model

    tracking.configure()
    name = _settings(args).train.registered_model
    reason = args.reason or "promoted by hand"
    # the card describes the promoted version as its run logged it, not today's params.yaml
    logged = tracking.version_artifact_dict(args.version, "settings.json", name)
    try:
        if not logged:
            raise ValueError("its run logged no settings.json")
        settings = settings_from_dict(logged)
    except (ValueError, TypeError) as exc:  # none logged, or by code with other settings
        settings = _settings(args)
        print(f"warning: version {args.version}: {exc}; the model card shows today's params")
    manifest = tracking.version_manifest(args.version, name) or {
        "sources": ["not logged by the version's run"]
    }
    tracking.record_promotion(args.version, by=args.by, reason=reason, name=name)
    pipeline = tracking.load_model(tracking.model_uri(tracking.CHAMPION, name))
    metrics = tracking.version_metrics(args.version, name)
    out = Path(args.out) if args.out else MODELS_DIR / name
    export_model(pipeline, metrics, manifest, settings, args.version, out)
    print(f"version {args.version} of {name} is now the champion ({reason}); exported to {out}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from classifier.queue import CaseStore
    from classifier.score.engine import score_inputs

    settings = _settings(args)
    if args.jobs:
        settings = _with_jobs(settings, args.jobs)
    dask = None
    if args.partition_records < 1:
        raise ValueError("--partition-records must be at least 1")
    if args.workers is not None and args.workers < 1:
        raise ValueError("--workers must be at least 1")
    if args.workers and args.scheduler:
        raise ValueError("give --workers (a local cluster) or --scheduler (a running one), not both")
    if args.engine == "dask":
        from classifier.score.distributed import DaskOptions

        dask = DaskOptions(
            scheduler=args.scheduler, workers=args.workers or 2, partition_records=args.partition_records
        )
    elif args.scheduler or args.workers:
        raise ValueError("--scheduler and --workers need --engine dask")
    bar = None

    def partitions_done(done: int, total: int) -> None:
        nonlocal bar
        bar = bar or tqdm(total=total, initial=done - 1, unit="partition", disable=None)
        bar.update(1)

    with CaseStore(args.db or settings.score.db or None) as store:
        summary = score_inputs(
            args.inputs,
            Path(args.out),
            settings,
            store,
            model_ref=args.model,
            use_cache=not args.no_cache,
            progress=lambda docs, done: _progress(docs, unit="record", initial=done),
            runs_dir=Path(args.checkpoints),
            dask=dask,
            partition_progress=partitions_done,
        )
    if bar is not None:
        bar.close()
    print_score_summary(asdict(summary))
    return 0


def print_score_summary(summary: dict[str, Any]) -> None:
    """The closing summary of a scoring run: counts, errors by reason, drift, and the top cases."""
    top = summary.pop("top_cases")
    drift = summary.pop("drift")
    if summary["resumed_after"]:
        print(f"resumed a killed run after {summary['resumed_after']} committed records")
    _print_counts({k: v for k, v in summary.items() if k != "resumed_after"})
    if drift.get("psi") is not None:
        flag = "  WARNING: the scores drift from the training distribution" if drift["psi_warning"] else ""
        print(f"  {'psi':<22} {drift['psi']:.4f}{flag}")
    print(f"  {'above threshold':<22} {drift.get('share_above_threshold', 0):.1%}")
    if top:
        print("top cases:")
        print(f"  {'rank':>5} {'score':>6} {'priority':>8}  {'category':<12} {'pages':>5}  url")
        for case in top:
            print(
                f"  {case['rank']:>5} {case['score']:>6.3f} {case['priority']:>8.1f}  {case['category']:<12}"
                f" {case['cluster_size']:>5}  {case['url']}"
            )


def cmd_export_cases(args: argparse.Namespace) -> int:
    from classifier.queue import CaseStore, write_export

    settings = _settings(args)
    with CaseStore(args.db or settings.score.db or None) as store:
        rows = store.export_cases(status=args.status)
        write_export(rows, Path(args.out))
        detail = {"status": args.status, "cases": len(rows), "file": str(Path(args.out).resolve())}
        store.log_audit(args.by, "export", detail=detail)
    print(f"wrote {len(rows)} {args.status} cases to {args.out}")
    return 0


def cmd_export_labels(args: argparse.Namespace) -> int:
    from classifier.queue import CaseStore, export_labels, write_labels

    settings = _settings(args)
    with CaseStore(args.db or settings.score.db or None) as store:
        rows = export_labels(store, since=args.since)
        write_labels(rows, Path(args.out))
        positives = sum(r["label"] for r in rows)
        detail = {"since": args.since, "rows": len(rows), "file": str(Path(args.out).resolve())}
        store.log_audit(args.by, "export_labels", detail=detail)
    print(f"wrote {len(rows)} expert-labelled rows ({positives} violations) to {args.out}")
    if rows:
        print(f"retrain with them: classifier train --labels {args.out}")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    import uvicorn

    from classifier.queue import CaseStore
    from classifier.queue.accounts import Accounts
    from classifier.review.app import create_app

    settings = _settings(args)
    url = args.db or settings.score.db or None
    with CaseStore(url) as store:
        counts, users = store.counts(), Accounts(store).users()
    host, port = args.host or settings.review.host, args.port or settings.review.port
    print(f"case store {store.url}: {sum(counts.values())} cases, {counts['new']} new")
    if not users:
        print("no accounts yet: create one with  classifier users add NAME --role admin")
    print(f"review app on http://{host}:{port}/  (Ctrl+C stops it)")
    proxies = settings.review.trusted_proxies
    uvicorn.run(
        create_app(url, settings.review),
        host=host,
        port=port,
        log_level="warning",
        # the login limit and the audit log need the client's address, which only a trusted proxy knows
        proxy_headers=bool(proxies),
        forwarded_allow_ips=",".join(proxies) or None,
    )
    return 0


def _password(args: argparse.Namespace) -> str:
    """The new password: one line on stdin with --password-stdin (scripts), else typed twice."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    from classifier.queue import CaseStore
    from classifier.queue.accounts import Accounts

    settings = _settings(args)
    with CaseStore(args.db or settings.score.db or None) as store:
        accounts = Accounts(store)
        if args.action == "list":
            for user in accounts.users():
                state = "active" if user["active"] else "disabled"
                print(
                    f"{user['username']:<24} {user['role']:<8} {state:<9} created {user['created_at'][:16]}"
                )
            return 0
        if not args.name:
            raise ValueError(f"users {args.action} needs a user name")
        if args.action == "add":
            user = accounts.add_user(args.name, _password(args), role=args.role, created_by=args.by)
            print(f"added {user['role']} {user['username']}")
        elif args.action == "passwd":
            accounts.set_password(args.name, _password(args), actor=args.by)
            print(f"password of {args.name} changed; their sessions are closed")
        else:
            accounts.set_active(args.name, args.action == "enable", actor=args.by)
            print(f"{args.name} {args.action}d")
    return 0


def _print_counts(summary: dict[str, Any]) -> None:
    for key, value in summary.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        print(f"  {key:<22} {value}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="classifier", description=__doc__)
    parser.add_argument(
        "--params", type=Path, default=None, help="params.yaml to use (default: the project's)"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    demo_data = commands.add_parser("demo-data", help="generate the demo corpus (WARC + labels.csv)")
    demo_data.add_argument("--out", default=str(DEMO_DIR))
    demo_data.add_argument("--n", type=int, default=None, help="pages (default: params corpus.n_pages)")
    demo_data.add_argument("--seed", type=int, default=None)
    demo_data.set_defaults(func=cmd_demo_data)

    extract = commands.add_parser("extract", help="ingest inputs and extract documents")
    extract.add_argument("inputs", nargs="+", help="WARC, HTML files or folders, JSONL, CSV, Parquet")
    extract.add_argument("--out", required=True, help="output table: .parquet, .jsonl or .csv")
    extract.add_argument("--jobs", type=int, default=None, help="parallel processes (default: params)")
    extract.add_argument("--no-cache", action="store_true", help="do not read or write the extraction cache")
    _extractor_option(extract)
    extract.set_defaults(func=cmd_extract)

    train = commands.add_parser("train", help="train, evaluate on held-out families, log and register")
    train.add_argument("--data", nargs="+", help="labelled tables (default: the demo corpus)")
    train.add_argument(
        "--labels", nargs="+", help="expert decisions (classifier export-labels) added to the training data"
    )
    train.add_argument(
        "--set",
        nargs="+",
        metavar="SECTION.KEY=VALUE",
        help="change a setting of params.yaml for this run only, e.g. --set model.C=8 train.target_recall=0.95",
    )
    train.add_argument("--run-name", default=None, help="the MLflow run's name (default: MLflow's own)")
    train.add_argument("--tag", nargs="+", metavar="KEY=VALUE", help="tags on the MLflow run")
    _extractor_option(train)
    train.set_defaults(func=cmd_train)

    search = commands.add_parser(
        "search", help="try params search.space by cross-validation by family; train and gate the best"
    )
    search.add_argument("--data", nargs="+", help="labelled tables (default: the demo corpus)")
    search.add_argument(
        "--set", nargs="+", metavar="SECTION.KEY=VALUE", help="change settings, e.g. --set search.folds=5"
    )
    search.add_argument("--no-register", action="store_true", help="only compare: train and register nothing")
    search.set_defaults(func=cmd_search)

    evaluate = commands.add_parser("evaluate", help="score labelled data with a model and report metrics")
    evaluate.add_argument(
        "--model",
        default="models:/drug-ad-classifier@champion",
        help="an MLflow model URI or an exported folder such as models/drug-ad-classifier",
    )
    evaluate.add_argument("--data", nargs="+", required=True, help="labelled tables, or a demo corpus folder")
    evaluate.add_argument("--out", default="data/processed/evaluation")
    _extractor_option(evaluate)
    _model_trust_option(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)

    promote = commands.add_parser("promote", help="make a registered model version the champion by hand")
    promote.add_argument("version")
    promote.add_argument("--by", default="cli", help="who decides (recorded on the version)")
    promote.add_argument("--reason", default=None)
    promote.add_argument("--out", default=None, help="export folder (default models/drug-ad-classifier)")
    promote.set_defaults(func=cmd_promote)

    score = commands.add_parser("score", help="score inputs into a ranked queue file and the case store")
    score.add_argument("inputs", nargs="+", help="WARC, HTML files or folders, JSONL, CSV, Parquet")
    score.add_argument(
        "--model",
        default=None,
        help="MLflow model URI or exported folder (default: params score.model, the champion)",
    )
    score.add_argument(
        "--out", default="data/processed/queue.csv", help="queue file: .csv, .parquet or .jsonl"
    )
    score.add_argument("--db", default=None, help="case store URL (default: sqlite:///data/queue.db)")
    score.add_argument("--jobs", type=int, default=None, help="extraction processes (default: params)")
    score.add_argument(
        "--engine", choices=("local", "dask"), default="local", help="local processes, or a Dask cluster"
    )
    score.add_argument("--scheduler", default=None, help="with --engine dask: join tcp://HOST:PORT")
    score.add_argument(
        "--workers", type=int, default=None, help="with --engine dask: start a local cluster of N workers (2)"
    )
    score.add_argument(
        "--partition-records", type=int, default=250, help="with --engine dask: records per task (250)"
    )
    score.add_argument("--no-cache", action="store_true", help="do not read or write the extraction cache")
    score.add_argument(
        "--checkpoints",
        default=str(SCORE_RUNS_DIR),
        help="where unfinished runs keep their state; the same command resumes from it (default: %(default)s)",
    )
    _extractor_option(score)
    _model_trust_option(score)
    score.set_defaults(func=cmd_score)

    export = commands.add_parser("export-cases", help="export decided cases for the blocking system")
    export.add_argument("--status", default="confirmed", help="confirmed | rejected | unsure | pending | new")
    export.add_argument("--out", required=True, help=".csv or .json")
    export.add_argument("--db", default=None, help="case store URL (default: sqlite:///data/queue.db)")
    export.add_argument("--by", default="cli", help="who exports (recorded in the audit log)")
    export.set_defaults(func=cmd_export_cases)

    labels = commands.add_parser(
        "export-labels", help="expert decisions as labelled rows for classifier train"
    )
    labels.add_argument("--out", required=True, help=".jsonl, .csv or .parquet")
    labels.add_argument("--since", default=None, help="only cases decided at or after this ISO date/time")
    labels.add_argument("--db", default=None, help="case store URL (default: sqlite:///data/queue.db)")
    labels.add_argument("--by", default="cli", help="who exports (recorded in the audit log)")
    labels.set_defaults(func=cmd_export_labels)

    review = commands.add_parser("review", help="serve the expert review web app")
    review.add_argument("--db", default=None, help="case store URL (default: sqlite:///data/queue.db)")
    review.add_argument("--host", default=None, help="default: params review.host (127.0.0.1)")
    review.add_argument("--port", type=int, default=None, help="default: params review.port (8000)")
    review.set_defaults(func=cmd_review)

    users = commands.add_parser(
        "users", help="accounts of the review app: add, list, disable, enable, passwd"
    )
    users.add_argument("action", choices=("add", "list", "disable", "enable", "passwd"))
    users.add_argument("name", nargs="?", help="user name (latin letters, digits, . _ -)")
    users.add_argument("--role", choices=("expert", "admin"), default="expert")
    users.add_argument(
        "--password-stdin", action="store_true", help="read the password from one line of stdin"
    )
    users.add_argument("--db", default=None, help="case store URL (default: sqlite:///data/queue.db)")
    users.add_argument("--by", default="cli", help="who makes the change (recorded in the audit log)")
    users.set_defaults(func=cmd_users)

    demo = commands.add_parser("demo", help="run the whole job on the demo corpus")
    demo.add_argument("--out", default=str(DEMO_DIR))
    demo.add_argument("--n", type=int, default=None)
    demo.add_argument("--no-cache", action="store_true", help="do not read or write the extraction cache")
    demo.add_argument("--no-train", action="store_true", help="stop after extraction")
    _extractor_option(demo)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    # trafilatura logs every page it finds too short at ERROR: our fallback handles those pages
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    from classifier.model_trust import UntrustedModelError

    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, UntrustedModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run() -> None:
    sys.exit(main())
