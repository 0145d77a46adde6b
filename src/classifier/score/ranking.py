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
from classifier.score.priority import priority, recency


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
        for seq, record_id, score, category, kind, fetched_at in checkpoint.scoring_inputs():
            root = int(roots[seq])
            size = int(sizes[root])
            if root == seq:
                name = "g-" + hashlib.sha1(record_id.encode()).hexdigest()[:16]
                if size > 1:
                    names[root] = name
            else:
                name = names[root]
            value = priority(score, category, kind, size, recency(fetched_at, now, settings), settings)
            yield name, size, value, seq

    checkpoint.set_ranking(values())
