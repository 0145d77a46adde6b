"""The dashboard (``routes/dashboard.py``): decisions per day, the backlog, precision per model version."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from classifier.queue import CaseStore
from classifier.review.texts import plural
from review.cases import ALL_CASES
from review.helpers import decide, listed, total


def backlog(html: str) -> tuple[int, int]:
    """The dashboard's waiting cases: those the model flagged (the queue's default), those it cleared."""
    flagged = re.search(r'<strong id="backlog">(\d+)</strong>', html)
    cleared = re.search(r'<span id="backlog-cleared">(\d+)</span>', html)
    assert flagged and cleared
    return int(flagged.group(1)), int(cleared.group(1))


def test_dashboard_without_decisions(view_as: Callable[..., TestClient]) -> None:
    boris = view_as("boris")
    html = boris.get("/dashboard").text
    flagged, cleared = backlog(html)
    # the backlog is what the default queue lists; what the model cleared is counted apart, one click away
    assert flagged == total(boris.get("/queue").text) and cleared == total(
        boris.get("/queue?flagged=no").text
    )
    assert 0 < flagged < ALL_CASES and flagged + cleared == ALL_CASES
    assert 'href="/queue?flagged=no"' in html
    assert html.count("Решений пока нет.") == 2


def test_dashboard_counts_decisions_per_day_and_precision_per_model_version(
    open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    boris = open_as("boris")
    assert decide(boris, ids["sale-1"], "confirmed").status_code == 303  # score .97, flagged at .5
    assert decide(boris, ids["near-1"], "rejected").status_code == 303  # score .51, flagged: a false positive
    html = boris.get("/dashboard").text
    days = re.findall(
        r'<tr><td>(\d{4}-\d\d-\d\d)</td><td class="num">(\d+)</td><td class="num">(\d+)</td>'
        r'<td class="num">(\d+)</td><td class="num">(\d+) ',
        html,
    )
    assert [counts for _day, *counts in days] == [["1", "1", "0", "2"]]
    version = re.search(r"<tr><td>7</td>((?:<td class=\"num\">[^<]*</td>)+)</tr>", html)
    assert version is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', version.group(1))
    assert cells == ["2", "1", "1", "50%", "0"]  # decided, confirmed, false positives, precision, missed
    flagged, cleared = backlog(html)
    assert flagged + cleared == ALL_CASES - 2  # both were flagged: the flagged backlog lost two
    assert flagged == total(boris.get("/queue").text)


def test_pending_cases_stay_in_the_default_queue_and_out_of_the_precision(
    two_confirmations: Any, ids: dict[str, int], store: CaseStore
) -> None:
    boris = two_confirmations("boris")
    decide(boris, ids["sale-1"], "confirmed")
    decide(boris, ids["sale-2"], "rejected")
    assert store.case(ids["sale-1"])["status"] == "pending"
    assert "sale-1" in listed(boris.get("/queue").text, ids)
    vera = two_confirmations("vera")  # "next" offers the pending case to another expert than boris
    assert vera.get(f"/next?after={ids['hostile-1']}").headers["location"] == (
        f"/cases/{ids['sale-1']}?skip={ids['hostile-1']}"
    )
    dashboard = boris.get("/dashboard").text
    row = next(r for r in dashboard.split("<tr>") if r.startswith("<td>7</td>"))
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    assert cells[:5] == ["7", "1", "0", "1", "0%"]  # one verdict: sale-2 rejected; sale-1 is not one yet


def test_russian_plurals() -> None:
    forms = {
        n: plural(n, "дело", "дела", "дел") for n in (0, 1, 2, 4, 5, 11, 12, 14, 21, 22, 25, 101, 111, 751)
    }
    assert forms == {
        **dict.fromkeys((1, 21, 101, 751), "дело"),
        **dict.fromkeys((2, 4, 22), "дела"),
        **dict.fromkeys((0, 5, 11, 12, 14, 25, 111), "дел"),
    }
