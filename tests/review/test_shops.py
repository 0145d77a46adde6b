"""Shops in the review app (``routes/shops.py``, issue 18): the shop page with its pages, identifiers and why
they are linked; "confirm as a mirror of shop N" on a case page; deciding a shop's undecided pages at once,
each page its own audited decision, a page decided meanwhile skipped. The test store's sale pages are one
shop, named after sale-1's case (``review.cases``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from classifier.queue import CaseStore
from review.cases import SALE_CLUSTER
from review.helpers import Markup, audits, hidden_inputs, listed, row_of, state


def ticked(html: str) -> list[str]:
    """The pages the shop's form ticks, as "case id:version"."""
    return re.findall(r'<input type="checkbox" name="cases" value="(\d+:\d+)" checked', html)


def listed_row(html: str, case_id: int) -> str:
    """The row of the shop's list that opens a case (the reasons of other rows link to it too)."""
    (row,) = [row for row in html.split("<tr>") if f'<a class="open" href="/cases/{case_id}"' in row]
    return row


def decide_shop(client: TestClient, shop: int, decision: str, overrides: dict[str, Any] | None = None) -> Any:
    """Submit the shop page's form as shown (every undecided page ticked, the box ticked)."""
    html = client.get(f"/shops/{shop}").text
    form = {**hidden_inputs(html), "cases": ticked(html), "decision": decision, "confirm": "yes"}
    return client.post(f"/shops/{shop}/decision", data={**form, **(overrides or {})})


