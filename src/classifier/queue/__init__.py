"""The case store: scored rows become cases that experts review, decide on and export.

One *case* per resource (canonical URL, see :func:`case_key`), however often it is crawled and scored.
Every scored row is also kept in ``scores`` (the case's history), every expert decision in
``decisions`` (future training data) and every action in ``audit_log``; ``users`` and ``sessions``
hold the review app's accounts.

- ``keys``: the canonical URL of a resource;
- ``schema``: the tables, and the additive migration of older stores;
- ``reports``: how scored rows update their case;
- ``store``: :class:`CaseStore`, writing runs, scores and decisions, reading cases;
- ``views``: the review app's queries (filtered queue, uncertain cases, dashboard);
- ``accounts``: users, password hashes, sessions, the login rate limit;
- ``exports``: decided cases for the blocking system, decisions as training rows.

Import it as ``from classifier import queue``: the name shadows the standard library's ``queue`` only
inside the package.
"""

from classifier.queue.exports import (
    EXPORT_FIELDS,
    LABEL_FIELDS,
    export_cases,
    export_labels,
    write_export,
    write_labels,
)
from classifier.queue.keys import MAX_KEY_BYTES, case_key
from classifier.queue.schema import CATEGORIES, DECISIONS, NEW, PENDING, ROLES, STATUSES
from classifier.queue.store import CaseStore, StaleCaseError, masked_url
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
    "StaleCaseError",
    "case_key",
    "export_cases",
    "export_labels",
    "masked_url",
    "write_export",
    "write_labels",
]
