"""MinHash for duplicate grouping: the hand-written MinHasher this project had, datasketch and rensa.

On the pages of the demo corpus (``corpus.iter_pages``: originals and their mirrors on new sites, with
fresh disguises), extracted as the fast engine extracts them and normalised as the model reads them,
each implementation makes the signatures of every page, and duplicate grouping (``duplicates.link``,
LSH bands of ``score.lsh_bands``, the similarity and containment thresholds of params.yaml) runs on them.

Measured for each implementation:
- signatures per second (shingling included, the same for all; the best of ``--repeats`` passes), and
  what that costs per page next to ``classifier score`` (benchmarks/results/scoring.json);
- whether a signature is the same in another process (with another ``PYTHONHASHSEED``);
- its grouping by the estimated Jaccard similarity against the exact one (the exact Jaccard similarity
  of the shingle sets, every pair compared), and its groupings as the engine makes them (text; text and
  contact keys) against the hand-written one's: adjusted Rand index (ARI), the pairs of pages grouped
  together by one and not by the other, and the share of mirrors in their original's group. MinHash is
  an estimate, so pairs near a threshold fall either way by chance: each implementation runs with
  ``--seeds`` permutation seeds, and the hand-written one against itself under another seed gives the
  disagreement that chance alone makes (the noise floor).

Decision rule (issue 18): the project's ``MinHasher`` uses datasketch when, over the seeds, its Jaccard
grouping is as close to the exact one as the hand-written one's (mean ARI no more than 0.01 lower), its
text grouping agrees with the hand-written one's as well as that one agrees with itself under another
seed (the same slack), and it makes at least half as many signatures per second. Writes
benchmarks/results/minhash.json.

    python benchmarks/minhash.py [--pages 6200] [--corpus-seed 18] [--seeds 5] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zlib
from importlib.metadata import version
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.metrics import adjusted_rand_score
from sklearn.metrics.cluster import pair_confusion_matrix

from classifier.common.config import ScoreSettings, load_settings
from classifier.corpus.pages import iter_pages
from classifier.extract.fast_engine import extract_html_fast
from classifier.score.duplicates import (
    MIN_CONTAINED_SHINGLES,
    UnionFind,
    band_keys,
    contact_keys,
    grouped,
    link,
)
from classifier.score.duplicates import MinHasher as ProjectMinHasher
from classifier.text.contacts import find_contacts
from classifier.text.normalize import normalize_text
from results_file import RESULTS_DIR, write_results

HERE = Path(__file__).parent
_PRIME = np.uint64((1 << 31) - 1)
SLACK, MIN_SPEED_RATIO = 0.01, 0.5  # the decision rule above
EXACT_NOTE = (
    "not the reference: containment (>= 70% of the shorter text's shingles in the longer) checked over"
    " every pair chains short texts of unrelated pages into one group; the engine checks it only for"
    " candidates sharing an LSH band, so the exact reference is the Jaccard rule alone"
)
RENSA_NOTE = (
    "rensa is faster, but its signatures are stored (checkpoints, the case store's bank) and must stay"
    " comparable across versions: rensa 0.5.0 changed its R-MinHash digests with no way to make the old"
    " ones (its release notes: rebuild persisted signatures, never compare digests across algorithm"
    " versions), while datasketch names its schemes and kept its pre-2.0 one bit for bit; the time it"
    " saves is under 0.1 ms a page, well under 1% of classifier score's time per page"
)

Sketch = tuple[np.ndarray, int] | None


class HandWrittenMinHasher(ProjectMinHasher):
    """The MinHasher this project wrote before issue 18 (crc32 of each shingle, universal hashing modulo
    the Mersenne prime 2**31 - 1), kept here as the baseline. Shingling is the project's."""

    def __init__(self, permutations: int = 128, shingle_words: int = 4, seed: int = 1):
        super().__init__(permutations, shingle_words, seed)
        self.scheme = f"hand-written crc32, mod 2**31-1:seed={seed}"
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, int(_PRIME), size=permutations, dtype=np.uint64)
        self.b = rng.integers(0, int(_PRIME), size=permutations, dtype=np.uint64)

    def sketch(self, normalised: str) -> Sketch:
        shingles = self.shingles(normalised)
        if not shingles:
            return None
        hashes = np.fromiter((zlib.crc32(s.encode()) for s in shingles), dtype=np.uint64, count=len(shingles))
        permuted = (np.outer(hashes % _PRIME, self.a) + self.b) % _PRIME
        return permuted.min(axis=0).astype(np.uint32), len(shingles)


