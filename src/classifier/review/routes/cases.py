"""A case: its page (the extracted text with the evidence marked, contacts, copies, its shop, history) and
the decision forms, which carry the case's version so that a decision made on an outdated page is
refused: the expert's own, and, for a page of a shop experts confirmed, "confirm as a mirror of shop N"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from classifier.common.config import ReviewSettings
from classifier.queue import CaseStore, StaleCaseError
from classifier.review.dependencies import FormSender, Settings, Store, current_user
from classifier.review.highlight import highlight
from classifier.review.pages import render
from classifier.review.routes.shops import notable

MAX_ID = 2**63 - 1  # SQLite's INTEGER and PostgreSQL's BIGINT: a larger number is no case, not a server error
SOMEONE_ELSE_DECIDED = (
    "Пока страница была открыта, другой эксперт вынес решение по этому делу. "
    "Проверьте его решение ниже и при необходимости решите снова."
)

router = APIRouter(prefix="/cases", dependencies=[Depends(current_user)])


@router.get("/{case_id}")
def case_page(request: Request, store: Store, settings: Settings, case_id: int, saved: str = "") -> Response:
    return case_response(request, store, settings, case_id, message="Решение сохранено." if saved else "")


@router.post("/{case_id}/decision")
def decide(
    request: Request,
    user: FormSender,
    store: Store,
    settings: Settings,
    case_id: int,
    decision: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
    version: Annotated[int, Form()] = -1,
    shown_score: Annotated[str, Form()] = "",
    shown_model_version: Annotated[str, Form()] = "",
) -> Response:
    """Records the decision and shows the case again (303, so that reloading posts nothing twice); a
    refused decision shows the case page with the reason."""
    if not 0 < case_id <= MAX_ID:
        return case_response(request, store, settings, case_id)  # no such case
    try:
        store.record_decision(
            case_id,
            decision,
            user["username"],
            comment[:4000],
            category=category or None,
            expected_version=version,
            shown={"score": shown_score[:32], "model_version": shown_model_version[:64]},
        )
    except StaleCaseError:
        return case_response(request, store, settings, case_id, 409, SOMEONE_ELSE_DECIDED)
    except ValueError as exc:
        return case_response(request, store, settings, case_id, 400, decision_error(str(exc)))
    return RedirectResponse(f"/cases/{case_id}?saved=1", status_code=303)


@router.post("/{case_id}/mirror")
def confirm_mirror(
    request: Request,
    user: FormSender,
    store: Store,
    settings: Settings,
    case_id: int,
    shop: Annotated[int, Form()] = -1,
    version: Annotated[int, Form()] = -1,
    shown_score: Annotated[str, Form()] = "",
    shown_model_version: Annotated[str, Form()] = "",
) -> Response:
    """Confirms the case as a mirror of the confirmed ``shop`` the page showed it in, in one action: the
    shop's category, a decision that names the shop; refused like the decision form on an outdated page,
    and when the case is no longer in that shop or the shop is no longer confirmed."""
    if not 0 < case_id <= MAX_ID:
        return case_response(request, store, settings, case_id)  # no such case
    try:
        store.record_decision(
            case_id,
            "confirmed",
            user["username"],
            expected_version=version,
            shown={"score": shown_score[:32], "model_version": shown_model_version[:64]},
            shop_id=shop,
        )
    except StaleCaseError:
        return case_response(request, store, settings, case_id, 409, SOMEONE_ELSE_DECIDED)
    except ValueError as exc:
        return case_response(request, store, settings, case_id, 400, decision_error(str(exc)))
    return RedirectResponse(f"/cases/{case_id}?saved=1", status_code=303)


def case_response(
    request: Request,
    store: CaseStore,
    settings: ReviewSettings,
    case_id: int,
    status_code: int = 200,
    message: str = "",
) -> Response:
    """The case page (404 for an unknown case), with ``message`` above the decision form."""
    case = store.case(case_id) if 0 < case_id <= MAX_ID else None
    if case is None:
        return render(request, "error.html", 404, message="Такого дела нет.")
    cluster = [c for c in store.cluster(case["cluster_id"]) if c["id"] != case_id]
    shop = notable(store.shop_summaries([case["shop_id"]])).get(case["shop_id"])
    text = case.get("text") or case.get("excerpt") or ""
    return render(
        request,
        "case.html",
        status_code,
        case=case,
        cluster=cluster,
        shop=shop,
        segments=highlight(text, case.get("evidence") or [], settings.evidence_sentences),
        text_is_excerpt=not case.get("text"),
        confirmations_required=settings.confirmations_required,
        message=message,
    )


def decision_error(message: str) -> str:
    """The store's reason for refusing a decision, in the expert's words."""
    if "already confirmed" in message:
        return "Вы уже подтвердили это дело: его должен подтвердить другой эксперт."
    if "decision must be" in message:
        return "Выберите решение."
    if "category must be" in message:
        return "Выберите категорию из списка."
    if "unknown case" in message:
        return "Такого дела нет."
    if "is not a page of shop" in message:
        return "Эта страница больше не относится к этому магазину: обновите страницу и проверьте её магазин."
    if "is not confirmed" in message:
        return "Магазин больше не подтверждён: решите по этой странице отдельно."
    return "Решение не сохранено: " + message
