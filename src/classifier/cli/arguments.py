"""The ``classifier`` command line: one small function per command declares its arguments."""

from __future__ import annotations

import argparse
from pathlib import Path

from classifier.cli import case_commands, commands
from classifier.common.config import DEMO_DIR, EXTRACT_ENGINES, SCORE_RUNS_DIR

INPUTS_HELP = "WARC, HTML files or folders, JSONL, CSV, Parquet"
DB_HELP = "case store URL (default: sqlite:///data/queue.db)"
NO_CACHE_HELP = "do not read or write the extraction cache"
Commands = argparse._SubParsersAction  # what add_subparsers returns


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="classifier", description="Finds web pages that sell, advertise or recruit for drugs."
    )
    parser.add_argument(
        "--params", type=Path, default=None, help="params.yaml to use (default: the project's)"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    subcommands = parser.add_subparsers(dest="command", required=True)
    for add in (
        _demo_data,
        _extract,
        _train,
        _search,
        _evaluate,
        _promote,
        _score,
        _export_cases,
        _export_labels,
        _bank,
        _review,
        _users,
        _db,
        _demo,
    ):
        add(subcommands)
    return parser


def _extractor_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--extractor",
        choices=EXTRACT_ENGINES,
        default=None,
        help="main-content extraction: trafilatura (default) or resiliparse (fast, for large crawls)",
    )


def _model_trust_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-untrusted-model",
        action="store_true",
        help="load a model from outside models/ and the MLflow registry: loading runs code from the file,"
        " so only for files you know the origin of",
    )


