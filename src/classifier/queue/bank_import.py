"""Seeding the bank of shops with what a unit has already blocked: ``classifier bank import FILE``.

Each line of the file (``bank_lines``: URL, decision, date, and handles, wallets, phones, text) becomes
a case, its key from the URL (``keys.case_key``), and joins the bank the way a scoring run's rows do:
its identifiers and, when its text is given, the MinHash signature and band keys scoring makes of the
text (the same ``score.duplicates`` functions, settings and normalisation), so that a later run
recognises the shop on its next domain or channel. Lines sharing an identifier or a near-identical text
are one group, as copies within a run are, and a line that matches a case already in the bank joins
that case's shop. Then each line gets an audited expert decision (``CaseStore.record_decision``) whose
comment names the file and the line; decisions are recorded in the order of their dates, so that the
latest one is a case's status.

The file is one run of the store, ``bank-import-`` and the start of its SHA-256, each line one record
of it: importing the same file again stores nothing twice and records no decision twice (a decision
names its line). A resource the store already holds keeps what the model said of it (its score, title,
evidence): its line adds identifiers, a history entry and the decision, not an empty page.

Every line ends imported, already imported, or as an error with its reason (:class:`ImportSummary`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from classifier.common.batching import batched
from classifier.common.config import Settings
from classifier.ingest.records import domain_of
from classifier.queue.bank_lines import ImportLine, read_lines
from classifier.queue.keys import case_key
from classifier.queue.schema import cases_table, decisions_table, runs_table
from classifier.queue.store import CaseStore
from classifier.queue.values import IN_LIST_LIMIT
from classifier.score.duplicates import MinHasher, band_keys, contact_keys, grouped, link, similarity
from classifier.score.known import LOOKUP_BATCH, BankHit, are_copies
from classifier.text.language import detect_language
from classifier.text.normalize import normalize_text

IMPORT_MODEL = "bank-import"  # the model name of an import's cases and run: no model scored them
STORE_BATCH = 500  # lines per add_scored transaction
# What a resource already in the store keeps when an import's line of it is newer than its last report.
_KEPT_COLUMNS = (
    "title",
    "score",
    "label",
    "category",
    "category_probability",
    "priority",
    "evidence",
    "model_name",
    "model_version",
)
Sketch = tuple[np.ndarray, int]  # a MinHash signature and how many shingles it summarises


@dataclass
class ImportSummary:
    """What became of every line of an import file."""

    file: str
    run_id: str
    sha256: str
    imported: list[int] = field(default_factory=list)  # line numbers, decided by this import
    already: list[int] = field(default_factory=list)  # lines an earlier import of the file decided
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, why not imported)
    decisions: dict[str, int] = field(default_factory=dict)  # confirmed / rejected, of the imported
    shops: int = 0  # shops the file's resources belong to
    known_shops: int = 0  # of those, shops the bank held before (a line matched one of their cases)

    @property
    def lines(self) -> int:
        return len(self.imported) + len(self.already) + len(self.errors)


def import_run_id(sha256: str) -> str:
    """The run of an import file: the same content is the same run, whatever the file is called."""
    return f"bank-import-{sha256[:16]}"


def decision_marker(run_id: str, line: int | None = None) -> str:
    """How an import's decision comment starts, what tells a second import that a line is decided
    (without ``line``: how the comments of every line of the import start)."""
    return f"bank import {run_id} line " + ("" if line is None else f"{line}:")


class BankImport:
    """Imports files of decided resources into one case store, as one expert's decisions."""

    def __init__(self, store: CaseStore, settings: Settings, expert: str):
        if not expert or not expert.strip():
            raise ValueError("an import needs the expert who answers for its decisions (--expert NAME)")
        self.store = store
        self.settings = settings
        self.expert = expert.strip()
        self.hasher = MinHasher(settings.score.minhash_permutations, settings.score.shingle_words)

    def run(self, path: Path | str) -> ImportSummary:
        """Import one CSV or JSONL file (its columns: ``classifier bank --help``); see the module's
        docstring. A file that cannot be read as a whole raises :class:`ValueError` and imports nothing."""
        path = Path(path)
        content = path.read_bytes()  # read once: the run id names exactly what was imported
        sha256 = hashlib.sha256(content).hexdigest()
        summary = ImportSummary(str(path), import_run_id(sha256), sha256)
        lines: list[ImportLine] = []
        for number, line in read_lines(path, self.settings.extract.max_text_chars, content):
            if isinstance(line, str):
                summary.errors.append((number, line))
            else:
                lines.append(line)
        if lines:
            started, finished = self._run_state(summary.run_id)
            if not started:
                inputs = {"file": path.name, "sha256": sha256, "expert": self.expert}
                self.store.start_run(summary.run_id, model_name=IMPORT_MODEL, model_version="", inputs=inputs)
            rows = self._rows(lines, summary)
            for chunk in batched(rows, STORE_BATCH):
                self.store.add_scored(chunk)
            self._decide(lines, summary, path.name)
            if not finished:
                counts = {
                    "lines": summary.lines,
                    "imported": len(summary.imported),
                    "errors": len(summary.errors),
                }
                self.store.finish_run(summary.run_id, counts)
        summary.errors.sort()
        return summary

    def _run_state(self, run_id: str) -> tuple[bool, bool]:
        """Whether the import's run is registered, and finished: a second import changes neither."""
        r = runs_table.c
        with self.store.engine.connect() as conn:
            found = conn.execute(select(r.finished_at).where(r.run_id == run_id)).first()
        return found is not None, found is not None and found.finished_at is not None

    # -- the lines as scored rows --

    def _rows(self, lines: list[ImportLine], summary: ImportSummary) -> list[dict[str, Any]]:
        """One scored row per line, with its bank keys, its group in the file and the known shops it
        matched, for ``CaseStore.add_scored``."""
        score = self.settings.score
        sketches = [self.hasher.sketch(normalize_text(line.text)) if line.text else None for line in lines]
        keys = [
            [*(band_keys(s[0], score.lsh_bands) if s else []), *contact_keys(line.contacts, score)]
            for line, s in zip(lines, sketches, strict=True)
        ]
        signatures = {i: s for i, s in enumerate(sketches) if s is not None}  # a band key's holders have one
        pairs = sorted((key, i) for i, line_keys in enumerate(keys) for key in line_keys)
        roots = link(
            grouped(pairs),
            lambda members: [signatures[i][0] for i in members],
            len(lines),
            score,
            lambda members: [signatures[i][1] for i in members],
        )
        sizes: dict[int, int] = {}
        for root in roots:
            sizes[int(root)] = sizes.get(int(root), 0) + 1
        linked = self._known_shops(keys, sketches)
        summary.known_shops = len(set().union(*linked))
        existing = self._existing([self._key(summary.run_id, line) for line in lines])
        rows = []
        for i, line in enumerate(lines):
            sketch, root = sketches[i], int(roots[i])
            row = self._row(line, summary.run_id, existing.get(self._key(summary.run_id, line)))
            row.update(
                cluster_id=f"{summary.run_id}:{lines[root].line}",  # named after its group's first line
                cluster_size=sizes[root],
                bank_keys=keys[i],
                signature=sketch[0].astype("<u4").tobytes() if sketch else None,
                shingles=sketch[1] if sketch else 0,
                linked_shops=sorted(linked[i]),
            )
            rows.append(row)
        return rows

    @staticmethod
    def _key(run_id: str, line: ImportLine) -> str:
        return case_key(line.url, f"{run_id}:{line.line}")

    def _row(self, line: ImportLine, run_id: str, case: dict[str, Any] | None) -> dict[str, Any]:
        excerpt_chars = self.settings.score.excerpt_chars
        row: dict[str, Any] = {
            "id": f"line-{line.line}",
            "url": line.url,
            "domain": domain_of(line.host_url),
            "title": "",
            "excerpt": " ".join(line.text[: excerpt_chars * 2].split())[:excerpt_chars],
            "score": None,
            "label": None,
            "category": None,
            "category_probability": None,
            "priority": None,
            "language": detect_language(line.text) if line.text else "",
            "evidence": [],
            "contacts": line.contacts,
            "model_name": IMPORT_MODEL,
            "model_version": "",
            "run_id": run_id,
            "scored_at": line.date.isoformat(),
            "status": "ok",
            "error": "",
            "text": line.text,
        }
        if case is not None:  # what the model said of a known resource stays, and its contacts too
            row.update({name: case[name] for name in _KEPT_COLUMNS})
            if not line.text:
                row.update(excerpt=case["excerpt"], language=case["language"])
            known = case["contacts"] or {}
            kinds = dict.fromkeys([*known, *line.contacts])
            row["contacts"] = {
                kind: list(dict.fromkeys([*known.get(kind, []), *line.contacts.get(kind, [])]))
                for kind in kinds
            }
        return row

    def _known_shops(self, keys: list[list[str]], sketches: Sequence[Sketch | None]) -> list[set[int]]:
        """For each line, the shops of the bank it matches: an identifier in common, or a copy of the
        text (a band key in common, confirmed as scoring confirms it, ``score.known``)."""
        holders: dict[str, list[int]] = {}
        for i, line_keys in enumerate(keys):
            for key in line_keys:
                holders.setdefault(key, []).append(i)
        linked: list[set[int]] = [set() for _ in keys]
        for chunk in batched(sorted(holders), LOOKUP_BATCH):
            for hit in self.store.lookup(chunk, self.settings.score.max_contact_group):
                for i in holders[hit.key]:
                    if hit.key.startswith("c:") or self._copies(sketches[i], hit):
                        linked[i].add(hit.shop_id)
        return linked

    def _copies(self, sketch: Sketch | None, hit: BankHit) -> bool:
        if sketch is None or hit.signature is None:
            return False
        theirs = np.frombuffer(hit.signature, dtype="<u4")
        if len(theirs) != len(sketch[0]):  # made with other settings: not comparable
            return False
        return are_copies(similarity(sketch[0], theirs), sketch[1], hit.shingles, self.settings.score)

    def _existing(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The cases the store already holds for these keys: what their rows keep of them."""
        c = cases_table.c
        columns = [c.case_key, c.excerpt, c.language, c.contacts, *(c[name] for name in _KEPT_COLUMNS)]
        found: dict[str, dict[str, Any]] = {}
        with self.store.engine.connect() as conn:
            for chunk in batched(sorted(set(keys)), IN_LIST_LIMIT):
                for row in conn.execute(select(*columns).where(c.case_key.in_(chunk))).mappings():
                    found[row["case_key"]] = dict(row)
        return found

    # -- the decisions --

    def _decide(self, lines: list[ImportLine], summary: ImportSummary, name: str) -> None:
        """Record each line's decision, oldest date first, unless an earlier import of the file did."""
        cases = self._cases([self._key(summary.run_id, line) for line in lines])
        decided = self._decided_lines(summary.run_id, sorted(case_id for case_id, _ in cases.values()))
        for line in sorted(lines, key=lambda line: (line.date, line.line)):
            case_id, _ = cases[self._key(summary.run_id, line)]
            if line.line in decided:
                summary.already.append(line.line)
                continue
            marker = decision_marker(summary.run_id, line.line)
            comment = f"{marker} {name}, {line.decision} on {line.date:%Y-%m-%d}"
            try:
                self.store.record_decision(
                    case_id, line.decision, self.expert, comment, category=line.category
                )
            except ValueError as exc:
                summary.errors.append((line.line, f"decision not recorded: {exc}"))
                continue
            summary.imported.append(line.line)
            summary.decisions[line.decision] = summary.decisions.get(line.decision, 0) + 1
        summary.imported.sort()
        summary.already.sort()
        summary.shops = len({shop_id for _, shop_id in cases.values()})

    def _cases(self, keys: list[str]) -> dict[str, tuple[int, int]]:
        """case key -> (case id, shop id) of the imported lines' cases."""
        c = cases_table.c
        found: dict[str, tuple[int, int]] = {}
        with self.store.engine.connect() as conn:
            for chunk in batched(sorted(set(keys)), IN_LIST_LIMIT):
                query = select(c.case_key, c.id, c.shop_id).where(c.case_key.in_(chunk))
                found.update({key: (id_, shop or id_) for key, id_, shop in conn.execute(query)})
        return found

    def _decided_lines(self, run_id: str, case_ids: list[int]) -> set[int]:
        """The lines of this import whose decision is already recorded on their case."""
        d = decisions_table.c
        prefix = decision_marker(run_id)
        marker = re.compile(re.escape(prefix) + r"(\d+):")
        lines: set[int] = set()
        with self.store.engine.connect() as conn:
            for chunk in batched(case_ids, IN_LIST_LIMIT):
                query = select(d.comment).where(d.case_id.in_(chunk), d.comment.like(f"{prefix}%"))
                lines.update(
                    int(m.group(1)) for (comment,) in conn.execute(query) if (m := marker.match(comment))
                )
        return lines


def import_bank_file(store: CaseStore, path: Path | str, settings: Settings, expert: str) -> ImportSummary:
    """Import one file of decided resources into the store's bank (see :class:`BankImport`)."""
    return BankImport(store, settings, expert).run(path)