def test_the_shop_page_shows_its_pages_identifiers_and_why_they_are_linked(
    view_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    shop = ids["sale-1"]
    response = view_as("boris").get(f"/shops/{shop}")
    assert response.status_code == 200
    html = response.text
    assert sorted(listed(html, ids)) == sorted(SALE_CLUSTER)
    assert "Ресурсов в магазине: 3. Ждут решения: 3." in html
    text = " ".join(Markup(html).text.split())
    assert 'id="shop-status">не решён</span>' in html
    assert "Telegram @snow_shop_example — ресурсов: 3" in text
    # why each page is in the shop: the handle, the text, the duplicate group of the run
    for record in SALE_CLUSTER:
        reasons = " ".join(Markup(listed_row(html, ids[record])).text.split())
        assert "общий контакт Telegram @snow_shop_example: ещё ресурсов — 2, например дело" in reasons
        assert "текст на 100% совпадает с текстом дела" in reasons
        assert "одна группа копий в запуске run-review-1: ещё ресурсов — 2, например дело" in reasons
    # every undecided page ticked with the version shown; the shop is not confirmed: no mirrors to confirm
    assert sorted(ticked(html)) == sorted(f"{ids[r]}:0" for r in SALE_CLUSTER)
    assert "Нарушения нет — для всех отмеченных" in html
    assert "как зеркала магазина" not in html and "сначала подтвердите один из них" in html
    assert "Решений пока нет." in html


def test_a_number_that_names_no_shop_is_no_shop_page(
    view_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    """sale-2's case is in sale-1's shop; a case alone is a shop of its own (near-1's)."""
    assert view_as("boris").get(f"/shops/{ids['near-1']}").status_code == 200
    for path in (f"/shops/{ids['sale-2']}", "/shops/999999", "/shops/0"):
        response = view_as("boris").get(path)
        assert response.status_code == 404 and "Такого магазина нет." in response.text, path


def test_the_queue_and_the_case_page_name_a_shop_of_several_pages(
    view_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    shop = ids["sale-1"]
    client = view_as("boris")
    queue = client.get("/queue").text
    named = f'<div class="shop"><a href="/shops/{shop}">магазин {shop}</a>: не решён, ресурсов: 3</div>'
    for record in SALE_CLUSTER:
        assert named in row_of(queue, ids[record])
    assert 'class="shop"' not in row_of(queue, ids["near-1"])  # alone and undecided: no shop worth naming
    page = client.get(f"/cases/{ids['sale-2']}").text
    assert f'<a href="/shops/{shop}" id="case-shop">магазин {shop}</a>' in page
    assert "/mirror" not in page  # nobody confirmed the shop yet
    near = client.get(f"/cases/{ids['near-1']}").text
    assert 'id="case-shop"' not in near


def test_a_page_is_confirmed_as_a_mirror_in_one_action(
    store: CaseStore, open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    shop = ids["sale-1"]
    store.record_decision(ids["sale-1"], "confirmed", "vera", category="recruitment")
    boris = open_as("boris")
    page = boris.get(f"/cases/{ids['sale-2']}").text
    assert "Подтвердить как зеркало магазина" in page and "подтверждён экспертами</span>, ресурсов: 3" in page
    form = hidden_inputs(page)
    assert (form["shop"], form["version"]) == (str(shop), "0")
    response = boris.post(f"/cases/{ids['sale-2']}/mirror", data=form)
    assert (response.status_code, response.headers["location"]) == (303, f"/cases/{ids['sale-2']}?saved=1")
    case = store.case(ids["sale-2"])
    assert case is not None and case["status"] == "confirmed"
    (decision,) = case["decisions"]
    assert (decision["expert"], decision["shop_id"], decision["category"]) == ("boris", shop, "recruitment")
    entry = audits(store, "decision")[0]
    assert (entry["actor"], entry["case_id"], entry["detail"]["shop_id"]) == ("boris", ids["sale-2"], shop)
    assert entry["detail"]["how"] == "mirror" and entry["detail"]["score"] == pytest.approx(0.95)
    shown = boris.get(f"/cases/{ids['sale-2']}?saved=1").text
    assert "Подтвердить как зеркало" not in shown and f"по магазину {shop}" in shown
    log = open_as("anna").get("/admin/audit").text
    assert f'как зеркало магазина <a href="/shops/{shop}">{shop}</a>' in log


def test_a_mirror_confirmation_on_an_outdated_page_is_refused(
    store: CaseStore, open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    store.record_decision(ids["sale-1"], "confirmed", "vera")
    boris = open_as("boris")
    form = hidden_inputs(boris.get(f"/cases/{ids['sale-2']}").text)
    store.record_decision(ids["sale-2"], "rejected", "vera", expected_version=0)
    before = state(store.engine)
    response = boris.post(f"/cases/{ids['sale-2']}/mirror", data=form)
    assert response.status_code == 409 and "другой эксперт вынес решение" in response.text
    assert state(store.engine) == before


def test_a_mirror_confirmation_outside_a_confirmed_shop_is_refused(
    store: CaseStore, open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    boris, shop = open_as("boris"), ids["sale-1"]
    before = state(store.engine)
    csrf = hidden_inputs(boris.get("/queue").text)["csrf"]
    form = {"csrf": csrf, "version": "0", "shop": str(shop)}
    response = boris.post(f"/cases/{ids['sale-2']}/mirror", data=form)  # nobody confirmed the shop
    assert response.status_code == 400 and "Магазин больше не подтверждён" in response.text
    store.record_decision(ids["sale-1"], "confirmed", "vera")
    before = state(store.engine)
    for record, shop_id in (("near-1", shop), ("sale-2", ids["near-1"]), ("sale-2", 0)):
        response = boris.post(f"/cases/{ids[record]}/mirror", data={**form, "shop": str(shop_id)})
        assert response.status_code == 400, (record, shop_id)
        assert "больше не относится к этому магазину" in response.text
    assert state(store.engine) == before


def test_a_shops_undecided_pages_are_decided_at_once_and_a_page_decided_meanwhile_is_skipped(
    store: CaseStore, open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    shop = ids["sale-1"]
    store.record_decision(ids["sale-1"], "confirmed", "vera", category="sale")
    boris = open_as("boris")
    html = boris.get(f"/shops/{shop}").text
    assert sorted(ticked(html)) == sorted([f"{ids['sale-2']}:0", f"{ids['sale-3']}:0"])
    assert f"Подтвердить отмеченные как зеркала магазина {shop}" in html
    store.record_decision(ids["sale-3"], "rejected", "vera", expected_version=0)  # while boris reads
    form = {**hidden_inputs(html), "cases": ticked(html), "decision": "confirmed", "confirm": "yes"}
    response = boris.post(f"/shops/{shop}/decision", data={**form, "comment": "зеркала"})
    assert response.status_code == 200
    assert "Решение записано: решено ресурсов — 1, пропущено — 1." in response.text
    result = " ".join(Markup(response.text.split('id="shop-result"')[1].split("</section>")[0]).text.split())
    assert f"Решено (1) дело {ids['sale-2']} https://snow-mirror.example/ — нарушение подтверждено" in result
    assert f"Пропущено (1) дело {ids['sale-3']}" in result
    assert "по этому ресурсу вынесено решение (vera: нарушения нет)" in result
    statuses = {r: store.case(ids[r])["status"] for r in SALE_CLUSTER}  # type: ignore[index]
    assert statuses == {"sale-1": "confirmed", "sale-2": "confirmed", "sale-3": "rejected"}
    entries = [e for e in audits(store, "decision") if e["actor"] == "boris"]
    assert [(e["case_id"], e["detail"]["shop_id"], e["detail"]["how"]) for e in entries] == [
        (ids["sale-2"], shop, "shop")
    ]
    (decision,) = store.case(ids["sale-2"])["decisions"]  # type: ignore[index]
    assert (decision["comment"], decision["category"], decision["shop_id"]) == ("зеркала", "sale", shop)
    # the same post again decides nothing twice
    again = boris.post(f"/shops/{shop}/decision", data=form)
    assert "решено ресурсов — 0, пропущено — 2." in again.text
    assert len([e for e in audits(store, "decision") if e["actor"] == "boris"]) == 1


def test_a_shop_of_undecided_pages_can_be_rejected_at_once_but_not_confirmed(
    store: CaseStore, open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    shop, boris = ids["sale-1"], open_as("boris")
    before = state(store.engine)
    response = decide_shop(boris, shop, "confirmed")
    assert response.status_code == 400 and "Магазин ещё не подтверждён" in response.text
    assert state(store.engine) == before
    response = decide_shop(boris, shop, "rejected")
    assert "решено ресурсов — 3, пропущено — 0." in response.text
    assert {store.case(ids[r])["status"] for r in SALE_CLUSTER} == {"rejected"}  # type: ignore[index]
    entries = [e for e in audits(store, "decision") if e["actor"] == "boris"]
    assert sorted(e["case_id"] for e in entries) == sorted(ids[r] for r in SALE_CLUSTER)
    assert {(e["detail"]["shop_id"], e["detail"]["decision"]) for e in entries} == {(shop, "rejected")}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"confirm": ""}, "Отметьте, что вы просмотрели отмеченные ресурсы"),
        ({"cases": []}, "Не отмечено ни одного ресурса."),
        ({"decision": "unsure"}, "Выберите решение."),
        ({"cases": ["' OR '1'='1"]}, "Неверные данные формы"),
        ({"cases": ["1:2:3"]}, "Неверные данные формы"),
        ({"cases": [f"{n}:0" for n in range(1, 102)]}, "Неверные данные формы"),  # more than a list page
    ],
)
def test_an_incomplete_shop_form_decides_nothing(
    overrides: dict[str, object],
    message: str,
    store: CaseStore,
    open_as: Callable[..., TestClient],
    ids: dict[str, int],
) -> None:
    before = state(store.engine)
    response = decide_shop(open_as("boris"), ids["sale-1"], "rejected", overrides)
    assert response.status_code == 400 and message in response.text
    assert "&#39; OR" not in response.text  # nothing typed is shown back
    assert state(store.engine) == before


def test_a_shop_form_cannot_reach_pages_of_another_shop(
    store: CaseStore, open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    """Naming another shop's case (or an unknown one) in the form skips it: only the shop's pages change."""
    shop = ids["sale-1"]
    others = [f"{ids['near-1']}:0", f"{ids['hostile-1']}:0", "999999:0"]
    response = decide_shop(open_as("boris"), shop, "rejected", {"cases": [f"{ids['sale-2']}:0", *others]})
    assert "решено ресурсов — 1, пропущено — 3." in response.text
    assert response.text.count("ресурс больше не относится к этому магазину") == 2
    assert "такого дела нет" in response.text
    for record in ("near-1", "hostile-1", "sale-1", "sale-3"):
        case = store.case(ids[record])
        assert case is not None and (case["status"], case["decisions"]) == ("new", []), record
