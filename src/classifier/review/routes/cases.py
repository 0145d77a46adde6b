"""A case: its page (the extracted text with the evidence marked, contacts, copies, its shop, history) and
the decision forms, which carry the case's version so that a decision made on an outdated page is
refused: the expert's own, and, for a page of a shop experts confirmed, "confirm as a mirror of shop N"."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from classifier.common.config import ReviewSettings
from classifier.queue import CaseStore, StaleCaseError
from classifier.review import drafts
from classifier.review.dependencies import FormSender, Settings, Store, current_user
from classifier.review.evidence import reasons
from classifier.review.highlight import highlight
from classifier.review.navigation import Place, with_query
from classifier.review.pages import render
from classifier.review.routes.queue import saved_note
from classifier.review.routes.shops import notable

MAX_ID = 2**63 - 1  # SQLite's INTEGER and PostgreSQL's BIGINT: a larger number is no case, not a server error
SOMEONE_ELSE_DECIDED = (
    "Пока страница была открыта, другой эксперт вынес решение по этому делу. "
    "Проверьте его решение ниже и при необходимости решите снова: ваш выбор и комментарий сохранены в форме."
)
YOU_DECIDED_ELSEWHERE = (
    "Пока страница была открыта, вы уже вынесли другое решение по этому делу (в другой вкладке или окне). "
    "Проверьте его ниже и при необходимости решите снова: ваш выбор и комментарий сохранены в форме."
)
CHOOSE_CATEGORY = "Выберите категорию нарушения: без неё подтверждение не записано."
RESTORED = (
    "Восстановлено решение, которое вы отправили, когда сессия истекла: оно ещё не записано. "
    "Проверьте выбор и комментарий и отправьте снова."
)
SAVED = {
    "1": "Решение сохранено.",
    "released": "Дело освобождено: «следующее» снова предлагает его всем экспертам.",
    "again": "Это решение уже записано: повторная отправка формы ничего не изменила.",
}

router = APIRouter(prefix="/cases", dependencies=[Depends(current_user)])


@router.get("/{case_id}")
def case_page(
    request: Request,
    store: Store,
    settings: Settings,
    case_id: int,
    saved: str = "",
    released: str = "",
    decided: int = 0,
) -> Response:
    """The case; ``saved``/``released``: what the expert just did here; ``decided``: the case they
    decided before "next" brought them here."""
    place = Place.read(request.query_params)
    draft = drafts.restored(request, case_id) if 0 < case_id <= MAX_ID else None
    message = RESTORED if draft else SAVED.get("released" if released else saved, "")
    if not message and saved_note(decided):
        message = f"{saved_note(decided)} Это следующее нерешённое дело по тем же условиям."
    response = case_response(request, store, settings, case_id, message=message, place=place, typed=draft)
    if draft is not None:
        drafts.forget(response, case_id)  # shown once: the form now holds it
    return response


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
    back: Annotated[str, Form()] = "",
    then: Annotated[str, Form()] = "",
) -> Response:
    """Records the decision, then opens the next case of the expert's queue (``then`` "next", the form's
    default) or shows this case again (303 either way, so that reloading posts nothing twice); a
    refused decision shows the case page with the reason and the form as the expert filled it in. The
    same form sent twice (a second press) is recognised by its version and answered "already recorded".
    A confirmation needs a category: none is assumed (the store refuses it after the version check, so
    that a decision made meanwhile is reported first)."""
    place = Place.parse(back)
    typed = {
        "decision": decision[:16],
        "category": category[:32],
        "comment": comment[:4000],
        "then": then[:8],
    }
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
            require_category=True,
        )
    except StaleCaseError as exc:
        return stale(request, store, settings, exc, user["username"], decision, version, place, typed)
    except ValueError as exc:
        return case_response(request, store, settings, case_id, 400, decision_error(str(exc)), place, typed)
    if then == "next":
        following = with_query(f"/next?after={case_id}&decided={case_id}", place.query())
        return RedirectResponse(following, status_code=303)
    return RedirectResponse(with_query(f"/cases/{case_id}?saved=1", place.query()), status_code=303)


@router.post("/{case_id}/mirror")
def confirm_mirror(
    request: Request,
    user: FormSender,
    store: Store,
    settings: Settings,
    case_id: int,
    shop: Annotated[int, Form()] = -1,
    version: Annotated[int, Form()] = -1,
    back: Annotated[str, Form()] = "",
) -> Response:
    """Confirms the case as a mirror of the confirmed ``shop`` the page showed it in, in one action: the
    shop's category, a decision that names the shop; refused like the decision form on an outdated page,
    and when the case is no longer in that shop or the shop is no longer confirmed."""
    place = Place.parse(back)
    if not 0 < case_id <= MAX_ID:
        return case_response(request, store, settings, case_id)  # no such case
    try:
        store.record_decision(
            case_id,
            "confirmed",
            user["username"],
            expected_version=version,
            shop_id=shop,
        )
    except StaleCaseError as exc:
        return stale(request, store, settings, exc, user["username"], "confirmed", version, place, None)
    except ValueError as exc:
        return case_response(request, store, settings, case_id, 400, decision_error(str(exc)), place)
    return RedirectResponse(with_query(f"/cases/{case_id}?saved=1", place.query()), status_code=303)


def stale(
    request: Request,
    store: CaseStore,
    settings: ReviewSettings,
    exc: StaleCaseError,
    expert: str,
    decision: str,
    version: int,
    place: Place,
    typed: dict[str, str] | None,
) -> Response:
    """A decision refused by the version check: "already recorded" when it repeats the latest decision
    (the same form sent again), else the 409 page with the decision that came first and the form kept."""
    if exc.repeats(expert, decision, version):
        return RedirectResponse(
            with_query(f"/cases/{exc.case_id}?saved=again", place.query()), status_code=303
        )
    message = YOU_DECIDED_ELSEWHERE if exc.expert == expert else SOMEONE_ELSE_DECIDED
    return case_response(request, store, settings, exc.case_id, 409, message, place, typed)


def case_response(
    request: Request,
    store: CaseStore,
    settings: ReviewSettings,
    case_id: int,
    status_code: int = 200,
    message: str = "",
    place: Place | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    """The case page (404 for an unknown case), with ``message`` above the decision form, which shows
    ``typed`` (decision, category, comment: what a refused decision sent) and carries ``place`` on."""
    case = store.case(case_id) if 0 < case_id <= MAX_ID else None
    if case is None:
        return render(request, "error.html", 404, message="Такого дела нет.")
    cluster = [c for c in store.cluster(case["cluster_id"]) if c["id"] != case_id]
    shop = notable(store.shop_summaries([case["shop_id"]])).get(case["shop_id"])
    text = case.get("text") or case.get("excerpt") or ""
    images = case.get("images") or []
    read = [(image["n"], image["text"]) for image in images if image.get("text")]
    shown = reasons(text, case.get("evidence") or [], read)  # the evidence in words, and where it occurs
    # a restored draft is not recorded yet: it reads as a remark, not as done
    tone = {"tone": "note"} if message == RESTORED else {}
    return render(
        request,
        "case.html",
        status_code,
        **tone,
        case=case,
        cluster=cluster,
        shop=shop,
        segments=highlight(text, case.get("evidence") or [], settings.evidence_sentences, shown.found),
        reasons=shown,
        images=image_views(images, case.get("evidence") or [], settings.evidence_sentences),
        text_is_excerpt=not case.get("text"),
        confirmations_required=settings.confirmations_required,
        message=message,
        claim=store.claim_of(case_id),
        typed=typed or {},
        back=(place or Place()).query(),
        queue_query=urlencode((place or Place()).filters()),
    )


def image_views(images: list[dict[str, Any]], evidence: list[Any], sentences: bool) -> dict[str, Any]:
    """The page's images as the case page lists them: the text read in each, evidence marked as in the
    page's text, and the images not read with the reason (never the images themselves)."""
    read = [
        {**image, "segments": highlight(image["text"], evidence, sentences)}
        for image in images
        if image.get("text")
    ]
    not_read = [image for image in images if image.get("error")]
    return {"read": read, "not_read": not_read, "total": len(images)}


def decision_error(message: str) -> str:
    """The store's reason for refusing a decision, in the expert's words."""
    if "already confirmed" in message:
        return "Вы уже подтвердили это дело: его должен подтвердить другой эксперт."
    if "decision must be" in message:
        return "Выберите решение."
    if "needs a category" in message:
        return CHOOSE_CATEGORY
    if "category must be" in message:
        return "Выберите категорию из списка."
    if "unknown case" in message:
        return "Такого дела нет."
    if "is not a page of shop" in message:
        return "Эта страница больше не относится к этому магазину: обновите страницу и проверьте её магазин."
    if "is not confirmed" in message:
        return "Магазин больше не подтверждён: решите по этой странице отдельно."
    return "Решение не сохранено: " + message
