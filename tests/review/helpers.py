"""What the review tests do with the app's pages: read their forms and lists, log in and decide through
the real forms, parse their markup, and take a snapshot of everything a request could change."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, text

from classifier.queue import CaseStore
from classifier.queue.schema import metadata
from review.cases import USERS

# -- forms --


def hidden_inputs(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))


def login(
    client: TestClient, username: str, password: str | None = None, next: str = "/queue", **headers: str
) -> Any:
    """The real login: the form's CSRF token (and its cookie), then the POST; USERS' password by default."""
    csrf = hidden_inputs(client.get("/login").text)["csrf"]
    password = USERS[username][0] if password is None else password
    form = {"username": username, "password": password, "csrf": csrf, "next": next}
    return client.post("/login", data=form, headers=headers)


def selected_category(html: str) -> dict[str, str]:
    """The decision form's category as the page pre-selects it (the model's, when it named one)."""
    found = re.search(r'<option value="(\w+)" selected>', html)
    return {"category": found.group(1)} if found else {}


def decide(client: TestClient, case_id: int, decision: str, **overrides: str) -> Any:
    """Submit the case page's decision form as shown, with ``overrides`` of its fields."""
    html = client.get(f"/cases/{case_id}").text
    form = {**hidden_inputs(html), **selected_category(html)}
    return client.post(f"/cases/{case_id}/decision", data={**form, "decision": decision, **overrides})


# -- what a page lists --


def listed_case_ids(html: str) -> list[int]:
    """The ids of the cases a page lists, in order."""
    return [int(n) for n in re.findall(r'<a class="open" href="/cases/(\d+)"', html)]


def listed(html: str, ids: dict[str, int]) -> list[str]:
    """The record ids of the cases a page lists, in order."""
    by_id = {case_id: record for record, case_id in ids.items()}
    return [by_id[case_id] for case_id in listed_case_ids(html)]


def number(pattern: str, html: str) -> int:
    found = re.search(pattern, html)
    assert found, pattern
    return int(found.group(1))


def total(html: str) -> int:
    """The number of cases the queue found."""
    return number(r"Найдено дел: (\d+)\.", html)


def row_of(html: str, case_id: int) -> str:
    """The table row that links to a case."""
    rows = [row for row in html.split("<tr>") if f'href="/cases/{case_id}"' in row]
    assert len(rows) == 1, rows
    return rows[0]


# -- the database --


def state(engine: Engine, catalogue: bool = False) -> dict[str, Any]:
    """Everything a request could change: every table's row count, cases, users, sessions; with
    ``catalogue``, the tables the database has rather than those the schema defines (slower)."""
    with engine.connect() as conn:
        tables = sorted(inspect(conn).get_table_names() if catalogue else metadata.tables)
        counts = {t: conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one() for t in tables}
        rows = {
            "case rows": "SELECT id, status, version FROM cases ORDER BY id",
            "user rows": "SELECT username, role, active FROM users ORDER BY id",
            "session rows": "SELECT token_hash FROM sessions ORDER BY token_hash",
            "last audit entry": "SELECT MAX(id) FROM audit_log",
        }
        return {"tables": tables, **counts, **{k: conn.execute(text(q)).all() for k, q in rows.items()}}


def audits(store: CaseStore, action: str) -> list[dict[str, Any]]:
    return store.audit_log(1000, action=action)


# -- markup --


class Markup(HTMLParser):
    """A page's elements with their attributes (values decoded), its text, and anything else it holds."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str]]]] = []
        self.parts: list[str] = []
        self.other: list[str] = []  # comments, declarations but the doctype, processing instructions
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, [(name, value or "") for name, value in attrs]))

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_comment(self, data: str) -> None:
        self.other.append(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        if decl.lower() != "doctype html":
            self.other.append(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.other.append(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        self.other.append(f"<![{data}]>")

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def skeleton(self) -> list[tuple[str, tuple[str, ...]]]:
        return [(tag, tuple(name for name, _ in attrs)) for tag, attrs in self.elements]

    def values(self, attribute: str) -> list[str]:
        return [v for _, attrs in self.elements for name, v in attrs if name == attribute]


def markup(html: str) -> list[tuple[str, dict[str, str]]]:
    """The page's elements, each with its attributes by name."""
    return [(tag, dict(attrs)) for tag, attrs in Markup(html).elements]


def links(html: str) -> list[str]:
    return [attrs.get("href", "") for tag, attrs in markup(html) if tag == "a"]


def assert_inert(html: str) -> None:
    """No hostile payload became markup: the raw forms are absent, the escaped forms are there.

    A bare ``onerror=`` does appear in correctly escaped text (``&lt;img src=x onerror=&#34;``), so the
    attribute forms with a real quote are what must be absent, and the parsed markup is checked too.
    """
    for raw in ("<script>window.__pwned", 'onerror="', 'onload="', 'onmouseover="', 'href="javascript:'):
        assert raw not in html
    assert "<svg" not in html and "<iframe" not in html
    assert "&lt;script&gt;window.__pwned" in html
    for tag, attrs in markup(html):
        assert tag not in ("script", "iframe", "svg", "object", "embed")
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        for name in ("href", "src", "action", "formaction"):
            assert not attrs.get(name, "").strip().lower().startswith("javascript:"), (tag, attrs)
