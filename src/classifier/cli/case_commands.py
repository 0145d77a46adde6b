"""The commands on the case store: exports for blocking and for training, the review app, accounts,
and schema upgrades."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from classifier.cli.commands import case_store, settings_from_args
from classifier.cli.printing import print_import_summary


def export_cases(args: argparse.Namespace) -> int:
    from classifier.queue import export_cases as decided_cases
    from classifier.queue import write_export

    with case_store(args, settings_from_args(args)) as store:
        rows = decided_cases(store, status=args.status)
        write_export(rows, Path(args.out))
        detail = {"status": args.status, "cases": len(rows), "file": str(Path(args.out).resolve())}
        store.log_audit(args.by, "export", detail=detail)
    shops = len({row["shop_id"] for row in rows})
    print(f"wrote {len(rows)} {args.status} cases of {shops} shops to {args.out}")
    return 0


def export_labels(args: argparse.Namespace) -> int:
    from classifier.queue import export_labels as expert_labels
    from classifier.queue import write_labels

    with case_store(args, settings_from_args(args)) as store:
        rows = expert_labels(store, since=args.since)
        write_labels(rows, Path(args.out))
        detail = {"since": args.since, "rows": len(rows), "file": str(Path(args.out).resolve())}
        store.log_audit(args.by, "export_labels", detail=detail)
    print(
        f"wrote {len(rows)} expert-labelled rows ({sum(r['label'] for r in rows)} violations) to {args.out}"
    )
    if rows:
        print(f"retrain with them: classifier train --labels {args.out}")
    return 0


def bank(args: argparse.Namespace) -> int:
    """``classifier bank import FILE``: seed the bank of shops with decided resources."""
    from classifier.queue.bank_import import import_bank_file

    settings = settings_from_args(args)
    with case_store(args, settings) as store:
        summary = import_bank_file(store, Path(args.file), settings, args.expert)
        detail = {
            "file": str(Path(args.file).resolve()),
            "sha256": summary.sha256,
            "run_id": summary.run_id,
            "lines": summary.lines,
            "imported": len(summary.imported),
            "already_imported": len(summary.already),
            "errors": len(summary.errors),
        }
        store.log_audit(args.expert, "bank_import", detail=detail)
    print_import_summary(summary)
    return 1 if summary.errors else 0


def review(args: argparse.Namespace) -> int:
    import uvicorn

    from classifier.queue.accounts import Accounts
    from classifier.review.app import create_app

    settings = settings_from_args(args)
    with case_store(args, settings) as store:
        counts, users, url = store.counts(), Accounts(store).users(), store.url
    host, port = args.host or settings.review.host, args.port or settings.review.port
    print(f"case store {url}: {sum(counts.values())} cases, {counts['new']} new")
    if not users:
        print("no accounts yet: create one with  classifier users add NAME --role admin")
    print(f"review app on http://{host}:{port}/  (Ctrl+C stops it)")
    proxies = settings.review.trusted_proxies
    uvicorn.run(
        create_app(args.db or settings.score.db or None, settings.review, settings.score),
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


def users(args: argparse.Namespace) -> int:
    from classifier.queue.accounts import Accounts

    with case_store(args, settings_from_args(args)) as store:
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


def db(args: argparse.Namespace) -> int:
    """``classifier db upgrade``: bring a case store's tables up to this version (Alembic revisions)."""
    from classifier.queue import upgrade_store
    from classifier.queue.database import masked_url

    url = args.db or settings_from_args(args).score.db or None
    before, after = upgrade_store(url)
    where = masked_url(url) if url else "the default case store (data/queue.db)"
    if before == after:
        print(f"{where} is up to date (revision {after})")
    else:
        print(f"{where} upgraded from revision {before or 'none (empty)'} to {after}")
    return 0
