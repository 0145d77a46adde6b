"""Times as the unit reads them: stored in UTC, shown in ``review.time_zone`` (params) with the zone named.

``pages`` makes them the ``when`` filter and the ``zone_note`` every page shows."""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from classifier.queue.values import now, utc

# the zones of Kazakhstan and its neighbours, in Russian; any other zone is named by its IANA key
ZONE_NAMES = {
    "Asia/Almaty": "Алматы",
    "Asia/Qostanay": "Костанай",
    "Asia/Qyzylorda": "Кызылорда",
    "Asia/Aqtobe": "Актобе",
    "Asia/Aqtau": "Актау",
    "Asia/Atyrau": "Атырау",
    "Asia/Oral": "Уральск",
    "Asia/Bishkek": "Бишкек",
    "Asia/Tashkent": "Ташкент",
    "Europe/Moscow": "Москва",
    "UTC": "UTC",
    "Etc/UTC": "UTC",
}


def local(value: datetime | str | None, where: tzinfo) -> str:
    """``YYYY-MM-DD HH:MM`` in ``where`` for a stored time (ISO string or datetime; naive is UTC)."""
    moment = utc(value)
    return "" if moment is None else moment.astimezone(where).strftime("%Y-%m-%d %H:%M")


def offset(where: tzinfo, at: datetime | None = None) -> str:
    """``UTC+5``, ``UTC−3:30`` or ``UTC`` for ``where`` at ``at`` (now by default)."""
    delta = (at or now()).astimezone(where).utcoffset()
    minutes = round(delta.total_seconds() / 60) if delta else 0
    if minutes == 0:
        return "UTC"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{'+' if minutes > 0 else '−'}{hours}" + (f":{rest:02d}" if rest else "")


def zone_note(name: str, at: datetime | None = None) -> str:
    """How the pages name the zone: ``Алматы, UTC+5``."""
    where = ZoneInfo(name)  # checked when the settings were made (``ReviewSettings``)
    label = ZONE_NAMES.get(name, name)
    shift = offset(where, at)
    return label if label == shift else f"{label}, {shift}"
