"""Scores as experts read them: the probability of a violation, percentages that never round to 0% or
100%, whether the model flagged the case (at its run's threshold), and the threshold marked on the bar."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from classifier.review.pages import percent
from review.helpers import row_of


@pytest.mark.parametrize(
    ("share", "shown"),
    [
        (0.97, "97%"),
        (0.5, "50%"),
        (0.01, "1%"),
        (0.99, "99%"),
        (0.999, "99,9%"),
        (0.9934, "99,3%"),
        (0.9996, ">99,9%"),
        (1.0, "100%"),
        (0.001, "0,1%"),
        (0.0004, "<0,1%"),
        (0.0, "0%"),
        (0.004, "0,4%"),
        (None, "—"),
    ],
)
def test_percentages_keep_one_decimal_near_the_ends(share: float | None, shown: str) -> None:
    assert percent(share) == shown


def test_queue_rows_say_whether_the_model_flagged_the_case(
    view_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    html = view_as("boris").get("/queue", params={"flagged": "all"}).text  # near-2 is cleared
    assert ">Вероятность нарушения</a></th>" in html and "Уверенность" not in html
    flagged, cleared = (
        row_of(html, ids["sale-1"]),
        row_of(html, ids["near-2"]),
    )  # 0.97 and 0.47, threshold 0.5
    assert "отмечено моделью" in flagged and "не отмечено" not in flagged
    assert "не отмечено" in cleared and "отмечено моделью" not in cleared
    for row in (flagged, cleared):
        assert 'class="mark t50"' in row and 'low="0.5" high="0.5"' in row  # the threshold on the bar


def test_case_page_names_the_probability_the_flag_and_the_threshold(
    view_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    expert = view_as("boris")
    flagged = expert.get(f"/cases/{ids['sale-1']}").text
    assert "<dt>Вероятность нарушения</dt>" in flagged
    section = flagged.split('id="case-score"')[1].split("</dd>")[0]
    assert "<strong>97%</strong>" in section and "отмечено моделью" in section
    assert "(порог модели 50%)" in section and 'class="mark t50"' in section
    cleared = expert.get(f"/cases/{ids['near-2']}").text.split('id="case-score"')[1].split("</dd>")[0]
    assert "не отмечено" in cleared and "<strong>47%</strong>" in cleared
