"""The queue of cases for experts: filtered and paged, the uncertain ones, the cases marked for a second
look, and the next case to decide, which "next" claims for the expert (``queue/claims.py``)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from classifier.queue import STATUSES
from classifier.queue.views import OPEN, QueueFilter, facets, find_cases, next_case, uncertain_cases
from classifier.review.dependencies import CurrentUser, FormSender, Settings, Store, current_user
from classifier.review.navigation import Place, score_fraction, with_query
from classifier.review.pages import render
from classifier.review.routes.shops import notable

MAX_PAGE = 10**6  # no queue has that many pages; a larger number would overflow the database's OFFSET
MAX_ID = 2**63 - 1
NOTHING_LEFT = (
    "Нерешённых дел по этим условиям больше нет: остальные взяты в работу другими экспертами "
    "или пропущены вами."
)
SECOND_LOOK = "unsure"  # «нужна повторная проверка»

router = APIRouter(dependencies=[Depends(current_user)])


@router.get("/")
def home() -> Response:
    return RedirectResponse("/queue", status_code=303)


@router.get("/queue")
def queue_page(
    request: Request,
    store: Store,
    settings: Settings,
    status: str = OPEN,
    language: str = "",
    category: str = "",
    min_score: str = "",
    q: str = "",
    page: int = 1,
    end: str = "",
) -> Response:
    return queue_response(request, store, settings, status, language, category, min_score, q, page, end)


@router.get("/second-look")
def second_look_page(request: Request, store: Store, settings: Settings, page: int = 1) -> Response:
    """The cases an expert marked «нужна повторная проверка»: their own list, counted in the menu."""
    return queue_response(request, store, settings, SECOND_LOOK, "", "", "", "", page, "", second_look=True)


def queue_response(
    request: Request,
    store: Store,
    settings: Settings,
    status: str,
    language: str,
    category: str,
    min_score: str,
    q: str,
    page: int,
    end: str,
    second_look: bool = False,
) -> Response:
    status = status if status in (*STATUSES, OPEN, "all") else OPEN
    chosen = QueueFilter(
        status="" if status == "all" else status,
        language=language[:32],
        category=category[:32],
        min_score=score_fraction(min_score),
        search=q,
    )
    result = find_cases(store, chosen, page=max(1, min(page, MAX_PAGE)), per_page=settings.per_page)
    query = {"status": status, "language": language, "category": category, "min_score": min_score, "q": q}
    place = Place.read({k: v for k, v in query.items() if v})
    return render(
        request,
        "queue.html",
        message=NOTHING_LEFT if end else "",
        second_look=second_look,
        next_fields=place.filters(),
        result=result,
        query=query,
        facets=facets(store),
        counts=store.counts(),
        shops=notable(store.shop_summaries(row["shop_id"] for row in result.rows)),
        page_url=lambda n: "/queue?" + urlencode({**{k: v for k, v in query.items() if v}, "page": n}),
    )


@router.get("/uncertain")
def uncertain_page(request: Request, store: Store, settings: Settings) -> Response:
    rows = uncertain_cases(store, settings.uncertain_limit)
    shops = notable(store.shop_summaries(row["shop_id"] for row in rows))
    return render(request, "uncertain.html", rows=rows, shops=shops)


@router.get("/next")
def next_page(
    request: Request, store: Store, settings: Settings, user: CurrentUser, after: int = 0
) -> Response:
    """The most urgent undecided case of the expert's filtered queue that no other expert is working on,
    other than those they left in this run of work (``after``, the one just left, and ``skip``); claimed
    for them for ``review.claim_minutes``. None left: the queue, with its filters, says so."""
    place = Place.read(request.query_params)
    if 0 < after <= MAX_ID:
        place = place.leaving(after)
        store.release_claim(after, user["username"])  # left: another expert's "next" may take it
    found = next_case(store, place.filter(), user["username"], settings.claim_minutes, place.skip)
    if found is None:
        return RedirectResponse(
            with_query("/queue", urlencode({**place.filters(), "end": 1})), status_code=303
        )
    return RedirectResponse(with_query(f"/cases/{found}", place.query()), status_code=303)


@router.post("/claims/release")
def release_claim(user: FormSender, store: Store, case: Annotated[int, Form()] = -1) -> Response:
    """Ends a claim: an expert's own (leaving the case to the others), or anyone's for an admin (the
    expert left without deciding, or is away), which the audit log records."""
    admin = user["role"] == "admin"
    claim = store.claim_of(case) if 0 < case <= MAX_ID else None
    mine = claim is not None and claim["expert"] == user["username"]
    if claim and (admin or mine) and store.release_claim(case) and not mine:
        store.log_audit(user["username"], "claim_released", case, {"expert": claim["expert"]})
    target = "/admin/claims" if admin else (f"/cases/{case}" if 0 < case <= MAX_ID else "/queue")
    return RedirectResponse(f"{target}?released=1", status_code=303)
