"""The app's HTML: Jinja2 templates, and ``render``, which gives every page the logged-in user (for the
header), a message line, and the time zone the ``when`` filter shows times in (``times``).

Every value is autoescaped, whatever the template file's extension: crawled pages are hostile, and the
templates show their text, never their markup. Undefined names fail loudly instead of rendering empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from classifier.common.config import ReviewSettings
from classifier.queue import CATEGORIES, DECISIONS, STATUSES
from classifier.review import texts, times
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
    env.filters["percent"] = percent
    env.filters["when"] = _when
    env.filters["visible"] = visible  # crawled or typed text: invisible characters as [U+202E]
    return env


def percent(value: Any) -> str:
    """A share as experts read it: whole percents in the middle, one decimal near the ends, and never
    0% or 100% unless exactly so (0.999 is «99,9%», 0.9996 «>99,9%», 0.0004 «<0,1%»); Russian commas."""
    if value is None:
        return "—"
    share = 100 * float(value)
    if share in (0.0, 100.0) or 1 <= share <= 99:
        return f"{share:.0f}%"
    if share < 0.05:
        return "<0,1%"
    if share >= 99.95:
        return ">99,9%"
    return f"{share:.1f}%".replace(".", ",")


@pass_context
def _when(context: Context, value: Any) -> str:
    """A stored (UTC) time in the unit's zone, ``render``'s ``time_zone``."""
    return times.local(value, ZoneInfo(context.get("time_zone") or DEFAULT_TIME_ZONE))


TEMPLATES = Jinja2Templates(env=_environment())
DEFAULT_TIME_ZONE = ReviewSettings().time_zone


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """The template ``name`` as a response; ``user`` defaults to the session's (``dependencies``)."""
    context.setdefault("user", getattr(request.state, "user", None))
    context.setdefault("message", "")
    # how the message line reads: a refusal ("error"), something done ("done"), or a remark ("note")
    context.setdefault("tone", "error" if status_code >= 400 else "done")
    settings = getattr(request.app.state, "settings", None)
    context.setdefault("time_zone", getattr(settings, "time_zone", DEFAULT_TIME_ZONE))
    context.setdefault("zone_note", times.zone_note(context["time_zone"]))  # «Алматы, UTC+5»
    if context["user"] and "second_look_count" not in context:  # the menu counts the second-look cases
        context["second_look_count"] = request.app.state.store.counts().get("unsure", 0)
    context.setdefault("second_look_count", 0)
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