class RensaMinHasher(ProjectMinHasher):
    """rensa's ``RMinHash`` (Rust) on the project's shingles."""

    def __init__(self, permutations: int = 128, shingle_words: int = 4, seed: int = 1):
        import rensa

        super().__init__(permutations, shingle_words, seed)
        self.scheme = f"rensa {version('rensa')} RMinHash:seed={seed}"
        self.make = lambda: rensa.RMinHash(permutations, seed)

    def sketch(self, normalised: str) -> Sketch:
        shingles = self.shingles(normalised)
        if not shingles:
            return None
        minhash = self.make()
        minhash.update(list(shingles))
        return np.asarray(minhash.digest(), dtype=np.uint32), len(shingles)


def implementations(settings: ScoreSettings, seed: int = 1) -> dict[str, ProjectMinHasher]:
    args = (settings.minhash_permutations, settings.shingle_words, seed)
    found: dict[str, ProjectMinHasher] = {
        "hand-written": HandWrittenMinHasher(*args),
        "datasketch": ProjectMinHasher(*args),
    }
    try:
        found["rensa"] = RensaMinHasher(*args)
    except ImportError:
        print("rensa is not installed: measured without it (pip install rensa)")
    return found


# -- pages ------------------------------------------------------------------------------------------
def demo_pages(n: int, seed: int) -> tuple[list[str], list[dict[str, list[str]]], list[int | None]]:
    """Normalised texts, contacts and the position of each page's original (None for originals)."""
    settings = load_settings()
    texts, contacts, origins = [], [], []
    for page, origin in iter_pages(settings.corpus, n, seed):
        doc = extract_html_fast(page.html, page.url, settings.extract)
        fields = [doc["title"], doc["description"], doc["text"]]
        texts.append(normalize_text("\n".join(f for f in fields if f)))
        contacts.append(find_contacts([doc["text"], doc["title"], doc["description"]], doc["links"]))
        origins.append(origin)
    return texts, contacts, origins


# -- speed and stability ----------------------------------------------------------------------------
def signatures_per_second(
    hashers: dict[str, ProjectMinHasher], texts: list[str], repeats: int
) -> dict[str, float]:
    """The best of ``repeats`` passes over the texts, the implementations taking turns within each
    repeat so that a load from elsewhere on the machine falls on all of them alike."""
    best = dict.fromkeys(hashers, float("inf"))
    for _ in range(repeats):
        for name, hasher in hashers.items():
            started = time.perf_counter()
            for text in texts:
                hasher.sketch(text)
            best[name] = min(best[name], time.perf_counter() - started)
    return {name: round(len(texts) / seconds, 1) for name, seconds in best.items()}


def shingles_per_second(hasher: ProjectMinHasher, texts: list[str]) -> float:
    started = time.perf_counter()
    for text in texts:
        hasher.shingles(text)
    return round(len(texts) / (time.perf_counter() - started), 1)


