"""The queue of cases for experts: filtered (by default the open cases the model flagged), sortable and
paged, the uncertain ones, the cases marked for a second look, the next case to decide, which "next"
claims for the expert (``queue/claims.py``), and for admins the filtered queue as a CSV file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import tzinfo
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from classifier.queue.views import (
    CLEARED,
    FLAGGED,
    OPEN,
    count_cases,
    decided_experts,
    facets,
    find_cases,
    next_case,
    queue_rows,
    status_counts,
    uncertain_cases,
)
from classifier.review import texts, times
from classifier.review.dependencies import (
    CurrentUser,
    FormSender,
    Settings,
    Store,
    current_user,
    require_admin,
)
from classifier.review.downloads import csv_download
from classifier.review.navigation import ALL, Place, with_query
from classifier.review.pages import render
from classifier.review.routes.shops import notable

MAX_PAGE = 10**6  # no queue has that many pages; a larger number would overflow the database's OFFSET
MAX_ID = 2**63 - 1
NOTHING_LEFT = (
    "Нерешённых дел по этим условиям больше нет: остальные взяты в работу другими экспертами "
    "или пропущены вами."
)
SECOND_LOOK = "unsure"  # «нужна повторная проверка»
# a column's first click: the largest scores, the most copies and the latest dates first; statuses in order
FIRST_ORDER = {"score": "desc", "first_seen": "desc", "last_seen": "desc", "copies": "desc", "status": "asc"}

router = APIRouter(dependencies=[Depends(current_user)])


@router.get("/")
def home() -> Response:
    return RedirectResponse("/queue", status_code=303)


def typed_place(
    status: str = OPEN,
    flagged: str = "",
    language: str = "",
    category: str = "",
    min_score: str = "",
    q: str = "",
    seen_from: str = "",
    seen_to: str = "",
    expert: str = "",
    sort: str = "",
    order: str = "",
) -> Place:
    """The queue's filters and order as the query string gives them: the page's and its CSV export's."""
    typed = {
        **{"status": status, "flagged": flagged, "language": language, "category": category},
        **{"min_score": min_score, "q": q, "seen_from": seen_from, "seen_to": seen_to, "expert": expert},
        **{"sort": sort, "order": order},
    }
    return Place.read(typed)


QueuePlace = Annotated[Place, Depends(typed_place)]


@router.get("/queue")
def queue_page(
    request: Request,
    store: Store,
    settings: Settings,
    place: QueuePlace,
    page: int = 1,
    end: str = "",
    decided: int = 0,
) -> Response:
    """The queue as filtered (by default: the open cases the model flagged, most urgent first), sorted
    by a column when asked; what it could not read of the filters is said above the table. ``end``:
    "next" found nothing left; ``decided``: it was asked for right after a decision on that case."""
    return queue_response(request, store, settings, place, page, end, decided=decided)


@router.get("/second-look")
def second_look_page(request: Request, store: Store, settings: Settings, page: int = 1) -> Response:
    """The cases an expert marked «нужна повторная проверка»: their own list, counted in the menu."""
    return queue_response(request, store, settings, Place(status=SECOND_LOOK, flagged=ALL), page, "", True)


def queue_response(
    request: Request,
    store: Store,
    settings: Settings,
    place: Place,
    page: int,
    end: str,
    second_look: bool = False,
    decided: int = 0,
) -> Response:
    zone = ZoneInfo(settings.time_zone)
    chosen = place.filter(zone)
    result = find_cases(
        store,
        chosen,
        page=max(1, min(page, MAX_PAGE)),
        per_page=settings.per_page,
        sort=place.sort,
        descending=place.order == "desc",
    )
    problems = place.problems()
    if result.asked > result.page:
        problems.append(
            f"Страницы {result.asked} нет: последняя по этим условиям — {result.page}-я, она и показана."
        )
    filters = place.filters()
    unsorted = {k: v for k, v in filters.items() if k not in ("sort", "order")}
    # one click to the cases the flag filter leaves out, with how many there are
    other_flag = {FLAGGED: CLEARED, CLEARED: FLAGGED}.get(place.flagged, "")
    others = count_cases(store, replace(place, flagged=other_flag).filter(zone)) if other_flag else 0
    return render(
        request,
        "queue.html",
        message=" ".join(filter(None, (saved_note(decided), NOTHING_LEFT if end else ""))),
        tone="note",
        problems=problems,
        second_look=second_look,
        next_fields=filters,
        result=result,
        query=place,
        facets=facets(store),
        experts=decided_experts(store),
        counts=status_counts(store, chosen),
        other_flag=other_flag,
        others=others,
        others_text=_others_text(others, other_flag),
        shops=notable(store.shop_summaries(row["shop_id"] for row in result.rows)),
        page_url=lambda n: with_query("/queue", urlencode({**filters, "page": n})),
        flag_url=lambda choice: _queue_url(place, flagged=choice),
        sort_url=lambda column: _queue_url(place, sort=column, order=_next_order(place, column)),
        unsorted_url=with_query("/queue", urlencode(unsorted)),
        export_url=with_query("/admin/queue.csv", urlencode(filters)),
    )


