"""Reading shops for experts: a shop's pages one page of the list at a time, its identifiers, decisions,
status, and why each page is in it.

A shop is every case with one ``cases.shop_id`` (``bank.py`` links them). Why a page is in its shop is
worked out when the page is shown, from what the bank keeps, against the shop's other pages: the
identifiers it shares with them (``bank_keys``), a near-identical text (its MinHash signature in
``bank_signatures`` compared, by the rule of duplicate grouping, with the pages holding one of its text
band keys), or its duplicate group in its latest run.

Every query has an index to start from (``cases`` by shop and status, ``bank_keys`` by case and by key,
``decisions`` by case, primary keys) and reads at most the shop's rows or a list page's: the pages come a
list page at a time (``SHOP_PAGE``), identifiers and decisions are capped (``identifiers_total`` and
``decisions_total`` say how many there are), and each listed page's text is compared with a few
candidates found from its own band keys. Queries that take a shop id are written so that a generic plan
(psycopg prepares a statement it has run five times) cannot turn a per-page lookup into a walk over a
large shop.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, case, func, select

from classifier.common.batching import batched
from classifier.common.config import ScoreSettings
from classifier.queue.bank import shop_status
from classifier.queue.reads import ranked
from classifier.queue.schema import (
    NEW,
    PENDING,
    bank_keys_table,
    bank_signatures_table,
    cases_table,
    decisions_table,
)
from classifier.queue.values import IN_LIST_LIMIT, public
from classifier.score.known import CONFIRMED, are_copies, describe_key

# What a decision on a shop decides: the queue's "waiting for a decision" (new, or waiting for a second
# confirmation); a page an expert marked unsure, confirmed or rejected keeps its own decision.
UNDECIDED_STATUSES = (NEW, PENDING)
SHOP_PAGE = 100  # pages of a shop listed at once
IDENTIFIER_LIMIT = 100  # identifiers listed, those on most pages first
DECISION_LIMIT = 30  # the shop's latest decisions listed
CANDIDATE_ROWS = 256  # band-key rows read per page to find the texts it may copy (a copy shares most bands)
TEXT_CANDIDATES = 8  # of which this many distinct pages are compared
IDENTIFIER = "c:%"  # identifier keys start with "c:", text band keys with "b"

_CASE_COLUMNS = (
    "id",
    "url",
    "domain",
    "title",
    "status",
    "score",
    "priority",
    "category",
    "first_seen",
    "last_seen",
    "version",
    "cluster_id",
    "last_run_id",
)


def confirmed_case(conn: Connection, shop_id: int) -> int | None:
    """A confirmed case of the shop, if any: a probe of the (shop_id, status) index."""
    c = cases_table.c
    query = select(c.id).where(c.shop_id == shop_id, c.status == CONFIRMED).limit(1)
    return conn.execute(query).scalar()


def shop_category(conn: Connection, shop_id: int) -> str | None:
    """The category experts named in the shop's latest confirmation that named one."""
    c, d = cases_table.c, decisions_table.c
    query = (
        select(d.category)
        .join(cases_table, c.id == d.case_id)
        .where(c.shop_id == shop_id, d.decision == CONFIRMED, d.category.is_not(None))
        .order_by(d.id.desc())
        .limit(1)
    )
    return conn.execute(query).scalar()


