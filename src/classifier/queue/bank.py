"""The bank of shops: what every stored case is known by, so that later runs recognise its mirrors.

For each case the bank keeps its strong identifiers and the LSH band keys of its text (``bank_keys``,
the keys of duplicate grouping) and its MinHash signature (``bank_signatures``). A *shop* is a
connected group of cases across all runs: cases that share an identifier or a near-identical text
(as duplicate grouping decides it), and the cases of one duplicate group of a run. ``cases.shop_id``
names it after its earliest case; when a new case links two shops, the later one joins the earlier.
A shop's status follows its cases' expert decisions (:func:`shop_status`).

Scoring asks :meth:`ShopBank.lookup` which earlier cases hold a record's keys (``score/known.py``);
storing a run's rows then adds the new cases and their links here, in the same transaction. Experts see
a shop, and why each of its pages is in it, through ``shops.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from classifier.common.batching import batched
from classifier.queue.database import dialect_insert
from classifier.queue.schema import (
    CATEGORIES,
    bank_keys_table,
    bank_signatures_table,
    cases_table,
    decisions_table,
)
from classifier.queue.values import IN_LIST_LIMIT, clean_text
from classifier.score.known import CONFIRMED, REJECTED, UNDECIDED, BankHit

MAX_KEY_CHARS = 200  # the column's size; identifiers are far shorter (a wallet is at most 74)


def known_status(case_status: str) -> str:
    """A case's expert decision as a bank match reports it."""
    return case_status if case_status in (CONFIRMED, REJECTED) else UNDECIDED


def _resolve(renamed: Mapping[int, int], shop: int) -> int:
    """The shop that ``shop`` was merged into, following chains of merges."""
    while shop in renamed:
        shop = renamed[shop]
    return shop


def shop_status(case_statuses: Iterable[str]) -> str:
    """Confirmed when experts confirmed any of its pages; rejected when they rejected some and confirmed
    none; else undecided."""
    statuses = set(case_statuses)
    if CONFIRMED in statuses:
        return CONFIRMED
    return REJECTED if REJECTED in statuses else UNDECIDED