def _queue_url(place: Place, **changes: str) -> str:
    """The queue with ``changes`` to its filters or order, from its first page."""
    return with_query("/queue", urlencode(replace(place, **changes).filters()))


def _others_text(n: int, flag: str) -> str:
    """«ещё 21 дело, не отмеченное моделью», «ещё 3 дела, отмеченных моделью или не оценённых»."""
    noun = texts.plural(n, "дело", "дела", "дел")
    one = noun == "дело"
    if flag == CLEARED:
        return f"ещё {n} {noun}, {'не отмеченное' if one else 'не отмеченных'} моделью"
    return f"ещё {n} {noun}, {'отмеченное' if one else 'отмеченных'} моделью или без оценки"


def _next_order(place: Place, column: str) -> str:
    """A click on the sorted column turns its order round; on another, sorts it its natural way."""
    if place.sort == column:
        return "asc" if place.order == "desc" else "desc"
    return FIRST_ORDER[column]


@router.get("/uncertain")
def uncertain_page(request: Request, store: Store, settings: Settings) -> Response:
    rows = uncertain_cases(store, settings.uncertain_limit)
    shops = notable(store.shop_summaries(row["shop_id"] for row in rows))
    return render(request, "uncertain.html", rows=rows, shops=shops)


@router.get("/next")
def next_page(
    request: Request, store: Store, settings: Settings, user: CurrentUser, after: int = 0, decided: int = 0
) -> Response:
    """The most urgent undecided case of the expert's filtered queue that no other expert is working on,
    other than those they left in this run of work (``after``, the one just left, and ``skip``); claimed
    for them for ``review.claim_minutes``. None left: the queue, with its filters, says so. ``decided``:
    the expert comes from a decision on that case, which the page then confirms."""
    place = Place.read(request.query_params)
    if 0 < after <= MAX_ID:
        place = place.leaving(after)
        store.release_claim(after, user["username"])  # left: another expert's "next" may take it
    # the queue's filters, flag included, but always its priority order: the table's sort is for reading
    zone = ZoneInfo(settings.time_zone)
    found = next_case(store, place.filter(zone), user["username"], settings.claim_minutes, place.skip)
    done = {"decided": decided} if 0 < decided <= MAX_ID else {}
    if found is None:
        return RedirectResponse(
            with_query("/queue", urlencode({**place.filters(), "end": 1, **done})), status_code=303
        )
    target = with_query(f"/cases/{found}", place.query())
    return RedirectResponse(with_query(target, urlencode(done)), status_code=303)


def saved_note(decided: int) -> str:
    """What the page after "decide, then next" says of the decision just recorded."""
    return f"Решение по делу {decided} записано." if 0 < decided <= MAX_ID else ""


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


# -- the queue as a CSV file, for admins --

EXPORT_HEADER = (
    "Дело",
    "Адрес",
    "Заголовок",
    "Вероятность нарушения, %",
    "Отмечено моделью",
    "Категория",
    "Язык",
    "Статус",
    "Впервые ({zone})",
    "Последний раз ({zone})",
    "Последнее решение",
    "Эксперт",
    "Время решения ({zone})",
)


@router.get("/admin/queue.csv", dependencies=[Depends(require_admin)])
def queue_export(store: Store, settings: Settings, user: CurrentUser, place: QueuePlace) -> Response:
    """Every case of the queue as filtered and sorted, as a CSV file for a spreadsheet (``downloads``),
    for admins only (under /admin/, as every admin-only route); the export is written to the audit log.

    The filters are the queue page's, read as the page reads them (``typed_place``)."""
    zone = ZoneInfo(settings.time_zone)
    rows = queue_rows(store, place.filter(zone), sort=place.sort, descending=place.order == "desc")
    filters = {"status": place.status, "flagged": place.flagged, **place.filters()}
    store.log_audit(user["username"], "export", None, {"filters": filters, "rows": len(rows)})
    note = times.zone_note(settings.time_zone)
    header = [name.format(zone=note) for name in EXPORT_HEADER]
    return csv_download("queue.csv", header, _export_cells(rows, zone))


def _export_cells(rows: list[dict[str, Any]], zone: tzinfo) -> Iterator[list[Any]]:
    """Cells as people read them: Russian words, percents with a decimal comma, times in the unit's zone."""
    for row in rows:
        score = row["score"]
        flagged = "нет оценки" if score is None else "да" if score >= row["threshold"] else "нет"
        yield [
            row["id"],
            row["url"],
            row["title"],
            "" if score is None else f"{100 * score:.1f}".replace(".", ","),  # Excel's Russian decimal comma
            flagged,
            texts.label(texts.CATEGORY, row["category"]),
            texts.label(texts.LANGUAGE, row["language"]),
            texts.label(texts.STATUS, row["status"]),
            times.local(row["first_seen"], zone),
            times.local(row["last_seen"], zone),
            texts.label(texts.DECISION, row["last_decision"]) if row["last_decision"] else "",
            row["last_expert"] or "",
            times.local(row["last_decided_at"], zone),
        ]