class ShopReader:
    """Shops as the review app shows them; ``settings`` gives the rule that makes two texts copies."""

    def __init__(self, engine: Engine, settings: ScoreSettings | None = None):
        self.engine = engine
        self.settings = settings or ScoreSettings()

    def summaries(self, shop_ids: Iterable[int | None]) -> dict[int, dict[str, Any]]:
        """Each shop's size and status, for the lists that name a case's shop."""
        c = cases_table.c
        statuses: dict[int, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for chunk in batched(sorted({s for s in shop_ids if s is not None}), IN_LIST_LIMIT):
                query = (
                    select(c.shop_id, c.status, func.count())
                    .where(c.shop_id.in_(chunk))
                    .group_by(c.shop_id, c.status)
                )
                for shop_id, status, n in conn.execute(query):
                    statuses.setdefault(shop_id, {})[status] = n
        return {
            shop_id: {"shop_id": shop_id, "size": sum(counts.values()), "status": shop_status(counts)}
            for shop_id, counts in statuses.items()
        }

    def shop(self, shop_id: int, limit: int = SHOP_PAGE, offset: int = 0) -> dict[str, Any] | None:
        """A shop: its status, size and counts by status, first and last seen, identifiers (the most
        shared first, capped), latest decisions (capped), and one page of its cases, undecided first,
        then in review order, each with ``links``: why it is in the shop. None for no such shop."""
        c = cases_table.c
        with self.engine.connect() as conn:
            totals = select(c.status, func.count(), func.min(c.first_seen), func.max(c.last_seen))
            rows = conn.execute(totals.where(c.shop_id == shop_id).group_by(c.status)).all()
            if not rows:
                return None
            counts = {status: n for status, n, _, _ in rows}
            waiting = case((c.status.in_(UNDECIDED_STATUSES), 0), else_=1)
            listed = select(*(c[name] for name in _CASE_COLUMNS)).where(c.shop_id == shop_id)
            page = ranked(listed.order_by(waiting)).limit(max(0, limit)).offset(max(0, offset))
            cases = [dict(row) for row in conn.execute(page).mappings()]
            held = self._identifiers(conn, shop_id)
            links = self._links(conn, shop_id, cases, held)
            decisions, decisions_total = self._decisions(conn, shop_id)
            category = shop_category(conn, shop_id)
        return public(
            {
                "shop_id": shop_id,
                "status": shop_status(counts),
                "size": sum(counts.values()),
                "counts": counts,
                "undecided": sum(counts.get(s, 0) for s in UNDECIDED_STATUSES),
                "first_seen": min(r[2] for r in rows),
                "last_seen": max(r[3] for r in rows),
                "category": category,
                "identifiers": {key: n for key, (n, _, _) in held[:IDENTIFIER_LIMIT]},
                "identifiers_total": len(held),
                "decisions": decisions,
                "decisions_total": decisions_total,
                "cases": [public({**one, "links": links.get(one["id"], [])}) for one in cases],
                "limit": limit,
                "offset": offset,
            }
        )

    # -- the shop as a whole --

    def _identifiers(self, conn: Connection, shop_id: int) -> list[tuple[str, tuple[int, int, int]]]:
        """The identifiers of the shop's cases, each with on how many of them it is and the lowest and
        highest of their ids, the most shared first: one pass over the shop's keys (by its cases)."""
        c, k = cases_table.c, bank_keys_table.c
        query = (
            select(k.match_key, func.count(), func.min(k.case_id), func.max(k.case_id))
            .join(cases_table, c.id == k.case_id)
            .where(c.shop_id == shop_id, k.match_key.like(IDENTIFIER))
            .group_by(k.match_key)
        )
        found = [(key, (n, low, high)) for key, n, low, high in conn.execute(query)]
        return sorted(found, key=lambda item: (-item[1][0], item[0]))

    def _decisions(self, conn: Connection, shop_id: int) -> tuple[list[dict[str, Any]], int]:
        """The latest decisions on the shop's cases, newest first, and how many there are."""
        c, d = cases_table.c, decisions_table.c
        on_shop = decisions_table.join(cases_table, c.id == d.case_id)
        columns = (d.id, d.case_id, d.decision, d.expert, d.decided_at, d.category, d.comment, d.shop_id)
        latest = select(*columns, c.url).select_from(on_shop).where(c.shop_id == shop_id)
        rows = conn.execute(latest.order_by(d.id.desc()).limit(DECISION_LIMIT)).mappings()
        found = [public(row) for row in rows]
        if len(found) < DECISION_LIMIT:
            return found, len(found)
        total = select(func.count()).select_from(on_shop).where(c.shop_id == shop_id)
        return found, conn.execute(total).scalar_one()

    # -- why each listed page is in the shop --

    def _links(
        self,
        conn: Connection,
        shop_id: int,
        cases: list[dict[str, Any]],
        held: list[tuple[str, tuple[int, int, int]]],
    ) -> dict[int, list[Any]]:
        links: dict[int, list[dict[str, Any]]] = {one["id"]: [] for one in cases}
        for case_id, link in (
            *self._shared_identifiers(conn, list(links), dict(held)),
            *self._copied_texts(conn, shop_id, list(links)),
            *self._same_groups(conn, shop_id, cases),
        ):
            links[case_id].append(link)
        return links

    def _shared_identifiers(
        self, conn: Connection, ids: list[int], shared: dict[str, tuple[int, int, int]]
    ) -> list[tuple[int, Any]]:
        """(case, link) for each identifier a listed case shares with other cases of the shop (``shared``:
        the shop's identifiers, as ``_identifiers`` counts them)."""
        k = bank_keys_table.c
        held = conn.execute(
            select(k.case_id, k.match_key).where(k.case_id.in_(ids), k.match_key.like(IDENTIFIER))
        ).all()
        found = []
        for case_id, key in sorted(held):
            n, low, high = shared.get(key, (0, 0, 0))
            if n > 1:
                other = low if low != case_id else high
                link = {"kind": "identifier", "key": key, "what": describe_key(key), "others": n - 1}
                found.append((case_id, {**link, "case_id": other}))
        return found

    def _copied_texts(self, conn: Connection, shop_id: int, ids: list[int]) -> list[tuple[int, Any]]:
        """(case, link) for a listed case's closest copy among the shop's cases that hold one of its
        text band keys, when the two texts are copies by the rule of duplicate grouping.

        The candidates of each case are read from its own band keys only (its keys by the case index,
        their other holders by the key index, a bounded number of rows), then kept if in the shop: a
        query that also filtered by shop could be planned from the shop's side, all its keys read."""
        s, c = bank_signatures_table.c, cases_table.c
        mine = {row.case_id: row for row in conn.execute(select(s).where(s.case_id.in_(ids)))}
        ours, theirs = bank_keys_table.alias("ours"), bank_keys_table.alias("theirs")
        candidates: dict[int, list[int]] = {}
        for case_id in mine:
            query = (
                select(theirs.c.case_id)
                .select_from(ours)
                .join(theirs, theirs.c.match_key == ours.c.match_key)
                .where(ours.c.case_id == case_id, ~ours.c.match_key.like(IDENTIFIER))
                .where(theirs.c.case_id != case_id)
                .limit(CANDIDATE_ROWS)
            )
            candidates[case_id] = list(dict.fromkeys(other for (other,) in conn.execute(query)))
        wanted = sorted({other for others in candidates.values() for other in others})
        in_shop: set[int] = set()
        for chunk in batched(wanted, IN_LIST_LIMIT):
            query = select(c.id, c.shop_id).where(c.id.in_(chunk))
            in_shop.update(other for other, shop in conn.execute(query) if shop == shop_id)
        for case_id, others in candidates.items():
            candidates[case_id] = [other for other in others if other in in_shop][:TEXT_CANDIDATES]
        wanted = sorted({other for others in candidates.values() for other in others})
        signatures = {row.case_id: row for row in conn.execute(select(s).where(s.case_id.in_(wanted)))}
        links = []
        for case_id, others in candidates.items():
            best = self._closest(mine[case_id], [signatures[o] for o in others if o in signatures])
            if best is not None:
                links.append((case_id, {"kind": "text", "case_id": best[0], "similarity": best[1]}))
        return links

    def _closest(self, mine: Any, others: list[Any]) -> tuple[int, float] | None:
        """The most similar of ``others`` that is a copy of ``mine`` (signature rows), as (case, Jaccard)."""
        ours = np.frombuffer(mine.signature, dtype=np.uint32)
        best: tuple[int, float] | None = None
        for other in others:
            theirs = np.frombuffer(other.signature, dtype=np.uint32)
            if len(theirs) != len(ours):  # made with other settings: not comparable
                continue
            jaccard = float(np.mean(ours == theirs))
            closer = best is None or jaccard > best[1]
            if closer and are_copies(jaccard, mine.shingles, other.shingles, self.settings):
                best = (other.case_id, round(jaccard, 2))
        return best

    def _same_groups(self, conn: Connection, shop_id: int, cases: list[dict[str, Any]]) -> list[Any]:
        """(case, link) for listed cases whose latest run put them in one duplicate group with other cases
        of the shop (groups of earlier runs are not kept per case)."""
        c = cases_table.c
        clusters = sorted({one["cluster_id"] for one in cases if one["cluster_id"]})
        groups: dict[tuple[str, str], tuple[int, int, int]] = {}
        for chunk in batched(clusters, IN_LIST_LIMIT):
            query = (
                select(c.cluster_id, c.last_run_id, func.count(), func.min(c.id), func.max(c.id))
                .where(c.cluster_id.in_(chunk), c.shop_id == shop_id)
                .group_by(c.cluster_id, c.last_run_id)
            )
            groups.update({(cl, run): (n, low, high) for cl, run, n, low, high in conn.execute(query)})
        found = []
        for one in cases:
            n, low, high = groups.get((one["cluster_id"], one["last_run_id"]), (0, 0, 0))
            if n > 1:
                other = low if low != one["id"] else high
                link = {"kind": "group", "run_id": one["last_run_id"], "others": n - 1, "case_id": other}
                found.append((one["id"], link))
        return found
