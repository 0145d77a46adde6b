"""SQLite and PostgreSQL behind the store (``queue/database.py``): where the two databases differ (NUL
characters, case folding, time zones, NULL order) the store behaves the same on both; opening a store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from classifier import queue
from classifier.queue import CaseStore
from classifier.queue.dashboard import dashboard
from classifier.queue.views import QueueFilter, facets, find_cases
from scored_rows import scored, utc_now


def test_nul_characters_anywhere_in_a_row_do_not_fail_the_batch(store: CaseStore) -> None:
    """Crawled pages carry NUL characters, which PostgreSQL refuses in text: they are dropped from text
    columns (JSON keeps them escaped as \\u0000, which PostgreSQL's json type accepts)."""
    nul = scored(
        "r\x001",
        "https://shop.kz/a\x00b",
        run_id="run\x00-1",
        title="ti\x00tle",
        excerpt="ex\x00cerpt",
        text="Закладки\x00 по городу",
        domain="shop\x00.kz",
        language="r\x00u",
        category="sa\x00le",
        cluster_id="k\x001",
        model_name="m\x00",
        model_version="3\x00",
        evidence=[{"term": "закладки", "weight": 1.0, "sentence": "a\x00b"}],
        contacts={"telegram": ["@a\x00b"]},
    )
    error = scored("r2", "https://down.kz/", status="error", error="fetch \x00failed")
    assert store.add_scored([nul, error]) == 2
    case = store.case(store.cases()[0]["id"])
    assert case is not None
    assert (case["url"], case["title"], case["excerpt"], case["domain"]) == (
        "https://shop.kz/ab",
        "title",
        "excerpt",
        "shop.kz",
    )
    assert (case["text"], case["language"], case["category"]) == ("Закладки по городу", "ru", "sale")
    assert (case["cluster_id"], case["model_version"]) == ("k1", "3")
    assert case["evidence"][0]["sentence"] == "a\x00b" and case["contacts"]["telegram"] == ["@a\x00b"]
    assert [(s["record_id"], s["run_id"], s["category"]) for s in case["scores"]] == [("r1", "run-1", "sale")]
    assert store.cases()[1]["last_error"] == "fetch failed"
    store.record_decision(case["id"], "confirmed", "expert-1", "ко\x00мментарий")
    assert store.case(case["id"])["decisions"][0]["comment"] == "комментарий"  # type: ignore[index]


def test_nul_characters_in_filters_and_names_match_what_was_stored(store: CaseStore) -> None:
    from classifier.queue.accounts import Accounts

    store.add_scored([scored("r1", "https://shop.kz/", title="Магазин")])
    found = find_cases(store, QueueFilter(search="маг\x00азин", language="r\x00u", category="sa\x00le"))
    assert [row["url"] for row in found.rows] == ["https://shop.kz/"] and found.total == 1
    store.log_audit("ex\x00pert", "vi\x00ew", detail={"note": "a\x00b"})
    assert [e["actor"] for e in store.audit_log(actor="ex\x00pert", action="vi\x00ew")] == ["expert"]
    assert store.count_audit(actor="ex\x00pert") == 1
    accounts = Accounts(store)
    assert accounts.authenticate("bo\x00ris", "any-password-1") is None  # a failed login, not an error
    [failed] = store.audit_log(action="login_failed")
    assert (failed["actor"], failed["detail"]["username"]) == ("?", "boris")


def test_search_ignores_case_in_cyrillic_and_kazakh_and_takes_wildcards_literally(store: CaseStore) -> None:
    # SQLite's lower() knows A-Z only (the store gives it Python's); PostgreSQL's follows the locale
    store.add_scored(
        [
            scored("r1", "https://a.kz/", title="Жұмыс бар: 100% курьер_ам", excerpt=""),
            scored("r2", "https://b.kz/", title="Жумыс и 100 курьерам", excerpt=""),
        ]
    )

    def found(query: str) -> list[str]:
        return [row["url"] for row in find_cases(store, QueueFilter(search=query)).rows]

    assert found("ЖҰМЫС") == ["https://a.kz/"] and found("жумыс") == ["https://b.kz/"]
    assert found("КУРЬЕР") == ["https://a.kz/", "https://b.kz/"]
    assert found("0%") == found("р_а") == found("_") == ["https://a.kz/"]
    assert found("\\") == found("0%%") == []


def test_times_with_any_offset_are_compared_and_returned_in_utc(store: CaseStore) -> None:
    # wall-clock order differs from the real order: 12:00+05:00 is 07:00Z, 10:30+03:00 is 07:30Z
    store.start_run("run-1", model_name="m", model_version="1", started_at="2024-05-01T12:00:00+05:00")
    store.add_scored([scored("r1", "https://shop.kz/", score=0.3, scored_at="2024-05-01T12:00:00+05:00")])
    store.add_scored(
        [scored("r2", "https://shop.kz/", run_id="run-2", score=0.8, scored_at="2024-05-01T08:00:00")]
    )  # no offset: UTC
    store.add_scored(
        [scored("r3", "https://shop.kz/", run_id="run-3", score=0.1, scored_at="2024-05-01T10:30:00+03:00")]
    )
    (case,) = store.cases()
    assert (case["score"], case["last_run_id"]) == (0.8, "run-2")  # the newest report, in real time
    assert case["first_seen"] == "2024-05-01T07:00:00+00:00"
    assert case["last_seen"] == "2024-05-01T08:00:00+00:00"
    history = store.case(case["id"])["scores"]  # type: ignore[index]
    assert [(s["record_id"], s["scored_at"]) for s in history] == [
        ("r1", "2024-05-01T07:00:00+00:00"),
        ("r3", "2024-05-01T07:30:00+00:00"),
        ("r2", "2024-05-01T08:00:00+00:00"),
    ]
    assert store.runs()[-1]["started_at"] == "2024-05-01T07:00:00+00:00"
    decided = store.record_decision(case["id"], "unsure", "expert-1")
    assert decided["decided_at"].endswith("+00:00")
    assert store.count_audit(since=utc_now() - timedelta(minutes=5)) == 1
    assert store.count_audit(since=utc_now() + timedelta(minutes=5)) == 0


def test_url_paths_keep_their_case_and_hosts_do_not(store: CaseStore) -> None:
    store.add_scored(
        [
            scored("r1", "https://Shop.kz/Path"),
            scored("r2", "https://shop.kz/path"),
            scored("r3", "https://SHOP.KZ/Path"),
        ]
    )
    by_key = {c["case_key"]: c["report_count"] for c in store.cases()}
    assert by_key == {"https://shop.kz/Path": 2, "https://shop.kz/path": 1}


def test_ties_are_ordered_the_same_way_on_every_database(store: CaseStore) -> None:
    categories = {
        "t3": None,
        "t1": "sale",
        "t2": None,
        "t4": "recruitment",
        "t5": "sale",
        "t6": "recruitment",
    }
    store.add_scored(
        [
            scored(record, f"https://{record}.kz/", score=0.5, priority=0.5, category=category)
            for record, category in categories.items()
        ]
        + [scored("late", "https://late.kz/", score=0.9, priority=None, language="kk")]
    )
    cases = store.cases()
    ties = [c["id"] for c in cases[:6]]
    assert ties == sorted(ties)  # equal priority and score: the oldest case first
    assert cases[-1]["url"] == "https://late.kz/"  # no priority: after every case with one
    assert facets(store) == {"languages": ["kk", "ru"], "categories": ["recruitment", "sale"]}
    # the backlog by category: most cases first, equal counts by name, uncategorised last (SQLite sorts
    # NULL first, PostgreSQL last, unless told)
    backlog = [(row["category"], row["n"]) for row in dashboard(store)["backlog"]]
    assert backlog == [("sale", 3), ("recruitment", 2), (None, 2)]


# --- opening a store ---------------------------------------------------------------------------------


def test_url_hides_the_password(store: CaseStore, backend: str) -> None:
    url = "postgresql+psycopg://police:s3cret@db.local:5432/queue"
    assert queue.masked_url(url) == "postgresql+psycopg://police:***@db.local:5432/queue"
    assert store.dialect == backend and store.url.startswith(backend)
    if backend == "sqlite":
        assert store.url.endswith("queue.db")
    else:  # the test server's real password
        assert store.engine.url.password and store.engine.url.password not in store.url
        assert ":***@" in store.url
    assert repr(store) == f"CaseStore({store.url!r})"


def test_sqlite_store_creates_its_directory_and_enables_wal(tmp_path: Path) -> None:
    # SQLite only: a file path and pragmas
    path = tmp_path / "nested" / "dir" / "queue.db"
    with CaseStore(f"sqlite:///{path}") as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert path.exists()
    with CaseStore(f"sqlite:///{path}") as store:  # reopening an existing store
        assert store.counts()["new"] == 0


def test_the_default_store_is_the_project_queue_db() -> None:
    assert str(queue.database.QUEUE_DB).endswith("data/queue.db")


def test_an_unreachable_database_is_a_clear_error_without_the_password() -> None:
    # without the optional driver: how to install it; with it: the connection failure (port 1 is closed)
    with pytest.raises(ValueError, match=r"psycopg is not installed|cannot open the case store") as error:
        CaseStore("postgresql+psycopg://expert:secret@127.0.0.1:1/cases")
    assert "secret" not in str(error.value)
