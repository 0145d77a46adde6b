"""The admins' pages (``routes/admin.py``): the audit log and the users; what experts see of them is in
``test_security.py``, which walks every route."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from classifier.queue import CaseStore
from review.cases import USERS
from review.helpers import assert_inert, decide, login, row_of


def test_admin_pages_are_linked_for_admins_only(view_as: Callable[..., TestClient]) -> None:
    assert 'href="/admin/audit"' in view_as("anna").get("/queue").text
    assert 'href="/admin/audit"' not in view_as("boris").get("/queue").text


def test_admin_sees_the_experts_decision_in_the_audit_log(
    open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    case_id = ids["sale-1"]
    decide(open_as("boris"), case_id, "confirmed", comment="проверено")
    response = open_as("anna").get("/admin/audit")
    assert response.status_code == 200
    row = row_of(response.text, case_id)
    assert "<td>boris</td>" in row
    assert "<td>решение</td>" in row
    assert f'<a href="/cases/{case_id}">{case_id}</a>' in row
    assert "вероятность нарушения по модели 97% (версия модели 7)" in row
    assert "комментарий: «проверено»" in row
    filtered = open_as("anna").get("/admin/audit", params={"actor": "vera"}).text
    assert f'href="/cases/{case_id}"' not in filtered


def test_admin_sees_the_users(view_as: Callable[..., TestClient]) -> None:
    html = view_as("anna").get("/admin/users").text
    for name, (password, role) in USERS.items():
        assert f"<td>{name}</td><td>{'администратор' if role == 'admin' else 'эксперт'}</td>" in html
        assert password not in html
    assert "argon2" not in html


def test_hostile_audit_page_is_inert(open_as: Callable[..., TestClient], ids: dict[str, int]) -> None:
    comment = '<script>window.__pwned="comment"</script><img src=x onerror="window.__pwned=3">'
    decide(open_as("boris"), ids["hostile-1"], "confirmed", comment=comment)
    assert login(open_as(), '<script>window.__pwned="user"</script>', "whatever-password").status_code == 401
    html = open_as("anna").get("/admin/audit").text
    assert "window.__pwned=&#34;comment&#34;" in html
    assert "window.__pwned=&#34;user&#34;" in html
    assert_inert(html)


def test_audit_page_reads_entries_written_by_older_versions(
    open_as: Callable[..., TestClient], store: CaseStore, ids: dict[str, int]
) -> None:
    old_detail = {"decision": "confirmed", "previous_status": "new", "comment": ""}
    store.log_audit("boris", "decision", ids["sale-1"], old_detail)
    page = open_as("anna").get("/admin/audit")
    assert page.status_code == 200
    assert "нарушение подтверждено;" in page.text
    assert "статус дела: новое" in page.text
