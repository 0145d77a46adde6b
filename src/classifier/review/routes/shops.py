"""A shop: its page (its pages across runs, undecided first, with why each is in the shop; identifiers,
decisions, first and last seen) and the form that decides its undecided pages at once.

The form lists the undecided pages of the list page shown, each ticked, with the version the page showed:
the expert unticks what does not belong (a page that only quotes the shop's handle), ticks the
confirmation box, and each ticked page gets its own decision; one decided meanwhile by someone else is
skipped, not overwritten, and the result lists what was decided and what was skipped, and why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from classifier.queue import CaseStore
from classifier.queue.shops import SHOP_PAGE, UNDECIDED_STATUSES
from classifier.review.dependencies import FormSender, Store, current_user
from classifier.review.pages import render

MAX_ID = 2**63 - 1  # SQLite's INTEGER and PostgreSQL's BIGINT: a larger number is no shop, not a server error
MAX_PAGE = 10**6  # no shop has that many list pages; a larger number would overflow the database's OFFSET
SHOWN = re.compile(r"(\d{1,19}):(\d{1,10})")  # a ticked page: "case id:version shown"
BULK_DECISIONS = ("confirmed", "rejected")

router = APIRouter(prefix="/shops", dependencies=[Depends(current_user)])


@router.get("/{shop_id}")
def shop_page(request: Request, store: Store, shop_id: int, page: int = 1) -> Response:
    return shop_response(request, store, shop_id, page)


@router.post("/{shop_id}/decision")
def decide_shop(
    request: Request,
    user: FormSender,
    store: Store,
    shop_id: int,
    decision: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
    cases: Annotated[list[str] | None, Form()] = None,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Decides the ticked pages and shows the shop again with the result (a repeated post decides
    nothing twice: every page it names has changed since)."""
    if not 0 < shop_id <= MAX_ID:
        return shop_response(request, store, shop_id)  # no such shop
    versions = shown_versions(cases or [])
    if versions is None or (problem := form_problem(versions, decision, confirm)):
        problem = (
            "Неверные данные формы: обновите страницу магазина и повторите." if versions is None else problem
        )
        return shop_response(request, store, shop_id, status_code=400, message=problem)
    try:
        result = store.decide_shop(shop_id, decision, user["username"], comment[:4000], versions=versions)
    except ValueError as exc:
        return shop_response(request, store, shop_id, status_code=400, message=shop_error(str(exc)))
    decided, skipped = len(result["decided"]), len(result["skipped"])
    message = f"Решение записано: решено ресурсов — {decided}, пропущено — {skipped}."
    return shop_response(request, store, shop_id, message=message, result=result)


def shop_response(
    request: Request,
    store: CaseStore,
    shop_id: int,
    page: int = 1,
    status_code: int = 200,
    message: str = "",
    result: Mapping[str, Any] | None = None,
) -> Response:
    """The shop page (404 for an unknown shop), with ``message`` and a decision's ``result`` on top."""
    page = max(1, min(page, MAX_PAGE))
    shop = store.shop(shop_id, SHOP_PAGE, (page - 1) * SHOP_PAGE) if 0 < shop_id <= MAX_ID else None
    if shop is None:
        return render(request, "error.html", 404, message="Такого магазина нет.")
    listed = {case["id"]: case for case in shop["cases"]}
    return render(
        request,
        "shop.html",
        status_code,
        shop=shop,
        identifiers=[{**identifier(key), "pages": n} for key, n in shop["identifiers"].items()],
        ticked=[case for case in shop["cases"] if case["status"] in UNDECIDED_STATUSES],
        result=result,
        listed=listed,
        page=page,
        pages=max(1, -(-shop["size"] // SHOP_PAGE)),
        page_url=lambda n: f"/shops/{shop_id}?page={n}",
        message=message,
        UNDECIDED=UNDECIDED_STATUSES,
    )


def shown_versions(values: Iterable[str]) -> dict[int, int] | None:
    """The ticked pages as {case id: version shown}; None when a value is not one the form sends, or
    there are more than a list page holds."""
    versions: dict[int, int] = {}
    for value in values:
        found = SHOWN.fullmatch(value)
        if found is None or len(versions) >= SHOP_PAGE:
            return None
        versions[int(found.group(1))] = int(found.group(2))
    return versions


def form_problem(versions: Mapping[int, int], decision: str, confirm: str) -> str:
    """What is missing from a decision on a shop, in the expert's words; empty when nothing is."""
    if not versions:
        return "Не отмечено ни одного ресурса."
    if decision not in BULK_DECISIONS:
        return "Выберите решение."
    if confirm != "yes":
        return "Отметьте, что вы просмотрели отмеченные ресурсы: решение будет записано по каждому."
    return ""


def identifier(key: str) -> dict[str, str]:
    """A bank key ``c:telegram:@x_example`` as its kind and value."""
    kind, _, value = key.removeprefix("c:").partition(":")
    return {"kind": kind, "value": value}


def notable(summaries: Mapping[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The shops worth naming next to a case: with other pages, or decided by experts."""
    return {i: s for i, s in summaries.items() if s["size"] > 1 or s["status"] != "undecided"}


def shop_error(message: str) -> str:
    """The store's reason for refusing a decision on a shop, in the expert's words."""
    if "is not confirmed" in message:
        return (
            "Магазин ещё не подтверждён: подтвердить его страницы как зеркала можно после того, "
            "как эксперт подтвердит одну из них на странице дела."
        )
    if "unknown shop" in message:
        return "Такого магазина нет."
    return "Решение не сохранено: " + message
