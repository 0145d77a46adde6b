"""The app's HTML: Jinja2 templates, and ``render``, which gives every page the logged-in user (for the
header) and a message line.

Every value is autoescaped, whatever the template file's extension: crawled pages are hostile, and the
templates show their text, never their markup. Undefined names fail loudly instead of rendering empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from classifier.queue import CATEGORIES, DECISIONS, STATUSES
from classifier.review import texts
from classifier.review.visible import visible

TEMPLATE_DIR = Path(__file__).parent / "templates"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,  # every value, whatever the file's extension
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        texts=texts,
        label=texts.label,
        STATUSES=STATUSES,
        DECISIONS=DECISIONS,
        CATEGORIES=CATEGORIES,
    )
    env.filters["percent"] = lambda v: "—" if v is None else f"{100 * float(v):.0f}%"
    env.filters["when"] = lambda v: (v or "")[:16].replace("T", " ")
    env.filters["visible"] = visible  # crawled or typed text: invisible characters as [U+202E]
    return env


TEMPLATES = Jinja2Templates(env=_environment())


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The template ``name`` as a response; ``user`` defaults to the session's (``dependencies``)."""
    context.setdefault("user", getattr(request.state, "user", None))
    context.setdefault("message", "")
    if context["user"] and "second_look_count" not in context:  # the menu counts the second-look cases
        context["second_look_count"] = request.app.state.store.counts().get("unsure", 0)
    context.setdefault("second_look_count", 0)
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