def same_in_another_process(name: str, settings: ScoreSettings, text: str) -> bool:
    """The signature of ``text`` made in a fresh interpreter (another hash seed) equals ours."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import minhash;"
        "from classifier.common.config import load_settings;"
        "hasher = minhash.implementations(load_settings().score)[sys.argv[2]];"
        "print(','.join(map(str, hasher.signature(sys.stdin.read()).tolist())))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "18"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(HERE), name],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=600,
    )
    here = implementations(settings)[name].signature(text)
    return [int(x) for x in out.stdout.strip().splitlines()[-1].split(",")] == here.tolist()


# -- grouping ---------------------------------------------------------------------------------------
def grouping(
    hasher: ProjectMinHasher,
    texts: list[str],
    contacts: list[dict[str, list[str]]],
    settings: ScoreSettings,
) -> dict[str, np.ndarray]:
    """Cluster roots as the engine makes them (by text, and with the contact keys), and by the
    estimated Jaccard similarity alone (no containment: what the exact reference decides)."""
    sketches = [hasher.sketch(t) for t in texts]
    sigs = [s[0] if s else None for s in sketches]
    sizes = [s[1] if s else 0 for s in sketches]
    text_keys = [
        (k, i) for i, s in enumerate(sigs) if s is not None for k in band_keys(s, settings.lsh_bands)
    ]
    with_contacts = text_keys + [(k, i) for i, c in enumerate(contacts) for k in contact_keys(c, settings)]

    def roots(pairs: list[tuple[str, int]], containment: bool = True) -> np.ndarray:
        return link(
            grouped(sorted(pairs)),
            lambda members: [sigs[m] for m in members],
            len(texts),
            settings,
            (lambda members: [sizes[m] for m in members]) if containment else None,
        )

    return {
        "jaccard": roots(text_keys, containment=False),
        "text": roots(text_keys),
        "text_and_contacts": roots(with_contacts),
    }


def exact_grouping(
    hasher: ProjectMinHasher, texts: list[str], settings: ScoreSettings, containment: bool = False
) -> np.ndarray:
    """Groups by the exact Jaccard similarity of the shingle sets, every pair that shares a shingle
    compared; with ``containment``, by the whole rule (which, over all pairs, chains short texts)."""
    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    for i, text in enumerate(texts):
        for shingle in hasher.shingles(text):
            rows.append(i)
            cols.append(vocabulary.setdefault(shingle, len(vocabulary)))
    incidence = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(len(texts), len(vocabulary))
    )
    sizes = np.asarray(incidence.sum(axis=1)).ravel()
    shared = sparse.triu(incidence @ incidence.T, k=1).tocoo()
    first, second, both = shared.row, shared.col, shared.data.astype(float)
    jaccard = both / (sizes[first] + sizes[second] - both)
    smaller = np.minimum(sizes[first], sizes[second])
    contained = (smaller >= MIN_CONTAINED_SHINGLES) & (both / smaller >= settings.containment_threshold)
    copies = (jaccard >= settings.similarity_threshold) | (contained & containment)
    found = UnionFind(len(texts))
    for a, b in zip(first[copies].tolist(), second[copies].tolist(), strict=True):
        found.union(a, b)
    return found.roots()


def agreement(first: np.ndarray, second: np.ndarray) -> dict[str, float | int]:
    """Adjusted Rand index, and the pairs of pages together in one grouping but not in the other."""
    pairs = pair_confusion_matrix(first, second) // 2  # ordered pairs -> pairs
    return {
        "adjusted_rand_index": round(float(adjusted_rand_score(first, second)), 4),
        "pairs_together_in_both": int(pairs[1, 1]),
        "pairs_only_in_first": int(pairs[1, 0]),
        "pairs_only_in_second": int(pairs[0, 1]),
    }


def mirrors_with_original(roots: np.ndarray, origins: list[int | None]) -> float:
    mirrors = [(i, o) for i, o in enumerate(origins) if o is not None]
    return round(sum(bool(roots[i] == roots[o]) for i, o in mirrors) / max(1, len(mirrors)), 4)


def summary(agreements: list[dict[str, float | int]]) -> dict[str, object]:
    """Means over the seeds of the adjusted Rand index and of the pairs one grouping has and not the other."""
    differing = [a["pairs_only_in_first"] + a["pairs_only_in_second"] for a in agreements]
    return {
        "adjusted_rand_index_mean": round(float(np.mean([a["adjusted_rand_index"] for a in agreements])), 4),
        "differing_pairs_mean": round(float(np.mean(differing)), 1),
        "pairs_together_in_both_mean": round(
            float(np.mean([a["pairs_together_in_both"] for a in agreements])), 1
        ),
        "per_seed": agreements,
    }


def compare(
    runs: dict[str, list[dict[str, np.ndarray]]], exact: np.ndarray, origins: list[int | None]
) -> dict[str, dict]:
    """Each implementation over the seeds: its Jaccard grouping against the exact one, and its groupings
    against the hand-written one's under the same seed (the hand-written one: under the next seed)."""
    base = runs["hand-written"]
    out: dict[str, dict] = {}
    for name, seeds in runs.items():
        others = base[1:] + base[:1] if name == "hand-written" else base
        out[name] = {
            "groups_by_text": [len(set(r["text"].tolist())) for r in seeds],
            "mirrors_with_original_by_text": round(
                float(np.mean([mirrors_with_original(r["text"], origins) for r in seeds])), 4
            ),
            "mirrors_with_original_by_text_and_contacts": round(
                float(np.mean([mirrors_with_original(r["text_and_contacts"], origins) for r in seeds])), 4
            ),
            "jaccard_vs_exact": summary([agreement(exact, r["jaccard"]) for r in seeds]),
            **{
                f"{how}_vs_hand_written": summary(
                    [agreement(b[how], r[how]) for b, r in zip(others, seeds, strict=True)]
                )
                for how in ("text", "text_and_contacts")
            },
        }
    return out