class ShopBank:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect.name

    # -- matching at scoring time --

    def lookup(self, keys: Sequence[str], max_cases_per_key: int) -> list[BankHit]:
        """The earlier cases holding each key, except keys on more than ``max_cases_per_key`` cases
        (public contacts, boilerplate). Index probes only; what is known of a case (its shop, decision,
        signature) is read once per case, not once per key it holds: a copy shares a case's every band."""
        k = bank_keys_table.c
        pairs: list[tuple[str, int]] = []
        with self.engine.connect() as conn:
            for chunk in batched([key for key in keys if len(key) <= MAX_KEY_CHARS], IN_LIST_LIMIT):
                counted = select(k.match_key).where(k.match_key.in_(chunk)).group_by(k.match_key)
                usable = [key for (key,) in conn.execute(counted.having(func.count() <= max_cases_per_key))]
                if usable:
                    query = select(k.match_key, k.case_id).where(k.match_key.in_(usable))
                    found = conn.execute(query.order_by(k.match_key, k.case_id))
                    pairs += [(key, case_id) for key, case_id in found]
            if not pairs:
                return []
            cases = self._known_cases(conn, sorted({case_id for _, case_id in pairs}))
            text_cases = sorted({case_id for key, case_id in pairs if not key.startswith("c:")})
            signatures = self._signatures(conn, text_cases)
        hits = []
        for key, case_id in pairs:
            shop_id, status, category = cases[case_id]
            signature, shingles = (
                signatures.get(case_id, (None, 0)) if not key.startswith("c:") else (None, 0)
            )
            hits.append(BankHit(key, case_id, shop_id, status, category, signature, shingles))
        return hits

    def _known_cases(self, conn: Connection, case_ids: list[int]) -> dict[int, tuple[int, str, str | None]]:
        """case id -> (shop, the experts' decision, the category experts named, else the model's)."""
        c, d = cases_table.c, decisions_table.c
        named = (
            select(d.category)
            .where(d.case_id == c.id, d.decision == CONFIRMED)
            .order_by(d.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        found = {}
        for chunk in batched(case_ids, IN_LIST_LIMIT):
            query = select(c.id, c.shop_id, c.status, c.category, named).where(c.id.in_(chunk))
            for case_id, shop_id, status, category, decided in conn.execute(query):
                model_named = category if category in CATEGORIES else None
                found[case_id] = (shop_id or case_id, known_status(status), decided or model_named)
        return found

    def _signatures(self, conn: Connection, case_ids: list[int]) -> dict[int, tuple[bytes, int]]:
        s = bank_signatures_table.c
        found = {}
        for chunk in batched(case_ids, IN_LIST_LIMIT):
            query = select(s.case_id, s.signature, s.shingles).where(s.case_id.in_(chunk))
            found.update(
                {case_id: (signature, shingles or 0) for case_id, signature, shingles in conn.execute(query)}
            )
        return found

    # -- storing a run's cases --

    def remember(self, conn: Connection, rows: Sequence[Mapping[str, Any]], case_ids: Sequence[int]) -> None:
        """Add the cases of stored rows (``case_ids[i]`` is the case of ``rows[i]``) to the bank, and put
        each in its shop: the shops its record matched, its own earlier shop, its run's duplicate group.

        A few statements per batch, not per row: most cases of a run are new and alone, and they become
        shops of their own in one UPDATE."""
        self._add_keys(conn, rows, case_ids)
        groups: dict[tuple[str, str], set[int]] = {}
        linked: dict[tuple[str, str], set[int]] = {}
        for row, case_id in zip(rows, case_ids, strict=True):
            group = (clean_text(row.get("run_id")), clean_text(row.get("cluster_id")) or f"case-{case_id}")
            groups.setdefault(group, set()).add(case_id)
            linked.setdefault(group, set()).update(int(s) for s in row.get("linked_shops") or ())
        own = self._own_shops(conn, case_ids)
        stored = self._group_shops(conn, list(groups))
        moves: dict[int, set[int]] = {}  # shop -> cases to put in it
        renamed: dict[int, int] = {}  # shops merged into an earlier one during this batch
        for group, members in groups.items():
            shops = linked[group] | stored.get(group, set()) | {own[m] for m in members if m in own}
            shops = {_resolve(renamed, s) for s in shops}
            shop = min(shops) if shops else min(members)
            for other in shops - {shop}:
                renamed[other] = shop
                moves.setdefault(shop, set()).add(-other)  # a whole shop: marked by a negative id
            moves.setdefault(shop, set()).update(m for m in members if own.get(m) != shop)
        self._move(conn, moves, renamed)

    def _own_shops(self, conn: Connection, case_ids: Sequence[int]) -> dict[int, int]:
        c = cases_table.c
        found: dict[int, int] = {}
        for chunk in batched(sorted(set(case_ids)), IN_LIST_LIMIT):
            query = select(c.id, c.shop_id).where(c.id.in_(chunk), c.shop_id.is_not(None))
            found.update({case_id: shop_id for case_id, shop_id in conn.execute(query)})
        return found

    def _group_shops(
        self, conn: Connection, groups: list[tuple[str, str]]
    ) -> dict[tuple[str, str], set[int]]:
        """Shops of the cases that an earlier batch of the same run stored in the same duplicate group."""
        c = cases_table.c
        found: dict[tuple[str, str], set[int]] = {}
        by_run: dict[str, list[str]] = {}
        for run_id, cluster_id in groups:
            by_run.setdefault(run_id, []).append(cluster_id)
        for run_id, clusters in by_run.items():
            for chunk in batched(sorted(clusters), IN_LIST_LIMIT):
                query = select(c.cluster_id, c.shop_id).where(
                    c.cluster_id.in_(chunk), c.last_run_id == run_id, c.shop_id.is_not(None)
                )
                for cluster_id, shop_id in conn.execute(query):
                    found.setdefault((run_id, cluster_id), set()).add(shop_id)
        return found

    def _move(self, conn: Connection, moves: Mapping[int, set[int]], renamed: Mapping[int, int]) -> None:
        """Put cases in their shops: whole merged shops first, then single cases."""
        c = cases_table.c
        for shop, items in moves.items():
            target = _resolve(renamed, shop)
            merged = sorted(-i for i in items if i < 0)
            for chunk in batched(merged, IN_LIST_LIMIT):
                conn.execute(update(cases_table).where(c.shop_id.in_(chunk)).values(shop_id=target))
            for chunk in batched(sorted(i for i in items if i > 0), IN_LIST_LIMIT):
                conn.execute(update(cases_table).where(c.id.in_(chunk)).values(shop_id=target))

    def _add_keys(self, conn: Connection, rows: Sequence[Mapping[str, Any]], case_ids: Sequence[int]) -> None:
        keys = {
            (key, case_id)
            for row, case_id in zip(rows, case_ids, strict=True)
            for key in map(clean_text, row.get("bank_keys") or ())
            if 0 < len(key) <= MAX_KEY_CHARS
        }
        insert = dialect_insert(self.dialect, bank_keys_table).on_conflict_do_nothing(
            index_elements=["match_key", "case_id"]
        )
        for chunk in batched(sorted(keys), 1000):
            conn.execute(insert, [{"match_key": key, "case_id": case_id} for key, case_id in chunk])
        signatures = {
            case_id: {"case_id": case_id, "signature": row["signature"], "shingles": row.get("shingles") or 0}
            for row, case_id in zip(rows, case_ids, strict=True)
            if row.get("signature")
        }
        if signatures:
            upsert = dialect_insert(self.dialect, bank_signatures_table)
            upsert = upsert.on_conflict_do_update(
                index_elements=["case_id"],
                set_={"signature": upsert.excluded.signature, "shingles": upsert.excluded.shingles},
            )
            conn.execute(upsert, list(signatures.values()))
