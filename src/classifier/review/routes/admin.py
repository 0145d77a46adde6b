"""The admins' pages, under /admin: the audit log, the accounts (which only the command line changes), and
the cases experts are working on (claimed through "next"), each with a button to release it
(``routes/queue.release_claim``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from classifier.queue import CaseStore
from classifier.review import texts, times
from classifier.review.dependencies import CurrentUser, Settings, Store, UserAccounts, require_admin
from classifier.review.downloads import csv_download
from classifier.review.pages import render

AUDIT_PER_PAGE = 100
AUDIT_EXPORT_BATCH = 2000  # entries read per query while the file is written
MAX_PAGE = 10**6  # no log has that many pages; a larger number would overflow the database's OFFSET

router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)])


@router.get("/audit")
def audit_page(request: Request, store: Store, page: int = 1, actor: str = "", action: str = "") -> Response:
    page = max(1, min(page, MAX_PAGE))
    rows = store.audit_log(AUDIT_PER_PAGE, (page - 1) * AUDIT_PER_PAGE, actor=actor[:64], action=action[:64])
    total = store.count_audit(actor=actor[:64] or None, action=action[:64] or None)
    query = {k: v for k, v in {"actor": actor, "action": action}.items() if v}
    return render(
        request,
        "audit.html",
        rows=rows,
        page=page,
        pages=max(1, -(-total // AUDIT_PER_PAGE)),
        total=total,
        query={"actor": actor, "action": action},
        page_url=lambda n: "/admin/audit?" + urlencode({**query, "page": n}),
    )


@router.get("/audit.csv")
def audit_export(
    store: Store, settings: Settings, user: CurrentUser, actor: str = "", action: str = ""
) -> Response:
    """The audit log as the page filters it, every matching entry, newest first, as a CSV file; the
    export is itself an entry (written before the file, so the file lists it when the filters do)."""
    actor, action = actor[:64], action[:64]
    total = store.count_audit(actor=actor or None, action=action or None)
    lists_itself = actor in ("", user["username"]) and action in ("", "export_audit")
    filters = {k: v for k, v in {"actor": actor, "action": action}.items() if v}
    store.log_audit(
        user["username"], "export_audit", detail={"filters": filters, "rows": total + lists_itself}
    )
    zone = times.zone_note(settings.time_zone)
    header = [f"Когда ({zone})", "Кто", "Действие", "Дело", "Подробности"]
    rows = _audit_rows(store, ZoneInfo(settings.time_zone), actor, action)
    return csv_download("audit-log.csv", header, rows)


def _audit_rows(store: CaseStore, zone: ZoneInfo, actor: str, action: str) -> Iterator[list[Any]]:
    # by id, not by offset: entries written while the file is read neither repeat nor shift it
    before: int | None = None
    while True:
        batch = store.audit.entries(AUDIT_EXPORT_BATCH, actor=actor, action=action, before_id=before)
        for row in batch:
            detail = json.dumps(row["detail"], ensure_ascii=False) if row["detail"] else ""
            yield [
                times.local(row["at"], zone),
                texts.label(texts.ACTOR, row["actor"]),
                texts.label(texts.ACTION, row["action"]),
                row["case_id"],
                detail,
            ]
        if len(batch) < AUDIT_EXPORT_BATCH:
            return
        before = batch[-1]["id"]


@router.get("/users")
def users_page(request: Request, accounts: UserAccounts) -> Response:
    return render(request, "users.html", users=accounts.users())


@router.get("/claims")
def claims_page(request: Request, store: Store, released: str = "") -> Response:
    message = "Дело освобождено: «следующее» снова предлагает его всем экспертам." if released else ""
    return render(request, "claims.html", claims=store.running_claims(), message=message)