def _set_option(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument("--set", nargs="+", metavar="SECTION.KEY=VALUE", help=example)


def _demo_data(subcommands: Commands) -> None:
    demo_data = subcommands.add_parser("demo-data", help="generate the demo corpus (WARC + labels.csv)")
    demo_data.add_argument("--out", default=str(DEMO_DIR))
    demo_data.add_argument("--n", type=int, default=None, help="pages (default: params corpus.n_pages)")
    demo_data.add_argument("--seed", type=int, default=None)
    demo_data.set_defaults(func=commands.demo_data)


def _extract(subcommands: Commands) -> None:
    extract = subcommands.add_parser("extract", help="ingest inputs and extract documents")
    extract.add_argument("inputs", nargs="+", help=INPUTS_HELP)
    extract.add_argument("--out", required=True, help="output table: .parquet, .jsonl or .csv")
    extract.add_argument("--jobs", type=int, default=None, help="parallel processes (default: params)")
    extract.add_argument("--no-cache", action="store_true", help=NO_CACHE_HELP)
    _extractor_option(extract)
    extract.set_defaults(func=commands.extract)


def _train(subcommands: Commands) -> None:
    train = subcommands.add_parser("train", help="train, evaluate on held-out families, log and register")
    train.add_argument("--data", nargs="+", help="labelled tables (default: the demo corpus)")
    train.add_argument(
        "--labels", nargs="+", help="expert decisions (classifier export-labels) added to the training data"
    )
    _set_option(
        train,
        "change a setting of params.yaml for this run only, e.g. --set model.C=8 train.target_recall=0.95",
    )
    train.add_argument("--run-name", default=None, help="the MLflow run's name (default: MLflow's own)")
    train.add_argument("--tag", nargs="+", metavar="KEY=VALUE", help="tags on the MLflow run")
    _extractor_option(train)
    train.set_defaults(func=commands.train)


def _search(subcommands: Commands) -> None:
    search = subcommands.add_parser(
        "search", help="try params search.space by cross-validation by family; train and gate the best"
    )
    search.add_argument("--data", nargs="+", help="labelled tables (default: the demo corpus)")
    _set_option(search, "change settings, e.g. --set search.folds=5")
    search.add_argument("--no-register", action="store_true", help="only compare: train and register nothing")
    search.set_defaults(func=commands.search)


def _evaluate(subcommands: Commands) -> None:
    evaluate = subcommands.add_parser("evaluate", help="score labelled data with a model and report metrics")
    evaluate.add_argument(
        "--model",
        default="models:/drug-ad-classifier@champion",
        help="an MLflow model URI or an exported folder such as models/drug-ad-classifier",
    )
    evaluate.add_argument("--data", nargs="+", required=True, help="labelled tables, or a demo corpus folder")
    evaluate.add_argument("--out", default="data/processed/evaluation")
    _extractor_option(evaluate)
    _model_trust_option(evaluate)
    evaluate.set_defaults(func=commands.evaluate)


def _promote(subcommands: Commands) -> None:
    promote = subcommands.add_parser("promote", help="make a registered model version the champion by hand")
    promote.add_argument("version")
    promote.add_argument("--by", default="cli", help="who decides (recorded on the version)")
    promote.add_argument("--reason", default=None)
    promote.add_argument("--out", default=None, help="export folder (default models/drug-ad-classifier)")
    promote.set_defaults(func=commands.promote)


def _score(subcommands: Commands) -> None:
    score = subcommands.add_parser("score", help="score inputs into a ranked queue file and the case store")
    score.add_argument("inputs", nargs="+", help=INPUTS_HELP)
    score.add_argument(
        "--model",
        default=None,
        help="MLflow model URI or exported folder (default: params score.model, the champion)",
    )
    score.add_argument(
        "--out", default="data/processed/queue.csv", help="queue file: .csv, .parquet or .jsonl"
    )
    score.add_argument("--db", default=None, help=DB_HELP)
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
    score.add_argument("--no-cache", action="store_true", help=NO_CACHE_HELP)
    score.add_argument(
        "--checkpoints",
        default=str(SCORE_RUNS_DIR),
        help="where unfinished runs keep their state; the same command resumes from it (default: %(default)s)",
    )
    _extractor_option(score)
    _model_trust_option(score)
    score.set_defaults(func=commands.score)


def _export_cases(subcommands: Commands) -> None:
    export = subcommands.add_parser("export-cases", help="export decided cases for the blocking system")
    export.add_argument("--status", default="confirmed", help="confirmed | rejected | unsure | pending | new")
    export.add_argument("--out", required=True, help=".csv or .json")
    export.add_argument("--db", default=None, help=DB_HELP)
    export.add_argument("--by", default="cli", help="who exports (recorded in the audit log)")
    export.set_defaults(func=case_commands.export_cases)


def _export_labels(subcommands: Commands) -> None:
    labels = subcommands.add_parser(
        "export-labels", help="expert decisions as labelled rows for classifier train"
    )
    labels.add_argument("--out", required=True, help=".jsonl, .csv or .parquet")
    labels.add_argument("--since", default=None, help="only cases decided at or after this ISO date/time")
    labels.add_argument("--db", default=None, help=DB_HELP)
    labels.add_argument("--by", default="cli", help="who exports (recorded in the audit log)")
    labels.set_defaults(func=case_commands.export_labels)


# the columns of queue/bank_lines.py (IMPORT_COLUMNS)
BANK_IMPORT_HELP = """\
classifier bank import FILE --expert NAME: seed the bank of shops with the resources a unit has
already decided. Each line of FILE becomes a case with an audited decision by NAME, and its handles,
wallets, phones and text join the bank, so that later scoring runs recognise the shop on a new domain
or channel. Importing the same file again changes nothing. Every line is reported as imported or as
an error with its line number and reason; the exit code is 1 when a line could not be imported.

FILE is CSV with a header row, or JSONL (one JSON object a line), one resource a line:
  url       the resource: https://shop.example/, t.me/shop_example, shop.example (required)
  decision  confirmed (a violation, blocked) or rejected (checked, not a violation) (required)
  date      when the unit decided it: 2024-03-01, 2024-03-01T10:00 or 01.03.2024 (required)
  handles   Telegram handles or links: @shop_example t.me/shop_bot (optional)
  wallets   bitcoin, tron or ethereum addresses (optional)
  phones    phone numbers, any written form: +7 700 000 00 01 (optional)
  text      the page's text, so that copies of it are recognised (optional)
  category  of a confirmed violation: sale, recruitment or propaganda (optional)
Several handles or wallets in one CSV cell are separated by spaces, commas or semicolons, several
phones by commas or semicolons; in JSONL each may also be a list. Other columns are refused (a
misspelt one would be lost).
"""


def _bank(subcommands: Commands) -> None:
    bank = subcommands.add_parser(
        "bank",
        help="the bank of shops: import the resources a unit has already blocked",
        description=BANK_IMPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bank.add_argument("action", choices=("import",))
    bank.add_argument("file", help="a .csv (with a header row) or .jsonl file: the columns are listed above")
    bank.add_argument(
        "--expert",
        required=True,
        help="who answers for the imported decisions (recorded on each decision and in the audit log)",
    )
    bank.add_argument("--db", default=None, help=DB_HELP)
    bank.set_defaults(func=case_commands.bank)


def _review(subcommands: Commands) -> None:
    review = subcommands.add_parser("review", help="serve the expert review web app")
    review.add_argument("--db", default=None, help=DB_HELP)
    review.add_argument("--host", default=None, help="default: params review.host (127.0.0.1)")
    review.add_argument("--port", type=int, default=None, help="default: params review.port (8000)")
    review.set_defaults(func=case_commands.review)


def _users(subcommands: Commands) -> None:
    users = subcommands.add_parser(
        "users", help="accounts of the review app: add, list, disable, enable, passwd"
    )
    users.add_argument("action", choices=("add", "list", "disable", "enable", "passwd"))
    users.add_argument("name", nargs="?", help="user name (latin letters, digits, . _ -)")
    users.add_argument("--role", choices=("expert", "admin"), default="expert")
    users.add_argument(
        "--password-stdin", action="store_true", help="read the password from one line of stdin"
    )
    users.add_argument("--db", default=None, help=DB_HELP)
    users.add_argument("--by", default="cli", help="who makes the change (recorded in the audit log)")
    users.set_defaults(func=case_commands.users)


def _db(subcommands: Commands) -> None:
    db = subcommands.add_parser("db", help="the case store's schema: upgrade an older store to this version")
    db.add_argument("action", choices=("upgrade",))
    db.add_argument("--db", default=None, help=DB_HELP)
    db.set_defaults(func=case_commands.db)


def _demo(subcommands: Commands) -> None:
    demo = subcommands.add_parser("demo", help="run the whole job on the demo corpus")
    demo.add_argument("--out", default=str(DEMO_DIR))
    demo.add_argument("--n", type=int, default=None)
    demo.add_argument("--no-cache", action="store_true", help=NO_CACHE_HELP)
    demo.add_argument("--no-train", action="store_true", help="stop after extraction")
    _extractor_option(demo)
    demo.set_defaults(func=commands.demo)
