"""Times in the unit's zone (``review.time_zone``, ``times``), with the zone named on every page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from classifier.common.config import ReviewSettings, load_settings
from classifier.review import times
from review.cases import SCORED_AT


def test_a_stored_utc_time_is_shown_in_the_zone() -> None:
    almaty = ZoneInfo("Asia/Almaty")
    assert times.local("2026-12-04T08:13:00+00:00", almaty) == "2026-12-04 13:13"
    assert times.local("2026-12-04T08:13:00", almaty) == "2026-12-04 13:13"  # naive (SQLite): UTC
    assert times.local(datetime(2026, 12, 4, 22, 0, tzinfo=UTC), almaty) == "2026-12-05 03:00"
    assert times.local(None, almaty) == times.local("", almaty) == ""


def test_the_zone_is_named_in_russian_with_its_offset() -> None:
    winter = datetime(2026, 12, 4, tzinfo=UTC)
    assert times.zone_note("Asia/Almaty", winter) == "Алматы, UTC+5"
    assert times.zone_note("UTC", winter) == "UTC"
    assert times.zone_note("Asia/Kolkata", winter) == "Asia/Kolkata, UTC+5:30"
    assert times.zone_note("America/St_Johns", winter) == "America/St_Johns, UTC−3:30"


def test_the_time_zone_setting_is_checked_when_settings_load() -> None:
    assert ReviewSettings().time_zone == load_settings().review.time_zone == "Asia/Almaty"
    with pytest.raises(ValueError, match=re.escape("review.time_zone: unknown time zone 'Asia/Almatty'")):
        load_settings(None, ["review.time_zone=Asia/Almatty"])
    with pytest.raises(ValueError, match=re.escape("review.time_zone")):
        ReviewSettings(time_zone="../etc/passwd")


def test_pages_show_times_in_the_unit_zone_and_name_it(
    view_as: Callable[..., TestClient],
    make_app: Callable[..., FastAPI],
    open_as: Callable[..., TestClient],
    ids: dict[str, int],
) -> None:
    scored = datetime.fromisoformat(SCORED_AT)
    in_almaty = scored.astimezone(ZoneInfo("Asia/Almaty")).strftime("%Y-%m-%d %H:%M")
    in_utc = scored.strftime("%Y-%m-%d %H:%M")
    page = view_as("boris").get(f"/cases/{ids['sale-1']}").text
    assert in_almaty in page and in_utc not in page
    assert "Время указано по часовому поясу: Алматы, UTC+5." in page
    assert "Алматы" in view_as().get("/login").text  # every page, the login form too

    page = open_as("boris", on=make_app(time_zone="UTC")).get(f"/cases/{ids['sale-1']}").text
    assert in_utc in page and in_almaty not in page
    assert "Время указано по часовому поясу: UTC." in page
