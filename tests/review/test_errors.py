"""The router's refusals as the app's Russian pages (404, 405), a 500 as a page too, and HEAD answered
wherever GET is (``errors``, ``app.with_head``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient


@pytest.mark.parametrize("who", [None, "boris"])
def test_an_unknown_address_is_a_russian_page_not_json(
    who: str | None, view_as: Callable[..., TestClient]
) -> None:
    response = view_as(who).get("/no-such-page")
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")
    assert "Такой страницы нет." in response.text and "Not Found" not in response.text
    assert ('href="/dashboard"' in response.text) == (who == "boris")  # the menu of whoever is logged in


def test_a_method_an_address_does_not_take_is_a_russian_page_with_allow(
    view_as: Callable[..., TestClient],
) -> None:
    response = view_as("boris").request("PUT", "/queue")
    assert response.status_code == 405 and set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}
    assert (
        "Этот адрес не принимает такой запрос." in response.text and "Method Not Allowed" not in response.text
    )


def test_head_is_answered_wherever_get_is(
    shared_app: FastAPI, view_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    expert, anonymous = view_as("boris"), view_as()
    for path in ("/queue", f"/cases/{ids['sale-1']}", "/uncertain", "/dashboard", "/second-look"):
        got, head = expert.get(path), expert.head(path)
        assert (head.status_code, head.content) == (got.status_code, b""), path
        assert head.headers["content-type"] == got.headers["content-type"], path
    assert anonymous.head("/login").status_code == anonymous.head("/healthz").status_code == 200
    assert anonymous.head("/queue").status_code == 303  # to the login form, as GET
    gets = [r for r in iter_route_contexts(shared_app.routes) if "GET" in (r.methods or ())]
    assert len(gets) > 10 and all("HEAD" in r.methods for r in gets), [r.path for r in gets]


def test_a_server_error_is_the_apps_page(
    make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient]
) -> None:
    app = make_app()

    def broken() -> None:
        raise RuntimeError("a secret detail")

    app.add_api_route("/broken", broken)
    response = open_as(on=app).get("/broken")
    assert response.status_code == 500 and response.headers["content-type"].startswith("text/html")
    assert "Внутренняя ошибка" in response.text and "secret" not in response.text
    assert response.headers["content-security-policy"]
