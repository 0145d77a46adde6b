"""The end of a run: its records grouped into cases (shared contacts, near-identical text) and every
row's priority and queue order computed, in the checkpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime

import numpy as np

from classifier.common.config import ScoreSettings
from classifier.score.checkpoint import Checkpoint
from classifier.score.duplicates import grouped, link
from classifier.score.known import CONFIRMED
from classifier.score.priority import known_shop_priority, priority, recency


# -- finishing: grouping, ranking, outputs ---------------------------------------------------------
def rank(checkpoint: Checkpoint, settings: ScoreSettings, now: datetime) -> None:
    """Cluster the run's records, compute every priority, and store the queue order in the checkpoint."""
    n = checkpoint.committed()
    roots = link(grouped(checkpoint.key_groups()), checkpoint.signatures, n, settings, checkpoint.sizes)
    sizes = np.bincount(roots, minlength=n)
    # a cluster is named after its first member (its root: the smallest position, so met first below),
    # which keeps the name when the run is resumed; only clusters with several members are remembered
    names: dict[int, str] = {}

    def values() -> Iterator[tuple[str, int, float, int]]:
        for inputs in checkpoint.scoring_inputs():
            seq, record_id, score, category, kind, fetched_at, known, shop_category = inputs
            root = int(roots[seq])
            size = int(sizes[root])
            if root == seq:
                name = "g-" + hashlib.sha1(record_id.encode()).hexdigest()[:16]
                if size > 1:
                    names[root] = name
            else:
                name = names[root]
            freshness = recency(fetched_at, now, settings)
            if known == CONFIRMED and score is not None:
                value = known_shop_priority(score, category, shop_category, kind, size, freshness, settings)
            else:  # a copy of a page experts rejected is not raised (nor lowered: it may differ)
                value = priority(score, category, kind, size, freshness, settings)
            yield name, size, value, seq

    checkpoint.set_ranking(values())
