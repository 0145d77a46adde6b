"""The case store: scored rows become cases that experts review, decide on and export.

One *case* per resource (canonical URL, see :func:`case_key`), however often it is crawled and scored.
Every scored row is also kept in ``scores`` (the case's history), every expert decision in
``decisions`` (future training data) and every action in ``audit_log``; ``users`` and ``sessions``
hold the review app's accounts.

- ``keys``: the canonical URL of a resource;
- ``values``: conversions every module shares (UTC times, text PostgreSQL accepts, JSON);
- ``schema``: the tables as the code uses them;
- ``database``: opening SQLite or PostgreSQL;
- ``migrate`` and ``migrations/``: Alembic revisions that bring any store, old or new, to ``schema``;
- ``reports`` and ``writes``: how scoring runs and their scored rows become cases and history;
- ``reads``: the review order, one case, duplicate groups, counts, runs;
- ``shops``: a shop as experts see it: its pages, identifiers, decisions, and why each page is in it;
- ``audit``: the audit log;
- ``claims``: which expert works on which case ("next" claims the case it opens, for a while);
- ``decisions``: expert decisions (on one case, as a mirror of a shop, on a shop's undecided pages at
  once) and :class:`StaleCaseError`;
- ``store``: :class:`CaseStore`, the one object callers hold, made of the parts above;
- ``views``: the review app's queries (filtered queue, uncertain cases, dashboard);
- ``accounts``: users, password hashes, sessions, the login rate limit;
- ``exports``: decided cases for the blocking system with the URLs and identifiers of their shops that
  experts decided (:func:`export_cases`), decisions as training rows.
- ``bank_lines`` and ``bank_import``: seeding the bank of shops with the resources a unit has already
  decided (``classifier bank import``), each an audited decision.

A module imports only modules above it in this list: ``store`` never imports ``exports``.

Import it as ``from classifier import queue``: the name shadows the standard library's ``queue`` only
inside the package.
"""

from classifier.queue.database import masked_url
from classifier.queue.decisions import StaleCaseError
from classifier.queue.exports import (
    EXPORT_FIELDS,
    LABEL_FIELDS,
    export_cases,
    export_labels,
    write_export,
    write_labels,
)
from classifier.queue.keys import MAX_KEY_BYTES, case_key
from classifier.queue.migrate import Revisions, upgrade_store
from classifier.queue.schema import CATEGORIES, DECISIONS, NEW, PENDING, ROLES, STATUSES
from classifier.queue.store import CaseStore
from classifier.score.rows import TEXT_CHARS

__all__ = [
    "CATEGORIES",
    "DECISIONS",
    "EXPORT_FIELDS",
    "LABEL_FIELDS",
    "MAX_KEY_BYTES",
    "NEW",
    "PENDING",
    "ROLES",
    "STATUSES",
    "TEXT_CHARS",
    "CaseStore",
    "Revisions",
    "StaleCaseError",
    "case_key",
    "export_cases",
    "export_labels",
    "masked_url",
    "upgrade_store",
    "write_export",
    "write_labels",
]
