"""The dashboard: decisions per day, the backlog, and each model version's precision as experts found it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from classifier.queue.dashboard import dashboard
from classifier.review.dependencies import Store, current_user
from classifier.review.pages import render

router = APIRouter(dependencies=[Depends(current_user)])


@router.get("/dashboard")
def dashboard_page(request: Request, store: Store) -> Response:
    return render(request, "dashboard.html", stats=dashboard(store))
