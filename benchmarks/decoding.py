"""How often a page in a single-byte Cyrillic charset is decoded right, on real Russian and Kazakh texts.

Each text of the test split of ../shared/data/real/ becomes a small page, written as it is, in lower case
and in capitals, and encoded in every charset that can hold it (Kazakh letters: kz1048 only). Each page is
decoded three ways: without any declaration (detection), with its charset declared in the HTTP header, and
with a wrong Cyrillic charset declared (a lie the decoder must overrule). A page counts as right when its
decoded text equals the original exactly.

Writes benchmarks/results/decoding.json. Targets (issue 14): declared pages 100%, undeclared >= 95%.

    python benchmarks/decoding.py [--per-file 400]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time
from collections import defaultdict

from classifier.common.config import SHARED_REAL_DATA
from classifier.ingest.decoding import decode_html
from results_file import write_results

REAL = SHARED_REAL_DATA
CHARSETS = ("windows-1251", "koi8-r", "cp866", "kz1048", "mac-cyrillic")
LIES = {"windows-1251": "koi8-r", "koi8-r": "windows-1251", "cp866": "windows-1251",
        "kz1048": "koi8-r", "mac-cyrillic": "koi8-r"}  # fmt: skip
CASES = {"as written": str, "lower": str.lower, "upper": str.upper}
TARGET_DECLARED, TARGET_UNDECLARED = 1.0, 0.95


def load_texts(per_file: int, seed: int = 14) -> dict[str, list[str]]:
    """Up to ``per_file`` test-split texts of each file, by language."""
    texts: dict[str, list[str]] = defaultdict(list)
    for path in sorted(REAL.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            rows = [row for row in map(json.loads, lines) if row["split"] == "test"]
        random.Random(seed).shuffle(rows)
        texts[rows[0]["lang"]] += [row["text"] for row in rows[:per_file]]
    return dict(texts)


def page(text: str) -> str:
    title = " ".join(text.split()[:6])
    return f"<html><head><title>{title}</title></head><body><p>{text}</p></body></html>"


def measure(texts: dict[str, list[str]]) -> dict:
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong: list[dict] = []
    started, decoded = time.perf_counter(), 0
    for lang, lang_texts in texts.items():
        for text in lang_texts:
            for case_name, case in CASES.items():
                html = page(case(text))
                for charset in CHARSETS:
                    try:
                        payload = html.encode(charset)
                    except UnicodeEncodeError:
                        continue  # a letter the charset lacks
                    for how, declared in (
                        ("undeclared", None),
                        ("declared", charset),
                        ("lie", LIES[charset]),
                    ):
                        got = decode_html(payload, declared)
                        decoded += 1
                        right = got.text == html
                        for key in (how, f"{how} {lang} {case_name} {charset}"):
                            tally[key][0] += right
                            tally[key][1] += 1
                        if not right and len(wrong) < 30:
                            wrong.append(
                                {"how": how, "charset": charset, "got": got.encoding, "text": html[:160]}
                            )
    seconds = time.perf_counter() - started
    shares = {
        key: {"right": r, "pages": n, "share": round(r / n, 4)} for key, (r, n) in sorted(tally.items())
    }
    return {"shares": shares, "examples_wrong": wrong, "ms_per_decode": round(1000 * seconds / decoded, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-file", type=int, default=400)
    args = parser.parse_args()
    if not REAL.is_dir():
        raise SystemExit(f"{REAL} is missing: the real corpora are needed for this benchmark")
    texts = load_texts(args.per_file)
    result = measure(texts)
    shares = result["shares"]
    result["texts"] = {lang: len(items) for lang, items in texts.items()}
    result["met"] = {
        "declared": shares["declared"]["share"] >= TARGET_DECLARED,
        "undeclared": shares["undeclared"]["share"] >= TARGET_UNDECLARED,
    }
    write_results("decoding", result)


if __name__ == "__main__":
    main()
