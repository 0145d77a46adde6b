"""The admins' pages, under /admin: the audit log, the accounts (which only the command line changes), and
the cases experts are working on (claimed through "next"), each with a button to release it
(``routes/queue.release_claim``)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from classifier.review.dependencies import Store, UserAccounts, require_admin
from classifier.review.pages import render

AUDIT_PER_PAGE = 100
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


@router.get("/users")
def users_page(request: Request, accounts: UserAccounts) -> Response:
    return render(request, "users.html", users=accounts.users())


@router.get("/claims")
def claims_page(request: Request, store: Store, released: str = "") -> Response:
    message = "Дело освобождено: «следующее» снова предлагает его всем экспертам." if released else ""
    return render(request, "claims.html", claims=store.running_claims(), message=message)
