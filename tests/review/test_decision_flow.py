"""Deciding at the pace of a queue (``routes/cases.decide``, ``routes/queue.next_page``): a decision opens
the next case of the expert's filtered queue by default (the form's «после решения сразу открыть следующее
дело»), which says the decision was recorded; keyboard access keys; and how the pages read: the title,
the icon, the login page, and messages that look like what they are (done, a remark, a refusal)."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from classifier.queue import CaseStore
from review.helpers import hidden_inputs, selected_category

KAZAKH_BLOGS = "language=kk&q=blog&flagged=no"  # the Kazakh blog pages (tests/review/cases.py), in order
THEN_NEXT = '<input type="checkbox" name="then" value="next" id="then-next" checked>'
STAYING = '<input type="checkbox" name="then" value="next" id="then-next" >'


def form_of(client: TestClient, location: str) -> dict[str, str]:
    html = client.get(location).text
    back = hidden_inputs(html)["back"].replace("&amp;", "&")  # as the browser sends it
    return {**hidden_inputs(html), **selected_category(html), "back": back}


def opened(response: object) -> int:
    location = response.headers["location"]  # type: ignore[attr-defined]
    found = re.fullmatch(r"/cases/(\d+)(\?.*)?", location)
    assert found, location
    return int(found.group(1))


def test_a_decision_opens_the_next_case_of_the_filter_and_says_it_was_recorded(
    open_as: Callable[..., TestClient], store: CaseStore, ids: dict[str, int]
) -> None:
    boris = open_as("boris")
    first = boris.get(f"/next?{KAZAKH_BLOGS}")
    case_id = opened(first)
    assert THEN_NEXT in boris.get(first.headers["location"]).text  # on by default
    form = form_of(boris, first.headers["location"])
    decided = boris.post(f"/cases/{case_id}/decision", data={**form, "decision": "rejected", "then": "next"})
    assert decided.status_code == 303
    assert decided.headers["location"] == f"/next?after={case_id}&decided={case_id}&{KAZAKH_BLOGS}"
    following = boris.get(decided.headers["location"])
    assert opened(following) not in (case_id, 0)
    query = dict(p.split("=") for p in urlsplit(following.headers["location"]).query.split("&"))
    assert query["decided"] == str(case_id) and query["language"] == "kk" and query["flagged"] == "no"
    page = boris.get(following.headers["location"]).text
    assert (
        '<p class="message done" role="status">'
        f"Решение по делу {case_id} записано. Это следующее нерешённое дело по тем же условиям.</p>"
    ) in page
    assert store.case(case_id)["status"] == "rejected"  # type: ignore[index]


def test_at_the_end_of_the_filter_the_queue_says_both_things(
    open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    boris = open_as("boris")
    case_id = ids["filler-59"]
    form = form_of(boris, f"/cases/{case_id}")
    form["back"] = (
        f"language=kk&q=blog&flagged=no&skip={','.join(str(ids[f'filler-{n}']) for n in range(60))}"
    )
    decided = boris.post(f"/cases/{case_id}/decision", data={**form, "decision": "rejected", "then": "next"})
    end = boris.get(decided.headers["location"])
    assert urlsplit(end.headers["location"]).path == "/queue"
    assert "end=1" in end.headers["location"] and f"decided={case_id}" in end.headers["location"]
    page = boris.get(end.headers["location"]).text
    assert f"Решение по делу {case_id} записано. Нерешённых дел по этим условиям больше нет" in page


def test_the_choice_to_stay_holds_on_the_page_and_through_a_refusal(
    open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    boris = open_as("boris")
    case_id = ids["sale-1"]
    form = form_of(boris, f"/cases/{case_id}")
    stayed = boris.post(f"/cases/{case_id}/decision", data={**form, "decision": "unsure"})  # box off
    assert stayed.headers["location"] == f"/cases/{case_id}?saved=1"
    assert STAYING in boris.get(stayed.headers["location"]).text
    # the same old form again, now outdated, with the box on: refused, and the page keeps the box on
    changed = {**form, "decision": "rejected", "then": "next", "comment": "ещё раз"}
    refused = boris.post(f"/cases/{case_id}/decision", data=changed)
    assert refused.status_code == 409 and THEN_NEXT in refused.text
    assert '<p class="message error" role="alert">' in refused.text


def test_the_decisions_and_next_have_access_keys_named_on_the_page(
    view_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    html = view_as("boris").get(f"/cases/{ids['sale-1']}").text
    keys = re.findall(r'accesskey="(\w)"', html)
    assert sorted(keys) == ["1", "2", "3", "4"]  # one each, digits: the same key in either layout
    for key, does in (("1", "подтвердить"), ("2", "нарушения нет"), ("3", "повторная"), ("4", "следующее")):
        assert f"<kbd>{key}</kbd> — {does}" in html
    assert 'name="decision" value="confirmed" class="confirm" accesskey="1"' in html
    assert 'id="next-case" accesskey="4"' in html


def test_pages_read_as_what_they_are(
    view_as: Callable[..., TestClient], open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    anonymous = view_as()
    login = anonymous.get("/login").text
    assert "— проверка сообщений о сбыте наркотиков в интернете</title>" in login
    assert "наркопритон" not in login
    assert "classifier users add" not in login and "администратор" in login  # no shell command for users
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in login
    icon = anonymous.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert "<script" not in icon.text
    boris = open_as("boris")
    done = boris.get(f"/cases/{ids['sale-1']}?saved=1").text
    assert '<p class="message done" role="status">Решение сохранено.</p>' in done
    nothing = boris.get("/queue?end=1").text
    assert '<p class="message note" role="status">Нерешённых дел' in nothing
    missing = boris.get("/cases/999999").text
    assert '<p class="message error" role="alert">Такого дела нет.</p>' in missing
