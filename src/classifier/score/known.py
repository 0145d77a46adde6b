"""Known shops: every record of a run looked up in the bank of cases that earlier runs stored.

A record matches an earlier case when they share a strong identifier (a Telegram handle or bot, a
wallet, an .onion address; phones where ``score.link_contacts`` lists them) or when their texts are
near-identical (an LSH band key in common, confirmed by the MinHash similarity or containment that
duplicate grouping uses within a run). The bank itself lives in the case store, the stage after this
one, so it is handed in as a :class:`Bank`.

The best match of each record (a confirmed case first, then a rejected one, then an undecided one;
an identifier before a text) is kept in the run's checkpoint once, before the run writes anything to
the store: a resumed run never matches the cases it created itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from classifier.common.batching import batched
from classifier.common.config import ScoreSettings
from classifier.score.checkpoint import Checkpoint
from classifier.score.duplicates import copies, grouped

CONFIRMED, REJECTED, UNDECIDED = "confirmed", "rejected", "undecided"
_ORDER = {CONFIRMED: 0, REJECTED: 1, UNDECIDED: 2}
LOOKUP_BATCH = 2000  # keys per bank lookup: fewer round trips to a server


@dataclass(frozen=True)
class BankHit:
    """An earlier case that holds one of the looked-up keys."""

    key: str
    case_id: int
    shop_id: int
    status: str  # CONFIRMED, REJECTED or UNDECIDED: the case's expert decision
    category: str | None = None  # what the expert (or else the model) named it
    signature: bytes | None = None  # its MinHash signature (uint32), for keys of text bands
    shingles: int = 0


class Bank(Protocol):
    """The bank of earlier cases: ``queue.CaseStore`` answers it."""

    def lookup(self, keys: Sequence[str], max_cases_per_key: int) -> list[BankHit]:
        """The cases holding each key; keys held by more than ``max_cases_per_key`` cases (public
        contacts such as hotlines) are left out."""
        ...


@dataclass
class Match:
    """What the queue row of one record says about the shop it belongs to."""

    shop_id: int
    case_id: int
    status: str
    how: str  # "telegram @x_example", "text 0.93"
    category: str | None = None
    shops: set[int] = field(default_factory=set)  # every known shop the record matched

    def outranks(self, other: Match) -> bool:
        """Confirmed before rejected before undecided; an identifier before a text; then the closer text."""
        return self._rank() < other._rank()

    def _rank(self) -> tuple[int, int, float]:
        is_text = self.how.startswith("text ")
        closeness = -float(self.how.split()[1]) if is_text else 0.0
        return _ORDER[self.status], int(is_text), closeness


def describe_key(key: str) -> str:
    """An identifier key as experts read it: ``c:telegram:@x_example`` is "telegram @x_example"."""
    _, kind, value = key.split(":", 2)
    return f"{kind} {value}"


def match_known(checkpoint: Checkpoint, bank: Bank, settings: ScoreSettings) -> int:
    """Find each record's best match in the bank and keep it in the checkpoint; return how many matched.

    Done once per run: a resumed run keeps the matches made before anything was stored.
    """
    if checkpoint.get("known_matched") is None:
        found = _best_matches(checkpoint, bank, settings)
        checkpoint.set_known(found.items())
    return checkpoint.known_count()


def _best_matches(checkpoint: Checkpoint, bank: Bank, settings: ScoreSettings) -> dict[int, Match]:
    best: dict[int, Match] = {}
    for groups in batched(grouped(checkpoint.key_groups()), LOOKUP_BATCH):
        members = dict(groups)
        hits = bank.lookup(list(members), settings.max_contact_group)
        for seq, match in _confirmed(hits, members, checkpoint, settings):
            current = best.get(seq)
            if current is None:
                best[seq] = match
            else:
                match.shops |= current.shops
                if match.outranks(current):
                    best[seq] = match
                else:
                    current.shops |= match.shops
    return best


def _confirmed(
    hits: list[BankHit], members: dict[str, list[int]], checkpoint: Checkpoint, settings: ScoreSettings
) -> Iterator[tuple[int, Match]]:
    """(record, match) for hits on identifiers, and for hits on text bands whose texts really are copies."""
    text_seqs = sorted({s for h in hits if not h.key.startswith("c:") for s in members[h.key]})
    ours = dict(zip(text_seqs, checkpoint.signatures(text_seqs), strict=True))
    sizes = dict(zip(text_seqs, checkpoint.sizes(text_seqs), strict=True))
    compared: set[tuple[int, int]] = set()  # a copy shares many bands: compare each pair once
    for hit in hits:
        if hit.key.startswith("c:"):
            for seq in members[hit.key]:
                yield seq, _match(hit, describe_key(hit.key))
            continue
        if hit.signature is None:
            continue
        theirs = np.frombuffer(hit.signature, dtype=np.uint32)
        for seq in members[hit.key]:
            if (seq, hit.case_id) in compared or len(ours[seq]) != len(theirs):  # other settings: skip
                continue
            compared.add((seq, hit.case_id))
            jaccard = float(np.mean(ours[seq] == theirs))
            if are_copies(jaccard, sizes[seq], hit.shingles, settings):
                yield seq, _match(hit, f"text {jaccard:.2f}")


def are_copies(jaccard: float, size: int, other: int, settings: ScoreSettings) -> bool:
    """The rule of duplicate grouping (``duplicates.copies``) for one pair of texts."""
    return bool(copies(np.asarray([jaccard]), size, np.asarray([other]), settings)[0])


def _match(hit: BankHit, how: str) -> Match:
    return Match(hit.shop_id, hit.case_id, hit.status, how, hit.category, {hit.shop_id})
