"""The state of one scoring run on disk, so that a killed run resumes where it stopped.

Every chunk of scored rows is committed in one SQLite transaction together with its duplicate-grouping
keys, so after a crash the checkpoint holds exactly the first ``committed()`` input records, each
once. Ranking, grouping and writing the outputs happen at the end, from this file alone; they can be
repeated safely. The file also spills what would otherwise grow with the input (rows, keys,
signatures) out of memory, and SQLite sorts the final queue on disk.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from classifier.common.faults import crash_point

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    seq INTEGER PRIMARY KEY,          -- position of the record in the input
    record_id TEXT NOT NULL,
    score REAL,
    category TEXT,
    source_kind TEXT,
    fetched_at TEXT,
    payload TEXT NOT NULL,            -- the rest of the scored row, as JSON
    cluster_id TEXT,
    cluster_size INTEGER,
    priority REAL,
    cluster_priority REAL
);
CREATE TABLE IF NOT EXISTS keys (key TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS signatures (seq INTEGER PRIMARY KEY, signature BLOB NOT NULL, size INTEGER);
CREATE TABLE IF NOT EXISTS known (           -- the best match in the bank of earlier runs (known.py)
    seq INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL,
    case_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    how TEXT NOT NULL,
    category TEXT,
    shops TEXT NOT NULL                       -- every matched shop, as JSON
);
"""


_IN_LIMIT = 30_000