def decide(speed: dict[str, float], grouping: dict[str, dict]) -> dict[str, object]:
    ours, theirs = grouping["hand-written"], grouping["datasketch"]

    def ari(found: dict, what: str) -> float:
        return found[what]["adjusted_rand_index_mean"]

    ratio = speed["datasketch"] / speed["hand-written"]
    met = {
        "as_close_to_exact": ari(theirs, "jaccard_vs_exact") >= ari(ours, "jaccard_vs_exact") - SLACK,
        "agrees_with_hand_written_as_it_does_with_itself": ari(theirs, "text_vs_hand_written")
        >= ari(ours, "text_vs_hand_written") - SLACK,
        "speed": ratio >= MIN_SPEED_RATIO,
    }
    return {
        "rule": f"mean ARI vs exact (Jaccard) and vs hand-written (text) each no more than {SLACK} below"
        f" the hand-written one's (vs itself under another seed), and >= {MIN_SPEED_RATIO}x its signatures/s",
        "datasketch_vs_hand_written_speed": round(ratio, 3),
        "met": met,
        "use_datasketch": all(met.values()),
        "why_not_rensa": RENSA_NOTE,
    }


def cost_next_to_scoring(speed: dict[str, float]) -> dict[str, float]:
    """Milliseconds per page of each implementation, and its share of a page in ``classifier score``."""
    scoring = RESULTS_DIR / "scoring.json"
    per_page = 1 / json.loads(scoring.read_text())["score_1_job_pages_per_s"] if scoring.exists() else None
    return {
        name: {
            "ms_per_page": round(1000 / rate, 4),
            **({"share_of_score_time": round(1 / rate / per_page, 5)} if per_page else {}),
        }
        for name, rate in speed.items()
    }


def measure(texts, contacts, origins, settings: ScoreSettings, seeds: int, repeats: int) -> dict:
    hashers = implementations(settings)
    speed = signatures_per_second(hashers, texts, repeats)
    runs = {
        name: [
            grouping(implementations(settings, seed)[name], texts, contacts, settings)
            for seed in range(1, seeds + 1)
        ]
        for name in hashers
    }
    exact = exact_grouping(hashers["hand-written"], texts, settings)
    whole_rule = exact_grouping(hashers["hand-written"], texts, settings, containment=True)
    compared = compare(runs, exact, origins)
    return {
        "implementations": {name: h.scheme for name, h in hashers.items()},
        "signatures_per_second": speed,
        "shingling_only_per_second": shingles_per_second(hashers["hand-written"], texts),
        "cost_next_to_scoring": cost_next_to_scoring(speed),
        "same_signature_in_another_process": {
            name: same_in_another_process(name, settings, texts[0]) for name in hashers
        },
        "exact_jaccard": {
            "groups": len(set(exact.tolist())),
            "pairs_together": int(pair_confusion_matrix(exact, exact)[1, 1] // 2),
        },
        "exact_whole_rule_over_all_pairs": {
            "largest_group": int(np.bincount(whole_rule).max()),
            "pairs_together": int(pair_confusion_matrix(whole_rule, whole_rule)[1, 1] // 2),
            "note": EXACT_NOTE,
        },
        "grouping": compared,
        "decision": decide(speed, compared),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=6200)
    parser.add_argument("--corpus-seed", type=int, default=18)
    parser.add_argument("--seeds", type=int, default=5, help="permutation seeds per implementation")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    settings = load_settings().score
    started = time.perf_counter()
    texts, contacts, origins = demo_pages(args.pages, args.corpus_seed)
    print(f"{len(texts)} pages extracted and normalised in {time.perf_counter() - started:.0f}s")
    result = measure(texts, contacts, origins, settings, args.seeds, args.repeats)
    write_results(
        "minhash",
        {
            "pages": len(texts),
            "mirrors": sum(o is not None for o in origins),
            "corpus_seed": args.corpus_seed,
            "permutation_seeds": args.seeds,
            "settings": {
                k: getattr(settings, k)
                for k in (
                    *("shingle_words", "minhash_permutations", "lsh_bands"),
                    *("similarity_threshold", "containment_threshold", "link_contacts"),
                )
            },
            **result,
            "project_minhasher": ProjectMinHasher(
                settings.minhash_permutations, settings.shingle_words
            ).scheme,
        },
    )


if __name__ == "__main__":
    main()
