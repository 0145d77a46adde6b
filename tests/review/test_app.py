"""The app as a whole (``app.py``, ``errors.py``, ``security.py``): the headers and statuses of every kind of
response, no API docs, and crawled URLs never becoming links on any page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from review.cases import review_rows
from review.helpers import links


def _responses(view_as: Callable[..., TestClient], ids: dict[str, int]) -> dict[str, Any]:
    anonymous, expert = view_as(), view_as("boris")
    return {
        "login": anonymous.get("/login"),
        "redirect": anonymous.get("/queue"),
        "refused post": anonymous.post("/logout"),
        "queue": expert.get("/queue"),
        "case": expert.get(f"/cases/{ids['sale-1']}"),
        "unknown case": expert.get("/cases/999999"),
        "forbidden": expert.get("/admin/audit"),
        "health": anonymous.get("/healthz"),
        "stylesheet": anonymous.get("/static/app.css"),
    }


def test_every_response_carries_the_security_headers(
    view_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    for name, response in _responses(view_as, ids).items():
        csp = response.headers.get("content-security-policy", "")
        directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
        assert directives.get("default-src") == ["'none'"], name
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, name
        assert directives.get("script-src", ["'none'"]) == ["'none'"], name
        assert directives.get("frame-ancestors") == ["'none'"], name
        assert response.headers.get("x-frame-options") == "DENY", name
        assert response.headers.get("x-content-type-options") == "nosniff", name
        if name != "stylesheet":
            assert response.headers.get("cache-control") == "no-store", name


def test_pages_and_statuses_are_the_expected_ones(
    view_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    statuses = {name: r.status_code for name, r in _responses(view_as, ids).items()}
    assert statuses == {
        "login": 200,
        "redirect": 303,
        "refused post": 401,
        "queue": 200,
        "case": 200,
        "unknown case": 404,
        "forbidden": 403,
        "health": 200,
        "stylesheet": 200,
    }


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"])
def test_api_docs_are_not_served(path: str, view_as: Callable[..., TestClient]) -> None:
    assert view_as("anna").get(path).status_code == 404


@pytest.mark.parametrize("page", ["/queue?status=all", "/cases/{hostile}", "/cases/{sale}", "/uncertain"])
def test_case_urls_are_never_links(
    page: str, view_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    html = view_as("boris").get(page.format(hostile=ids["hostile-1"], sale=ids["sale-1"])).text
    urls = {row["url"] for row in review_rows()}
    hrefs = links(html)
    assert hrefs
    assert not urls & set(hrefs)
    for href in hrefs:
        assert href.startswith("/") and not href.startswith("//"), href