class Checkpoint:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)  # explicit transactions only
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a committed chunk survives a kill
        self.db.executescript(_SCHEMA)

    # -- run identity --------------------------------------------------------------------------
    def get(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def put(self, **values: str) -> None:
        """Set meta values together: a kill never leaves half of them written."""
        self.db.execute("BEGIN")
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())
        self.db.execute("COMMIT")

    def committed(self) -> int:
        """How many input records are scored and stored (always a prefix of the input)."""
        return int(self.db.execute("SELECT COUNT(*) FROM rows").fetchone()[0])

    # -- scoring -------------------------------------------------------------------------------
    def add_chunk(
        self,
        rows: list[dict[str, Any]],
        keys: list[tuple[str, int]],
        signatures: list[tuple[int, np.ndarray, int]],
        meta: dict[str, str] | None = None,
    ) -> None:
        """Store one chunk atomically: all of its rows, keys and signatures, or none of them; ``meta``
        values (say, how many partitions are done) are written in the same transaction."""
        self.db.execute("BEGIN")
        try:
            if meta:
                self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
            self.db.executemany(
                "INSERT INTO rows (seq, record_id, score, category, source_kind, fetched_at, payload)"
                " VALUES (?,?,?,?,?,?,?)",
                [
                    (
                        r["seq"],
                        r["id"],
                        r["score"],
                        r["category"],
                        r["source_kind"],
                        r["fetched_at"],
                        json.dumps(r, ensure_ascii=False, default=str),
                    )
                    for r in rows
                ],
            )
            crash_point("checkpoint.add_chunk")  # the rows are in, their keys not yet: all or none must stay
            self.db.executemany("INSERT INTO keys VALUES (?, ?)", keys)
            self.db.executemany(
                "INSERT INTO signatures VALUES (?, ?, ?)",
                [(seq, sig.tobytes(), size) for seq, sig, size in signatures],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    # -- finishing ----------------------------------------------------------------------------
    def key_groups(self) -> Iterator[tuple[str, int]]:
        """(key, seq) sorted by key: candidates for duplicate grouping."""
        self.db.execute("CREATE INDEX IF NOT EXISTS keys_by_key ON keys (key, seq)")
        yield from self.db.execute("SELECT key, seq FROM keys ORDER BY key, seq")

    def _by_seq(self, column: str, seqs: list[int]) -> dict[int, Any]:
        found: dict[int, Any] = {}
        for start in range(0, len(seqs), _IN_LIMIT):  # SQLite allows 32,766 parameters a statement
            part = seqs[start : start + _IN_LIMIT]
            marks = ",".join("?" * len(part))
            found.update(
                self.db.execute(f"SELECT seq, {column} FROM signatures WHERE seq IN ({marks})", part)
            )
        return found

    def signatures(self, seqs: list[int]) -> list[np.ndarray]:
        found = self._by_seq("signature", seqs)
        return [np.frombuffer(found[s], dtype=np.uint32) for s in seqs]

    def sizes(self, seqs: list[int]) -> list[int]:
        """Shingle counts of the signatures, for containment."""
        found = self._by_seq("size", seqs)
        return [int(found[s] or 0) for s in seqs]

    def set_known(self, matches: Iterable[tuple[int, Any]]) -> None:
        """Each record's best match in the bank (``known.Match``), written once for the run."""
        self.db.execute("BEGIN")
        try:
            self.db.execute("DELETE FROM known")
            self.db.executemany(
                "INSERT INTO known VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (seq, m.shop_id, m.case_id, m.status, m.how, m.category, json.dumps(sorted(m.shops)))
                    for seq, m in matches
                ],
            )
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('known_matched', '1')")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def known_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM known").fetchone()[0])

    def scoring_inputs(
        self,
    ) -> Iterator[tuple[int, str, float | None, str | None, str, str, str | None, str | None]]:
        """What priority needs of every record, with the status and category of its known shop."""
        query = (
            "SELECT rows.seq, record_id, score, rows.category, source_kind, fetched_at, known.status,"
            " known.category FROM rows LEFT JOIN known ON known.seq = rows.seq ORDER BY rows.seq"
        )
        yield from self.db.execute(query)

    def set_ranking(self, values: Iterable[tuple[str, int, float, int]]) -> None:
        """(cluster_id, cluster_size, priority, seq) for every row, then each cluster's best priority."""
        self.db.execute("BEGIN")
        try:
            self.db.executemany(
                "UPDATE rows SET cluster_id = ?, cluster_size = ?, priority = ? WHERE seq = ?", values
            )
            self.db.execute("CREATE INDEX IF NOT EXISTS rows_by_cluster ON rows (cluster_id, priority)")
            self.db.execute(
                "UPDATE rows SET cluster_priority ="
                " (SELECT MAX(priority) FROM rows AS member WHERE member.cluster_id = rows.cluster_id)"
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def ranked(self) -> Iterator[dict[str, Any]]:
        """Rows in queue order: clusters by their best member, members together, best first; rows
        without a score (errors) last."""
        self.db.execute("CREATE INDEX IF NOT EXISTS keys_by_seq ON keys (seq)")
        query = (
            "SELECT payload, cluster_id, cluster_size, priority, known.shop_id, known.status, known.how,"
            " known.shops, signatures.signature, signatures.size,"
            " (SELECT json_group_array(key) FROM keys WHERE keys.seq = rows.seq)"
            " FROM rows LEFT JOIN known ON known.seq = rows.seq"
            " LEFT JOIN signatures ON signatures.seq = rows.seq"
            " ORDER BY score IS NULL, cluster_priority DESC, cluster_id, priority DESC, rows.seq"
        )
        for rank, found in enumerate(self.db.execute(query), start=1):
            payload, cluster_id, size, priority, shop_id, status, how, shops, signature, shingles, keys = (
                found
            )
            row = json.loads(payload)
            row.pop("seq", None)
            row.update(rank=rank, cluster_id=cluster_id, cluster_size=size, priority=priority)
            row.update(shop_id=shop_id, known_status=status or "", match=how or "")
            # for the case store's bank, not for the queue file
            row.update(
                linked_shops=json.loads(shops) if shops else [],
                bank_keys=json.loads(keys) if keys else [],
                signature=signature,
                shingles=shingles or 0,
            )
            yield row

    def scores(self) -> np.ndarray:
        values = self.db.execute("SELECT score FROM rows WHERE score IS NOT NULL").fetchall()
        return np.asarray([v[0] for v in values], dtype=float)

    def close(self) -> None:
        self.db.close()

    def delete(self) -> None:
        self.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
