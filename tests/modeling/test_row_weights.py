"""Training rows' weights: real negatives light, expert decisions heavy, template pages as params say."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from classifier.common.config import load_settings
from classifier.modeling.training_data import row_weights

ROWS = pd.DataFrame(
    {
        "layout": ["shop", "telegram", "real", "shop", "forum"],
        "family": ["sale_shop_card", "written_q-g01", "real:news:3", "expert:x", "table:y"],
        "source": ["demo", "demo", "news", "expert", "labels"],
    }
)


def test_each_kind_of_row_gets_its_own_weight() -> None:
    settings = load_settings()
    train = replace(settings.train, real_negative_weight=0.03, expert_weight=3.0, template_weight=0.25)
    weights = row_weights(ROWS, replace(settings, train=train))
    # template page, written page, real negative, expert decision, a user's labelled table
    assert weights.tolist() == [0.25, 1.0, 0.03, 3.0, 1.0]


def test_template_pages_weigh_as_much_as_any_page_by_default() -> None:
    assert row_weights(ROWS, load_settings()).tolist() == [1.0, 1.0, 0.03, 3.0, 1.0]
