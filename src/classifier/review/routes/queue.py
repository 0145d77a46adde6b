"""The queue of cases for experts: filtered and paged, the uncertain ones, and the next case to decide."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from classifier.queue import STATUSES
from classifier.queue.views import OPEN, QueueFilter, facets, find_cases, uncertain_cases
from classifier.review.dependencies import Settings, Store, current_user
from classifier.review.pages import render
from classifier.review.routes.shops import notable

MAX_PAGE = 10**6  # no queue has that many pages; a larger number would overflow the database's OFFSET

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
    return render(
        request,
        "queue.html",
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
def next_case(store: Store, after: int = 0) -> Response:
    """The most urgent undecided case other than the one just decided: experts work down the queue."""
    for row in find_cases(store, QueueFilter(status=OPEN), page=1, per_page=2).rows:
        if row["id"] != after:
            return RedirectResponse(f"/cases/{row['id']}", status_code=303)
    return RedirectResponse("/queue", status_code=303)


def score_fraction(value: str) -> float | None:
    """The queue's minimum score as a fraction. The field is in percent ("70", "70%", "0.5%"); a decimal
    fraction up to 1 without a percent sign ("0.7") is read as a fraction."""
    text = (value or "").strip().replace(",", ".")
    percent = text.endswith("%")
    text = text.rstrip("%").strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    if number != number:
        return None
    if percent or "." not in text or number > 1:
        number /= 100
    return min(max(number, 0.0), 1.0)
