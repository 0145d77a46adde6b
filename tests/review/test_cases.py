"""A case (``routes/cases.py``): its page with the evidence marked, and decisions: stored with an audit
entry, refused when outdated or invalid, and confirmed by two experts when the settings ask for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from classifier.queue import CaseStore
from review.helpers import assert_inert, audits, decide, hidden_inputs, listed, row_of, state


def test_case_page_shows_text_with_marked_evidence(
    view_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    html = view_as("boris").get(f"/cases/{ids['sale-1']}").text
    assert '<mark title="закладки">Закладки</mark>' in html
    assert '<span class="sentence">Магазин работает круглосуточно. </span>' in html
    assert "Гарантия веса, перезаклад при ненаходе." in html


def test_case_page_gives_reasons_for_and_against_and_marks_only_the_words_for(
    view_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    html = view_as("boris").get(f"/cases/{ids['near-1']}").text
    reasons = html.split("<h3>За нарушение</h3>")[1]
    reasons_for, against = reasons.split("<h3>Против</h3>")
    assert "купить" in reasons_for and "вклад +0,60" in reasons_for
    assert "Telegram-контакты на странице: 1" in reasons_for and "<mark>Telegram" not in reasons_for
    assert "предупреждение: полиция" in against and "вклад −2,10" in against
    assert '<mark title="купить">купить</mark>' in html  # marked in the text
    assert '<mark title="полиция">' not in html  # a reason against is listed, not marked


def test_case_page_shows_contacts_cluster_history_and_model(
    view_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    html = view_as("boris").get(f"/cases/{ids['sale-1']}").text
    assert "<dt>Telegram</dt><dd><code>@snow_shop_example</code></dd>" in html
    assert "Копии и связанные ресурсы (2)" in html
    assert listed(html, ids) == ["sale-2", "sale-3"]
    assert "<td>drug-ad-classifier v7</td><td>97%</td>" in html
    assert "<code>run-review-1</code>" in html
    assert "drug-ad-classifier, версия 7" in html
    assert '<dd class="url" id="case-url">https://snow-shop.example/catalog</dd>' in html


def test_case_page_without_text_shows_the_error(
    view_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    html = view_as("boris").get(f"/cases/{ids['broken-1']}").text
    assert "оценки нет: extraction failed: empty page" in html
    assert "Контактов не найдено." in html


@pytest.mark.parametrize("case_id", ["999999", "0", "-1"])
def test_unknown_case_is_404(case_id: str, view_as: Callable[..., TestClient]) -> None:
    response = view_as("boris").get(f"/cases/{case_id}")
    assert response.status_code == 404
    assert "Такого дела нет." in response.text


def test_hostile_case_page_is_inert(view_as: Callable[..., TestClient], ids: dict[str, int]) -> None:
    html = view_as("boris").get(f"/cases/{ids['hostile-1']}").text
    assert_inert(html)
    assert "&lt;img src=x onerror=&#34;window.__pwned=1&#34;&gt;" in html  # the evidence term, as text
    assert "evil.invalid&#34;&gt;&lt;script&gt;" in html  # the domain
    assert "javascript:window.__pwned=&#39;url&#39;//https://shop.invalid/&lt;script&gt;" in html  # the url
    assert "window.__pwned=&#34;contact&#34;" in html  # the contact


# -- decisions --


def test_confirming_a_case_changes_its_status_everywhere(
    open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    client = open_as("boris")
    case_id = ids["sale-1"]
    response = decide(client, case_id, "confirmed", comment="магазин закладок")
    assert response.status_code == 303
    assert response.headers["location"] == f"/cases/{case_id}?saved=1"
    page = client.get(response.headers["location"]).text
    assert '<span class="status status-confirmed" id="case-status">нарушение подтверждено</span>' in page
    assert "Решение сохранено." in page
    assert "<strong>boris</strong>: нарушение подтверждено" in page
    queue = client.get("/queue", params={"status": "all"}).text
    assert "нарушение подтверждено" in row_of(queue, case_id)
    assert "нарушение подтверждено" not in row_of(queue, ids["sale-2"])


def test_decision_is_stored_with_an_audit_entry(
    open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    case_id = ids["sale-1"]
    decide(open_as("boris"), case_id, "confirmed", category="sale", comment="магазин")
    case = store.case(case_id)
    assert case["status"] == "confirmed"
    assert case["version"] == 1
    [decision] = case["decisions"]
    assert decision["expert"] == "boris"
    assert decision["decision"] == "confirmed"
    assert decision["category"] == "sale"
    assert decision["comment"] == "магазин"
    assert decision["score"] == pytest.approx(0.97)
    assert decision["model_version"] == "7"
    [entry] = audits(store, "decision")
    assert entry["actor"] == "boris"
    assert entry["case_id"] == case_id
    assert entry["detail"]["score"] == pytest.approx(0.97)
    assert entry["detail"]["model_version"] == "7"
    # what the page showed comes from the case row at the version decided on, never from the form
    assert not any(key.startswith("shown_") for key in entry["detail"])
    assert entry["detail"]["previous_status"] == "new"


def test_decision_on_an_outdated_page_is_409_and_writes_nothing(
    open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    case_id = ids["sale-1"]
    boris = open_as("boris")
    outdated = hidden_inputs(boris.get(f"/cases/{case_id}").text)
    assert decide(open_as("vera"), case_id, "rejected").status_code == 303
    before = state(store.engine)
    response = boris.post(f"/cases/{case_id}/decision", data={**outdated, "decision": "confirmed"})
    assert response.status_code == 409
    assert "другой эксперт вынес решение" in response.text
    assert "<strong>vera</strong>: нарушения нет" in response.text
    assert state(store.engine) == before
    assert store.case(case_id)["status"] == "rejected"


@pytest.mark.parametrize("version", ["5", "-1", "2147483648"])  # the last: beyond PostgreSQL's 32-bit column
def test_decision_with_a_wrong_version_is_409(
    version: str, open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    before = state(store.engine)
    assert decide(open_as("boris"), ids["sale-1"], "confirmed", version=version).status_code == 409
    assert state(store.engine) == before


@pytest.mark.parametrize("decision", ["approve", "", "CONFIRMED"])
def test_invalid_decision_is_400_and_writes_nothing(
    decision: str, open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    before = state(store.engine)
    response = decide(open_as("boris"), ids["sale-1"], decision)
    assert response.status_code == 400
    assert "Выберите решение." in response.text
    assert state(store.engine) == before


def test_decision_with_an_unknown_category_is_400_and_writes_nothing(
    open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    before = state(store.engine)
    response = decide(open_as("boris"), ids["sale-1"], "confirmed", category="weapons")
    assert response.status_code == 400
    assert "Выберите категорию из списка." in response.text
    assert state(store.engine) == before


def test_decision_on_an_unknown_case_is_404(open_as: Callable[..., TestClient], store: CaseStore) -> None:
    client = open_as("boris")
    csrf = hidden_inputs(client.get("/queue").text)["csrf"]
    before = state(store.engine)
    response = client.post(
        "/cases/999999/decision", data={"decision": "confirmed", "csrf": csrf, "version": "0"}
    )
    assert response.status_code == 404
    assert state(store.engine) == before


def test_two_experts_must_confirm(two_confirmations: Any, ids: dict[str, int], store: CaseStore) -> None:
    case_id = ids["sale-1"]
    boris, vera = two_confirmations("boris"), two_confirmations("vera")
    assert "подтверждения 2 разными экспертами" in boris.get(f"/cases/{case_id}").text
    assert decide(boris, case_id, "confirmed").status_code == 303
    assert store.case(case_id)["status"] == "pending"
    assert "ждёт второго подтверждения" in boris.get(f"/cases/{case_id}").text
    again = decide(boris, case_id, "confirmed")
    assert again.status_code == 400
    assert "Вы уже подтвердили это дело: его должен подтвердить другой эксперт." in again.text
    assert len(store.case(case_id)["decisions"]) == 1
    assert decide(vera, case_id, "confirmed").status_code == 303
    assert store.case(case_id)["status"] == "confirmed"


def test_a_rejection_resets_the_confirmations(
    two_confirmations: Any, ids: dict[str, int], store: CaseStore
) -> None:
    case_id = ids["sale-1"]
    boris, vera = two_confirmations("boris"), two_confirmations("vera")
    decide(boris, case_id, "confirmed")
    decide(vera, case_id, "rejected")
    assert store.case(case_id)["status"] == "rejected"
    decide(vera, case_id, "confirmed")
    assert store.case(case_id)["status"] == "pending"  # boris's confirmation before the rejection is void
    decide(boris, case_id, "confirmed")
    assert store.case(case_id)["status"] == "confirmed"
    statuses = [entry["detail"]["status"] for entry in reversed(audits(store, "decision"))]
    assert statuses == ["pending", "rejected", "pending", "confirmed"]
