"""A team of experts in the web app (issue 19): "next" claims the case it opens, keeps the queue's
filters and passes the cases left; an admin sees and releases claims; nothing typed is lost on a stale
decision or an expired session; a form sent twice is one decision; a confirmation names its category;
the cases marked for a second look have their own view."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from classifier.queue import CaseStore
from review.helpers import decide, hidden_inputs, listed, login, state

COMMENT = "Проверил: магазин тот же, контакт @snow_shop_example <b>"


def opened(response: Any) -> int:
    """The case a redirect opens."""
    location = response.headers["location"]
    assert location.startswith("/cases/"), location
    return int(urlsplit(location).path.rsplit("/", 1)[-1])


def test_two_experts_pressing_next_get_different_cases_and_never_the_one_just_left(
    open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    boris, vera = open_as("boris"), open_as("vera")
    assert opened(boris.get("/next")) == ids["hostile-1"]
    assert opened(vera.get("/next")) == ids["sale-1"]  # boris is on the most urgent one
    page = boris.get(f"/cases/{ids['sale-1']}").text
    assert "Это дело сейчас проверяет эксперт <strong>vera</strong>" in page
    # boris leaves his case without deciding: never offered to him again in this run of work
    moved = boris.get(f"/next?after={ids['hostile-1']}")
    assert opened(moved) == ids["sale-2"]
    skipped = parse_qs(urlsplit(moved.headers["location"]).query)["skip"]
    assert skipped == [str(ids["hostile-1"])]
    again = boris.get(f"/next?after={ids['sale-2']}&skip={ids['hostile-1']}")
    assert opened(again) == ids["sale-3"]
    assert parse_qs(urlsplit(again.headers["location"]).query)["skip"] == [
        f"{ids['hostile-1']},{ids['sale-2']}"
    ]
    assert opened(open_as("anna").get("/next")) == ids["hostile-1"]  # boris left it: free for others
    holders = {c["case_id"]: c["expert"] for c in store.running_claims()}
    assert holders == {ids["sale-3"]: "boris", ids["sale-1"]: "vera", ids["hostile-1"]: "anna"}
    decide(vera, ids["sale-1"], "confirmed")
    assert ids["sale-1"] not in {c["case_id"] for c in store.running_claims()}  # decided: released


def test_next_keeps_the_queues_filters_through_the_case_page_and_its_decision(
    open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    boris = open_as("boris")  # the Kazakh blog pages: the model flagged none of them (flagged=no)
    queue = boris.get("/queue?language=kk&q=blog&flagged=no").text
    start = queue.split('<form class="next" method="get" action="/next">')[1].split("</form>")[0]
    assert hidden_inputs(start) == {"language": "kk", "q": "blog", "flagged": "no"}
    first = boris.get("/next?language=kk&q=blog&flagged=no")
    assert first.headers["location"] == f"/cases/{ids['filler-59']}?language=kk&q=blog&flagged=no"
    page = boris.get(first.headers["location"]).text
    assert f'href="/next?after={ids["filler-59"]}&amp;language=kk&amp;q=blog&amp;flagged=no"' in page
    assert 'href="/queue?language=kk&amp;q=blog&amp;flagged=no"' in page
    form = hidden_inputs(page)
    assert (
        form["back"] == "language=kk&amp;q=blog&amp;flagged=no"
    )  # as the page holds it; the browser sends it unescaped
    saved = boris.post(
        f"/cases/{ids['filler-59']}/decision",
        data={**form, "back": "language=kk&q=blog&flagged=no", "decision": "rejected"},
    )
    assert saved.headers["location"] == f"/cases/{ids['filler-59']}?saved=1&language=kk&q=blog&flagged=no"
    following = boris.get(f"/next?after={ids['filler-59']}&language=kk&q=blog&flagged=no")
    assert opened(following) == ids["filler-58"]  # the next Kazakh blog page, not the most urgent case
    # at the end of the filtered queue: back to it, with its filters, saying so
    end = boris.get("/next?status=unsure&language=kk")
    assert end.headers["location"] == "/queue?status=unsure&language=kk&end=1"
    assert "Нерешённых дел по этим условиям больше нет" in boris.get(end.headers["location"]).text


def test_an_admin_sees_the_claims_and_releases_one(
    open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    boris, anna = open_as("boris"), open_as("anna")
    assert opened(boris.get("/next")) == ids["hostile-1"]
    assert boris.get("/admin/claims").status_code == 403
    page = anna.get("/admin/claims").text
    assert f'href="/cases/{ids["hostile-1"]}"' in page and "<td>boris</td>" in page
    form = hidden_inputs(page)
    assert form["case"] == str(ids["hostile-1"])
    vera = open_as("vera")
    not_hers = vera.post(
        "/claims/release", data={**form, "csrf": hidden_inputs(vera.get("/queue").text)["csrf"]}
    )
    assert not_hers.status_code == 303
    assert store.claim_of(ids["hostile-1"])["expert"] == "boris"  # type: ignore[index]  # not hers
    released = anna.post("/claims/release", data=form)
    assert released.headers["location"] == "/admin/claims?released=1"
    assert store.running_claims() == []
    assert "Сейчас ни одно дело не закреплено" in anna.get("/admin/claims").text
    [entry] = store.audit_log(10, action="claim_released")
    assert (entry["actor"], entry["case_id"], entry["detail"]) == (
        "anna",
        ids["hostile-1"],
        {"expert": "boris"},
    )
    assert opened(open_as("vera").get("/next")) == ids["hostile-1"]


def test_a_stale_decision_comes_back_with_the_comment_and_choices_next_to_the_other_decision(
    open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    case_id = ids["sale-1"]
    boris = open_as("boris")
    outdated = hidden_inputs(boris.get(f"/cases/{case_id}").text)
    assert decide(open_as("vera"), case_id, "rejected", comment="новости").status_code == 303
    before = state(store.engine)
    typed = {**outdated, "decision": "confirmed", "category": "recruitment", "comment": COMMENT}
    response = boris.post(f"/cases/{case_id}/decision", data=typed)
    assert response.status_code == 409
    assert "другой эксперт вынес решение" in response.text
    assert "<strong>vera</strong>: нарушения нет" in response.text and "<q>новости</q>" in response.text
    assert "Проверил: магазин тот же, контакт @snow_shop_example &lt;b&gt;</textarea>" in response.text
    assert '<option value="recruitment" selected>' in response.text
    assert "Ваше решение не записано: «Подтвердить нарушение (блокировать)»" in response.text
    assert hidden_inputs(response.text)["version"] == "1"  # sent again from here, it is recorded
    assert state(store.engine) == before


def test_a_second_tab_of_the_same_expert_is_not_called_another_expert(
    open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    case_id = ids["sale-1"]
    tab1, tab2 = open_as("boris"), open_as("boris-2")
    form = hidden_inputs(tab1.get(f"/cases/{case_id}").text)
    assert decide(tab2, case_id, "rejected").status_code == 303
    response = tab1.post(f"/cases/{case_id}/decision", data={**form, "decision": "unsure"})
    assert response.status_code == 409
    assert "вы уже вынесли другое решение по этому делу" in response.text
    assert "другой эксперт" not in response.text


def test_the_same_form_sent_twice_is_one_decision_and_the_second_press_says_so(
    open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    case_id = ids["sale-1"]
    boris = open_as("boris")
    form = {**hidden_inputs(boris.get(f"/cases/{case_id}").text), "category": "sale", "comment": COMMENT}
    first = boris.post(f"/cases/{case_id}/decision", data={**form, "decision": "confirmed"})
    assert first.headers["location"] == f"/cases/{case_id}?saved=1"
    before = state(store.engine)
    second = boris.post(f"/cases/{case_id}/decision", data={**form, "decision": "confirmed"})
    assert second.status_code == 303 and second.headers["location"] == f"/cases/{case_id}?saved=again"
    assert "Это решение уже записано" in boris.get(second.headers["location"]).text
    assert state(store.engine) == before
    assert len(store.case(case_id)["decisions"]) == 1  # type: ignore[index]
    mirror = boris.post(f"/cases/{case_id}/mirror", data={**form, "shop": str(case_id)})
    assert mirror.headers["location"] == f"/cases/{case_id}?saved=again"  # the same press, as a mirror
    assert state(store.engine) == before


def test_a_confirmation_needs_a_category_which_is_preselected_only_when_the_model_named_one(
    open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    boris = open_as("boris")
    assert '<option value="recruitment" selected>' in boris.get(f"/cases/{ids['recruit-1']}").text
    page = boris.get(f"/cases/{ids['near-2']}").text  # below the threshold: the model named none
    assert '<option value="" selected>— выберите —</option>' in page
    assert " selected>" not in page.replace('<option value="" selected>', "")
    before = state(store.engine)
    response = decide(boris, ids["near-2"], "confirmed", comment=COMMENT)
    assert response.status_code == 400
    assert "Выберите категорию нарушения" in response.text
    assert "контакт @snow_shop_example &lt;b&gt;</textarea>" in response.text
    assert state(store.engine) == before
    assert decide(boris, ids["near-2"], "rejected").status_code == 303  # a rejection needs none
    assert decide(boris, ids["near-1"], "confirmed", category="propaganda").status_code == 303
    assert store.case(ids["near-1"])["decisions"][-1]["category"] == "propaganda"  # type: ignore[index]


def test_after_an_expired_session_the_typed_decision_waits_for_the_expert_back_at_the_case(
    open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    case_id = ids["sale-1"]
    tab = open_as("boris")
    form = hidden_inputs(tab.get(f"/cases/{case_id}?language=ru").text)
    expired = open_as("expired")  # the same browser once its session ran out
    before = state(store.engine)
    typed = {**form, "decision": "confirmed", "category": "sale", "comment": COMMENT}
    response = expired.post(f"/cases/{case_id}/decision", data={**typed, "back": "language=ru"})
    assert response.status_code == 401
    assert "решение не записано" in response.text
    assert "контакт @snow_shop_example &lt;b&gt;</textarea>" in response.text  # shown, to copy
    [target] = re.findall(r'<a href="/login\?next=([^"]+)" id="login-again">', response.text)
    assert parse_qs(f"next={target}")["next"] == [f"/cases/{case_id}?language=ru"]
    assert f"Path=/cases/{case_id}" in response.headers["set-cookie"]
    assert state(store.engine) == before
    back = login(expired, "boris", next=f"/cases/{case_id}?language=ru")
    assert back.headers["location"] == f"/cases/{case_id}?language=ru"
    page = expired.get(back.headers["location"])
    assert "Восстановлено решение" in page.text
    assert "контакт @snow_shop_example &lt;b&gt;</textarea>" in page.text
    assert '<option value="sale" selected>' in page.text
    assert "Max-Age=0" in page.headers["set-cookie"]  # shown once
    assert "Восстановлено решение" not in expired.get(f"/cases/{case_id}").text
    assert store.case(case_id)["decisions"] == []  # type: ignore[index]  # nothing was sent for them


def test_second_look_cases_have_their_own_view_and_count_in_the_menu(
    open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    boris = open_as("boris")
    assert 'id="nav-second-look">Повторная проверка</a>' in boris.get("/queue").text
    for record in ("sale-2", "near-1"):
        assert decide(boris, ids[record], "unsure").status_code == 303
    page = boris.get("/second-look").text
    assert 'Повторная проверка <span class="count">(2)</span>' in page
    assert "<h1>Нужна повторная проверка</h1>" in page
    assert listed(page, ids) == ["sale-2", "near-1"]
    assert "sale-2" not in listed(boris.get("/queue").text, ids)


def test_the_dashboard_counts_decisions_per_case(two_confirmations: Any, ids: dict[str, int]) -> None:
    boris, vera = two_confirmations("boris"), two_confirmations("vera")
    for expert in (boris, vera):  # two confirmations of one case: one confirmed case
        assert decide(expert, ids["sale-1"], "confirmed").status_code == 303
    html = boris.get("/dashboard").text
    days = re.findall(r'<tr><td>\d{4}-\d\d-\d\d</td><td class="num">(\d+)</td>', html)
    assert days == ["1"]


def test_an_expert_releases_their_own_claim_from_the_case_page(
    open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    boris = open_as("boris")
    page = boris.get(boris.get("/next").headers["location"]).text
    assert "Дело закреплено за вами" in page
    form = hidden_inputs(page.split('id="case-claim">')[1].split("</form>")[0])
    released = boris.post("/claims/release", data=form)
    assert released.headers["location"] == f"/cases/{ids['hostile-1']}?released=1"
    assert store.running_claims() == [] and store.audit_log(10, action="claim_released") == []
    assert "Дело освобождено" in boris.get(released.headers["location"]).text
