"""Duplicate grouping: copies of one post across channels and mirror domains become one case.

Two records belong together when their normalised texts are near-identical (MinHash of word
shingles, candidates found by LSH banding and confirmed by the estimated Jaccard similarity or
containment) or when they share a contact that identifies its owner (Telegram handle or bot, wallet,
.onion): a news page quoting a shop's bot then sits next to the shop, which is context an expert wants. Keys are plain strings so that the candidate search can run in SQL on a
checkpoint database of any size: only one group of candidates is in memory at a time.

The LSH banding is ours (``band_keys``), not datasketch's ``MinHashLSH``: that index lives in memory,
Redis or Cassandra, while our candidates are searched in SQL on the run's checkpoint (SQLite) and in
the case store's bank (SQLite or PostgreSQL), so the bands are plain string keys in those databases.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator

import numpy as np
from datasketch import MinHash
from datasketch.hashfunc import sha1_hash32

from classifier.common.config import ScoreSettings
from classifier.text.identifiers import identifier_keys

_WORD = re.compile(r"\w+")
MAX_REPRESENTATIVES = 64  # distinct texts a bucket keeps to compare newcomers with; identical ones are free
# A repost inside other boilerplate (a forum's user card, a channel's header) has low Jaccard similarity
# with its source but is almost wholly contained in it; containment is trusted only for texts this long,
# or a two-line post would be "contained" in every page that quotes it.
MIN_CONTAINED_SHINGLES = 8
# Signatures are stored (checkpoints, the case store's bank) and compared with ones made by other
# processes, runs and versions, so every choice that makes them is pinned here rather than left to the
# library's defaults (datasketch 2.0 changed its default scheme): a change to any of them makes old
# signatures incomparable, which MinHasher.scheme names so that a store can tell.
_SCHEME = "affine32"  # datasketch >= 2.0: a * fmix32(h) + b mod 2**32, a bijection, uint32 values
_SHINGLE_HASH = sha1_hash32  # the first 4 bytes of SHA-1 of the UTF-8 shingle, little-endian


class MinHasher:
    """MinHash signatures of word shingles (datasketch), with fixed, seeded permutations: the same text
    gives the same signature in every process and run."""

    def __init__(self, permutations: int = 128, shingle_words: int = 4, seed: int = 1):
        self._empty = MinHash(num_perm=permutations, seed=seed, hashfunc=_SHINGLE_HASH, scheme=_SCHEME)
        self.shingle_words = shingle_words
        self.scheme = f"datasketch-{_SCHEME}-sha1_32:seed={seed}:perm={permutations}:words={shingle_words}"

    def shingles(self, normalised: str) -> set[str]:
        # contacts are placeholder tokens in normalised text, so copies that only change the handle
        # they advertise stay identical
        words = _WORD.findall(normalised.lower())
        k = self.shingle_words
        if len(words) <= k:
            return {" ".join(words)} if words else set()
        return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}

    def signature(self, normalised: str) -> np.ndarray | None:
        """uint32 signature, or None for a text without words (it is nobody's copy)."""
        sketch = self.sketch(normalised)
        return sketch[0] if sketch else None

    def sketch(self, normalised: str) -> tuple[np.ndarray, int] | None:
        """The signature and the number of shingles it summarises (for containment), or None."""
        shingles = self.shingles(normalised)
        if not shingles:
            return None
        minhash = self._empty.copy()
        minhash.update_batch([s.encode() for s in shingles])
        return minhash.hashvalues.astype(np.uint32), len(shingles)


def band_keys(signature: np.ndarray, bands: int) -> list[str]:
    """One key per LSH band: records sharing any key are candidate copies."""
    if not 0 < bands <= len(signature) or len(signature) % bands:
        raise ValueError(
            f"score.lsh_bands must divide score.minhash_permutations ({len(signature)}), not {bands}"
        )
    rows = len(signature) // bands
    values = np.asarray(signature, dtype="<u4")  # little-endian on every machine: keys are stored
    return [
        f"b{i}:" + hashlib.blake2b(values[i * rows : (i + 1) * rows].tobytes(), digest_size=8).hexdigest()
        for i in range(bands)
    ]


def similarity(first: np.ndarray, second: np.ndarray) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    return float(np.mean(first == second))


def containment(jaccard: np.ndarray, size: int, sizes: np.ndarray) -> np.ndarray:
    """Share of the smaller shingle set inside the larger, from Jaccard and the set sizes."""
    shared = jaccard * (size + sizes) / (1 + jaccard)
    return shared / np.minimum(size, sizes)


def copies(jaccard: np.ndarray, size: int, sizes: np.ndarray | None, settings: ScoreSettings) -> np.ndarray:
    """The copy rule, for one text against several: similar (estimated Jaccard at least
    ``similarity_threshold``), or, when both are long enough and their sizes are known, one contained in
    the other (``containment_threshold``). Grouping within a run and matching the bank both use it."""
    similar = jaccard >= settings.similarity_threshold
    if sizes is None:
        return similar
    long_enough = np.minimum(size, sizes) >= MIN_CONTAINED_SHINGLES
    return similar | (long_enough & (containment(jaccard, size, sizes) >= settings.containment_threshold))


def contact_keys(contacts: dict[str, list[str]], settings: ScoreSettings) -> list[str]:
    """Keys of the contacts that identify a seller (``text.identifiers``), of the kinds
    ``score.link_contacts`` lists (configurable: phones are shared fakes in the demo)."""
    return identifier_keys(contacts, settings.link_contacts)


class UnionFind:
    """Connected components over record positions 0..n-1."""

    def __init__(self, n: int):
        self.parent = np.arange(n, dtype=np.int64)

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = int(self.parent[root])
        while self.parent[item] != root:  # path compression
            self.parent[item], item = root, int(self.parent[item])
        return root

    def union(self, first: int, second: int) -> None:
        a, b = self.find(first), self.find(second)
        if a != b:
            # the earlier record is the root, so a cluster is named after its first member
            self.parent[max(a, b)] = min(a, b)

    def roots(self) -> np.ndarray:
        return np.fromiter(
            (self.find(i) for i in range(len(self.parent))), dtype=np.int64, count=len(self.parent)
        )


def link(
    groups: Iterable[tuple[str, list[int]]],
    signatures: Callable[[list[int]], list[np.ndarray]],
    n: int,
    settings: ScoreSettings,
    sizes: Callable[[list[int]], list[int]] | None = None,
) -> np.ndarray:
    """Cluster roots for ``n`` records from groups of records that share a key.

    ``groups`` yields (key, positions) with positions in increasing order; ``signatures(positions)``
    returns their MinHash signatures, so a bucket of candidates is confirmed without holding every
    signature in memory; ``sizes(positions)``, when given, their shingle counts, so that a copy
    wrapped in other boilerplate is recognised by containment.
    """
    found = UnionFind(n)
    for key, members in groups:
        if len(members) < 2:
            continue
        if key.startswith("c:"):
            if len(members) <= settings.max_contact_group:
                for other in members[1:]:
                    found.union(members[0], other)
            continue
        counts = sizes(members) if sizes else None
        _link_bucket(members, signatures(members), counts, found, settings)
    return found.roots()


def _link_bucket(
    members: list[int],
    sigs: list[np.ndarray],
    sizes: list[int] | None,
    found: UnionFind,
    settings: ScoreSettings,
) -> None:
    """Join each record to every earlier representative it copies (so the result is order-free for
    chains A~C~B); identical signatures join directly, however many there are."""
    representatives: list[int] = []
    rep_sigs: list[np.ndarray] = []
    rep_sizes: list[int] = []
    first_with: dict[bytes, int] = {}
    for position, (member, sig) in enumerate(zip(members, sigs, strict=True)):
        exact = first_with.setdefault(sig.tobytes(), member)
        if exact != member:
            found.union(exact, member)
            continue
        size = sizes[position] if sizes else 0
        if rep_sigs:
            jaccard = (np.vstack(rep_sigs) == sig).mean(axis=1)
            similar = copies(jaccard, size, np.asarray(rep_sizes) if sizes else None, settings)
            for index in np.flatnonzero(similar):
                found.union(representatives[index], member)
        if len(representatives) < MAX_REPRESENTATIVES:
            representatives.append(member)
            rep_sigs.append(sig)
            rep_sizes.append(size)


def grouped(pairs: Iterable[tuple[str, int]]) -> Iterator[tuple[str, list[int]]]:
    """(key, position) pairs sorted by key -> (key, [positions])."""
    current, members = None, []
    for key, position in pairs:
        if key != current:
            if current is not None:
                yield current, members
            current, members = key, []
        members.append(position)
    if current is not None:
        yield current, members
