"""The ``classifier`` command: arguments (``arguments``), one function per command (``commands``) and
what they print (``printing``); the work itself is done by the stages the commands call."""

from __future__ import annotations

import logging
import sys

from classifier.cli.arguments import build_parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    # trafilatura logs every page it finds too short at ERROR: our fallback handles those pages
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    from classifier.modeling.model_trust import UntrustedModelError

    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, UntrustedModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run() -> None:
    sys.exit(main())
