"""The bank of shops (issue 18): what matching costs at scale, and what it changes for experts.

Writes benchmarks/results/shop_bank.json. Two measurements:

1. **Cost** (target: matching adds at most 15% to the whole scoring run). The same new pages are scored,
   in one process each time, into (a) an empty case store and (b) a store whose bank holds
   ``--bank`` earlier cases (synthetic texts and handles: no page matches them, so every lookup is paid
   and nothing is skipped), and (c) again into store (a), where every page now matches its own earlier
   case (the most matching work there can be). On SQLite and, when a server is given, PostgreSQL; with
   the query plans of the two lookup statements, to show they are index-backed.
2. **Mirrors before and after**: a demo batch is scored and experts "confirm" ``--shops`` of its true
   violations that carry a Telegram handle (drawn at random, not the top of the queue); a second demo
   batch then re-posts each of them on a new site (``repost``: its text with fresh disguises, a notice
   with only its handle, or its text with a new handle). How many
   of the re-posts reach the first 100 of the second queue without the bank (a store that never saw
   batch 1) and with it.

    python benchmarks/shop_bank.py [--pages 10000] [--bank 100000] [--postgres URL] [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import create_engine, make_url, text

from classifier.common.config import MODELS_DIR, Settings, load_settings
from classifier.corpus.build import generate_corpus
from classifier.corpus.obfuscate import KINDS, obfuscate
from classifier.queue import CaseStore
from classifier.score.duplicates import MinHasher, band_keys
from classifier.score.engine import score_inputs
from results_file import RESULTS_DIR, write_results

FIRST = 100  # "reach the first 100 of the queue"


SETTINGS: Settings | None = None  # read once, at the start: params.yaml may change while this runs


def bench_settings() -> Settings:
    global SETTINGS
    if SETTINGS is None:
        settings = load_settings()
        SETTINGS = replace(settings, score=replace(settings.score, log_to_mlflow=False))
    return SETTINGS


@contextmanager
def database(backend: str, folder: Path, postgres: str) -> Iterator[str]:
    """An empty database on ``backend``, removed on exit."""
    if backend == "sqlite":
        path = folder / f"store-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        return
    name = f"shop_bank_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def score(inputs: list[str], url: str, model: str, work: Path) -> tuple[float, dict[str, Any], pd.DataFrame]:
    out = work / f"queue-{uuid.uuid4().hex[:8]}.csv"
    started = time.perf_counter()
    with CaseStore(url) as store:
        summary = score_inputs(
            inputs, out, bench_settings(), store, model_ref=model, use_cache=False, runs_dir=work / "runs"
        )
    seconds = time.perf_counter() - started
    queue = pd.read_csv(out, keep_default_na=False, na_values=[""])
    return (
        seconds,
        {"records": summary.records, "known": summary.known, "lookup": summary.bank_lookup_seconds},
        queue,
    )


def fill_bank(url: str, cases: int, seed: int = 7) -> float:
    """``cases`` earlier cases with random texts, handles and wallets, stored as scoring stores them."""
    settings = bench_settings().score
    hasher = MinHasher(settings.minhash_permutations, settings.shingle_words)
    rng = random.Random(seed)
    vocabulary = [
        "".join(rng.choices("абвгдежзиклмнопрстуфхцчшэюя", k=rng.randint(3, 9))) for _ in range(20_000)
    ]
    started = time.perf_counter()
    with CaseStore(url) as store:
        for first in range(0, cases, 2000):
            rows = []
            for i in range(first, min(cases, first + 2000)):
                words = " ".join(rng.choices(vocabulary, k=rng.randint(30, 120)))
                signature, shingles = hasher.sketch(words)
                rows.append(
                    {
                        "id": f"bank-{i}",
                        "url": f"https://bank-{i}.example/",
                        "run_id": "bank-fill",
                        "scored_at": "2026-01-01T00:00:00+00:00",
                        "score": rng.random(),
                        "status": "ok",
                        "cluster_id": f"bank-{i}",
                        "text": words,
                        "bank_keys": [
                            f"c:telegram:@bank_{i}_example",
                            *band_keys(signature, settings.lsh_bands),
                        ],
                        "signature": signature.tobytes(),
                        "shingles": shingles,
                    }
                )
            store.add_scored(rows)
    return time.perf_counter() - started


def query_plans(url: str) -> dict[str, list[str]]:
    """The plans of the two lookup statements (ShopBank.lookup) for one identifier key."""
    key = "c:telegram:@bank_1_example"
    statements = {
        "count_per_key": "SELECT match_key FROM bank_keys WHERE match_key IN ('{k}') GROUP BY match_key",
        "cases_per_key": (
            "SELECT bank_keys.match_key, cases.id, cases.shop_id, bank_signatures.signature FROM bank_keys"
            " JOIN cases ON cases.id = bank_keys.case_id"
            " LEFT OUTER JOIN bank_signatures ON bank_signatures.case_id = cases.id"
            " WHERE bank_keys.match_key IN ('{k}')"
        ),
    }
    prefix = "EXPLAIN QUERY PLAN " if url.startswith("sqlite") else "EXPLAIN "
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: [
                    " ".join(str(v) for v in row) for row in conn.execute(text(prefix + sql.format(k=key)))
                ]
                for name, sql in statements.items()
            }
    finally:
        engine.dispose()


def cost(
    backend: str, pages: Path, warm_up: Path, bank: int, model: str, work: Path, postgres: str
) -> dict[str, Any]:
    inputs = [str(pages)]
    with database(backend, work, postgres) as empty, database(backend, work, postgres) as banked:
        filled = fill_bank(banked, bank)
        logging.warning("%s: bank of %d cases filled in %.0fs", backend, bank, filled)
        with database(backend, work, postgres) as throwaway:  # the first run of a process pays warm-up
            score([str(warm_up)], throwaway, model, work)
        alone, _, _ = score(inputs, empty, model, work)
        with_bank, bank_summary, _ = score(inputs, banked, model, work)
        again, again_summary, _ = score(inputs, empty, model, work)  # every page matches its earlier case
        return {
            "bank_cases": bank,
            "bank_fill_seconds": round(filled, 1),
            "score_seconds_empty_store": round(alone, 1),
            "score_seconds_with_bank": round(with_bank, 1),
            "score_seconds_every_page_matching": round(again, 1),
            "lookup_seconds_with_bank": bank_summary["lookup"],
            "lookup_seconds_every_page_matching": again_summary["lookup"],
            "matched_every_page_matching": again_summary["known"],
            # the lookups' own share of the run (timed inside it), and the whole run against the empty store's
            # (which also counts what storing the bank's keys costs, and the machine's noise)
            "lookup_share_with_bank": round(bank_summary["lookup"] / with_bank, 3),
            "lookup_share_every_page_matching": round(again_summary["lookup"] / again, 3),
            "added_share_with_bank": round(with_bank / alone - 1, 3),
            "added_share_every_page_matching": round(again / alone - 1, 3),
            "target_added_share": 0.15,
            "query_plans": query_plans(banked),
        }


NOTICES = (
    "Новый адрес нашего канала: {handle}. Подписывайтесь, всё как раньше.",
    "Старый канал снесли, мы теперь здесь {handle}. Ассортимент прежний, ждём всех.",
    "Жаңа арнамыз: {handle}. Бәрі бұрынғыдай, жазыңыздар.",
)


def repost(case: dict[str, Any], i: int, rng: random.Random) -> str:
    """How a blocked shop comes back, in turn: its text with fresh disguises and the same handle; a short
    notice with only its handle; its text with a new handle."""
    original = case.get("text") or ""
    handle = ((case.get("contacts") or {}).get("telegram") or ["@unknown_example"])[0]
    if i % 3 == 0:
        return obfuscate(original, rng, kinds=list(KINDS))
    if i % 3 == 1:
        return NOTICES[i % len(NOTICES)].format(handle=handle)
    return original.replace(handle, f"@new_{i}_example")


def mirrors(model: str, work: Path, shops: int, seed: int = 601) -> dict[str, Any]:
    """Before and after: how many re-posted confirmed shops reach the first 100 of the next queue."""
    batch1, batch2 = work / "batch1", work / "batch2"
    settings = bench_settings().corpus
    generate_corpus(batch1, settings, n=1000, seed=seed)
    generate_corpus(batch2, settings, n=1000, seed=seed + 1)
    url = f"sqlite:///{work / 'mirrors.db'}"
    _, _, queue1 = score([str(batch1 / "pages.warc.gz")], url, model, work)
    labels = pd.read_csv(batch1 / "labels.csv", keep_default_na=False)[["url", "label"]]
    queue1 = queue1.merge(labels, on="url", suffixes=("", "_true"))
    handles = queue1["contacts"].fillna("").str.contains('"telegram"')
    candidates = queue1[(queue1["label_true"] == 1) & handles].drop_duplicates("cluster_id")
    chosen = candidates.sample(n=min(shops, len(candidates)), random_state=seed)
    rng = random.Random(seed)
    reposts = []
    with CaseStore(url) as store:
        by_url = {c["url"]: c["id"] for c in store.cases(limit=100_000)}
        for i, page in enumerate(chosen.itertuples()):
            case_id = by_url[page.url]
            store.record_decision(case_id, "confirmed", "benchmark")
            case = store.case(case_id) or {}
            reposts.append({"url": f"https://mirror-{i}.example/shop", "text": repost(case, i, rng)})
    repost_file = work / "reposts.jsonl"
    repost_file.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in reposts) + "\n")
    inputs = [str(batch2 / "pages.warc.gz"), str(repost_file)]
    with database("sqlite", work, "") as fresh:
        _, _, before = score(inputs, fresh, model, work)
    _, _, after = score(inputs, url, model, work)
    urls = {r["url"] for r in reposts}

    def reached(queue: pd.DataFrame) -> dict[str, Any]:
        rows = queue[queue["url"].isin(urls)]
        return {
            "in_first_100": int((rows["rank"] <= FIRST).sum()),
            "flagged_by_the_model": int((rows["label"] == 1).sum()),
            "median_rank": float(rows["rank"].median()),
            "matched_a_confirmed_shop": int((rows["known_status"] == "confirmed").sum()),
        }

    return {
        "reposted_shops": len(reposts),
        "queue_rows": len(after),
        "before": reached(before),
        "after": reached(after),
    }


def costs(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    settings = bench_settings().corpus
    generate_corpus(work / "new", settings, n=args.pages, seed=501)
    generate_corpus(work / "warm", settings, n=200, seed=502)
    pages, warm_up = work / "new" / "pages.warc.gz", work / "warm" / "pages.warc.gz"
    found: dict[str, Any] = {"sqlite": cost("sqlite", pages, warm_up, args.bank, args.model, work, "")}
    if args.postgres:
        found["postgresql"] = cost("postgresql", pages, warm_up, args.bank, args.model, work, args.postgres)
    else:
        found["postgresql"] = "not measured: no --postgres server"
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--bank", type=int, default=100_000)
    parser.add_argument("--shops", type=int, default=30)
    parser.add_argument("--model", default=str(MODELS_DIR / "drug-ad-classifier"))
    parser.add_argument(
        "--only",
        choices=("cost", "mirrors"),
        help="measure one part, keeping the other from the last results",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("CLASSIFIER_TEST_POSTGRES_URL", ""),
        help="a server where the role may create databases (scripts/postgres-test-server.sh); empty: SQLite only",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    bench_settings()
    last = RESULTS_DIR / "shop_bank.json"
    result: dict[str, Any] = json.loads(last.read_text()) if args.only and last.exists() else {}
    result["pages"] = args.pages
    for stale in ("machine", "measured_at"):
        result.pop(stale, None)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        if args.only != "cost":
            result["mirrors"] = mirrors(args.model, work / "mirrors", args.shops)
        if args.only != "mirrors":
            result["cost"] = costs(args, work)
    write_results("shop_bank", result)


if __name__ == "__main__":
    main()
