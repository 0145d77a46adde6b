"""The scored-row contract: one row per input record, in the output file and in the case store."""

from __future__ import annotations

SCORED_FIELDS = (
    "rank",
    "id",
    "url",
    "domain",
    "title",
    "excerpt",
    "score",
    "label",
    "category",
    "category_probability",
    "priority",
    "language",
    "evidence",
    "contacts",
    "cluster_id",
    "cluster_size",
    # the shop of an earlier case this record matches (score/known.py): its id, the experts' decision
    # on the matched case (confirmed, rejected, undecided; empty: no match) and what matched
    "shop_id",
    "known_status",
    "match",
    "source_kind",
    "source",
    "fetched_at",
    "model_name",
    "model_version",
    "run_id",
    "scored_at",
    "status",
    "error",
)

# Rows handed to the case store also carry the page's extracted text, up to this many characters, and
# its images with the text read in each (the case page shows them, and expert decisions export them as
# training text). The queue file does not.
TEXT_CHARS = 200_000
