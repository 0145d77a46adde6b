"""The review app in a real browser: Debian's Chromium, driven by Playwright, against ``classifier review``.

A user made with `classifier users add` logs in, confirms a case and finds it in the audit trail; an expert
confirms a page as a mirror of its shop, then the shop's other pages at once; a hostile page's script, event
handlers and ``javascript:`` URL stay inert text; screenshots at a laptop's 1366x768.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright

from classifier.queue import CaseStore
from databases import backend_params, fresh_database  # tests/ is on sys.path
from review.cases import USERS, XSS_TEXT, XSS_TITLE, XSS_URL, review_rows
from review.server import CLI_USER, ReviewServer, running_review_server

CHROMIUM = Path("/usr/bin/chromium")
# the machine has no network: these keep Chromium from trying its own background connections
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1366, "height": 768}
THEN_NEXT = "после решения сразу открыть следующее дело"  # the decision form's checkbox
# the servers believe X-Forwarded-For from loopback: each context can then be a client at its own address
TRUSTING_THE_TESTS = '  trusted_proxies: ["127.0.0.1"]'


def client_at(address: str) -> dict[str, Any]:
    """``new_context`` options for a browser at ``address`` (as the deployment's proxy would say)."""
    return {"extra_http_headers": {"X-Forwarded-For": address}}


TIMEOUT_MS = 60_000
# assertions wait as long as actions: these bounds catch a hang, never measure speed (5 s by default)
expect.set_options(timeout=TIMEOUT_MS)

# what the hostile page's fields must never become in the DOM
FOUND_HANDLERS = """() => [...document.querySelectorAll('*')].flatMap(el =>
    [...el.attributes].filter(a => a.name.toLowerCase().startsWith('on')).map(a => `${el.tagName} ${a.name}`))"""
FOUND_SCRIPT_LINKS = """() => [...document.querySelectorAll('a[href]')]
    .map(a => a.getAttribute('href')).filter(h => h.trim().toLowerCase().startsWith('javascript:'))"""
ACTIVE_ELEMENTS = "script, iframe, svg, img, object, embed"  # the app itself uses none of these


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set: CI must run them)")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module", params=backend_params())
def server(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ReviewServer]:
    """``classifier review`` over the test store on each database, with the CLI-made account ``dina``;
    its clients' addresses are what a browser context says in ``X-Forwarded-For`` (``CLIENT_AT``), as
    behind the TLS proxy of a deployment, so that tests can log in from several places.

    Depends on ``browser`` so that without Chromium the tests skip before starting a server.
    """
    folder = tmp_path_factory.mktemp("review-app")
    with (
        fresh_database(request.param, folder) as db_url,
        running_review_server(folder, db_url, review=TRUSTING_THE_TESTS) as running,
    ):
        yield running


@pytest.fixture()
def new_context(browser: Browser) -> Iterator[Any]:
    """Fresh browser contexts (own cookies) at a laptop's screen size, closed after the test."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        context = browser.new_context(viewport=LAPTOP, locale="ru-RU", **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def log_in(page: Page, server: ReviewServer, username: str, password: str, path: str = "/queue") -> None:
    """Open ``path`` logged out, get sent to the login form, log in and land back on ``path``."""
    page.goto(server.url(path))
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_role("heading", name="Вход")).to_be_visible()
    page.get_by_label("Имя пользователя").fill(username)
    page.get_by_label("Пароль", exact=True).fill(password)
    page.get_by_role("button", name="Войти").click()
    expect(page).to_have_url(server.url(path))
    expect(page.locator(".who")).to_contain_text(username)


def test_a_cli_made_user_logs_in_confirms_a_case_and_finds_it_in_the_audit_log(
    server: ReviewServer, new_context: Any
) -> None:
    name, password, _ = CLI_USER  # made by `classifier users add --role admin`, like the README says
    page = new_context().new_page()
    log_in(page, server, name, password)
    expect(page.locator(".who")).to_have_text(f"{name} (администратор)")

    rows = page.locator("table.cases tbody tr")
    expect(page.locator("table.cases")).to_be_visible()
    expect(rows.first.locator("a.open")).to_be_visible()
    assert rows.count() > 1
    first = rows.first.locator("a.open")
    href = first.get_attribute("href") or ""
    case_id = int(href.rsplit("/", 1)[-1])
    assert case_id == server.ids["hostile-1"]  # score 0.99: the most urgent case of the test store

    first.click()
    expect(page).to_have_url(server.url(f"/cases/{case_id}"))
    expect(page.locator("#case-status")).to_have_text("новое")
    expect(page.get_by_label(THEN_NEXT)).to_be_checked()  # by default a decision opens the next case
    page.get_by_label(THEN_NEXT).uncheck()  # this time: stay, and see it recorded
    page.get_by_role("button", name="Подтвердить нарушение (блокировать)").click()

    expect(page).to_have_url(server.url(f"/cases/{case_id}?saved=1"))
    expect(page.get_by_label(THEN_NEXT)).not_to_be_checked()  # the choice to stay holds on this page
    expect(page.get_by_role("status")).to_have_text("Решение сохранено.")
    expect(page.locator("#case-status")).to_have_text("нарушение подтверждено")
    expect(page.locator("ul.decisions li")).to_contain_text(f"{name}: нарушение подтверждено")

    page.goto(server.url("/queue?status=confirmed"))
    expect(page.locator(f'table.cases a.open[href="/cases/{case_id}"]')).to_be_visible()

    admin_page = page
    page.get_by_role("link", name="Журнал действий").click()
    expect(page).to_have_url(server.url("/admin/audit"))
    decisions = admin_page.locator("table.audit tbody tr").filter(
        has=admin_page.locator(f'a[href="/cases/{case_id}"]')
    )
    expect(decisions).to_have_count(1)
    cells = decisions.locator("td")
    expect(cells.nth(1)).to_have_text(name)
    expect(cells.nth(2)).to_have_text("решение")
    expect(cells.nth(4)).to_contain_text("нарушение подтверждено")
    expect(cells.nth(4)).to_contain_text("статус дела: новое → нарушение подтверждено")
    # the account itself was made by `classifier users add`, which the audit trail records too
    added = admin_page.locator("table.audit tbody tr").filter(has_text="добавлен пользователь")
    expect(added.filter(has_text=f"учётная запись: {name}; роль: администратор")).to_have_count(1)
    expect(added.locator("td").nth(1)).to_have_text("командная строка")  # `--by` left at its default


def test_an_expert_confirms_a_mirror_then_the_rest_of_its_shop_at_once(
    server: ReviewServer, new_context: Any
) -> None:
    """vera confirmed sale-1 on its own; boris confirms sale-2 as a mirror of its shop in one action, then
    on the shop page unticks a page he doubts and confirms the rest, one of which vera decided meanwhile."""
    ids = dict(server.ids)
    with CaseStore(server.db_url) as store:
        sale = review_rows(0)[1]  # two more pages of the same duplicate group: the same shop
        store.add_scored(
            [
                {
                    **sale,
                    "id": f"sale-{n}",
                    "url": f"https://snow-{n}.example/",
                    "title": f"Страница sale-{n}",
                }
                for n in (4, 5)
            ]
        )
        ids |= {
            c["title"].split()[-1]: c["id"]
            for c in store.cases(limit=1000)
            if c["title"] in {"Страница sale-4", "Страница sale-5"}
        }
        store.record_decision(ids["sale-1"], "confirmed", "vera", category="sale")
        shop = store.case(ids["sale-2"])["shop_id"]  # type: ignore[index]
    page = new_context().new_page()
    log_in(page, server, "boris", USERS["boris"][0], f"/cases/{ids['sale-2']}")
    expect(page.locator("#case-shop")).to_have_text(f"магазин {shop}")
    page.get_by_role("button", name=f"Подтвердить как зеркало магазина {shop}").click()
    expect(page).to_have_url(server.url(f"/cases/{ids['sale-2']}?saved=1"))
    expect(page.locator("#case-status")).to_have_text("нарушение подтверждено")
    expect(page.locator("ul.decisions li").first).to_contain_text(
        f"boris: нарушение подтверждено (сбыт), по магазину {shop}"
    )
    expect(page.get_by_role("button", name=f"Подтвердить как зеркало магазина {shop}")).to_have_count(0)

    page.locator("#case-shop").click()
    expect(page).to_have_url(server.url(f"/shops/{shop}"))
    expect(page.locator("#shop-status")).to_have_text("подтверждён экспертами")
    expect(page.locator("#shop-identifiers")).to_contain_text("Telegram @snow_shop_example — ресурсов: 5")
    for record in ("sale-3", "sale-4", "sale-5"):
        expect(page.get_by_label(f"решить дело {ids[record]}")).to_be_checked()
    page.get_by_label(f"решить дело {ids['sale-4']}").uncheck()  # the expert doubts this one
    with CaseStore(server.db_url) as store:  # while boris looks, vera rejects sale-5 on its own page
        store.record_decision(ids["sale-5"], "rejected", "vera", expected_version=0)
    confirm = page.get_by_role("button", name=f"Подтвердить отмеченные как зеркала магазина {shop}")
    confirm.click()  # the box "I have looked at them" is not ticked: the browser does not send the form
    expect(page).to_have_url(server.url(f"/shops/{shop}"))
    expect(page.locator("#shop-result")).to_have_count(0)
    page.get_by_label("Я просмотрел(а) отмеченные ресурсы").check()
    confirm.click()

    expect(page.get_by_role("status")).to_have_text("Решение записано: решено ресурсов — 1, пропущено — 1.")
    result = page.locator("#shop-result")
    expect(result.locator("ul.decided li")).to_have_text(
        f"дело {ids['sale-3']} https://t.me/snow_shop_example — нарушение подтверждено"
    )
    expect(result.locator("ul.skipped li")).to_contain_text(f"дело {ids['sale-5']}")
    expect(result.locator("ul.skipped li")).to_contain_text("(vera: нарушения нет)")
    expect(page.get_by_label(f"решить дело {ids['sale-4']}")).to_be_checked()  # still undecided, shown again
    with CaseStore(server.db_url) as store:
        statuses = {r: store.case(ids[r])["status"] for r in ("sale-3", "sale-4", "sale-5")}  # type: ignore[index]
        entries = [e for e in store.audit_log(100, action="decision") if e["actor"] == "boris"]
    assert statuses == {"sale-3": "confirmed", "sale-4": "new", "sale-5": "rejected"}
    assert sorted((e["case_id"], e["detail"]["how"], e["detail"]["shop_id"]) for e in entries) == [
        (ids["sale-2"], "mirror", shop),
        (ids["sale-3"], "shop", shop),
    ]


def test_hostile_page_is_inert(server: ReviewServer, new_context: Any) -> None:
    context = new_context()
    page = context.new_page()
    log_in(page, server, "boris", USERS["boris"][0])

    dialogs: list[str] = []
    console_errors: list[str] = []
    off_site: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(f"{dialog.type}: {dialog.message}"), dialog.dismiss()))
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: console_errors.append(f"page error: {error}"))
    page.on("request", lambda r: None if r.url.startswith(server.base_url + "/") else off_site.append(r.url))

    hostile = server.ids["hostile-1"]
    case_url = server.url(f"/cases/{hostile}")
    response = page.goto(case_url)
    assert response is not None and response.ok
    assert "default-src 'none'" in (response.headers.get("content-security-policy") or "")
    # every field is shown as the text it is
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Дело {hostile}: {XSS_TITLE}")
    expect(page.locator("#case-url")).to_have_text(XSS_URL)
    expect(page.locator(".page-text")).to_contain_text('<script>window.__pwned = "text"</script>')
    expect(page.locator(".page-text")).to_contain_text(XSS_TEXT.splitlines()[2])
    expect(page.locator("section.evidence")).to_contain_text('<script>window.__pwned="evidence"</script>')
    expect(page.locator("section.contacts code")).to_have_text(
        '@x"><script>window.__pwned="contact"</script>_example'
    )
    _poke(page, page.locator(".page-text"), page.get_by_role("heading", level=1))
    _assert_inert(page, "case page", shows_hostile=True)

    page.goto(server.url("/queue?status=all"))
    hostile_row = page.locator("table.cases tbody tr").filter(has=page.locator(f'a[href="/cases/{hostile}"]'))
    expect(hostile_row).to_have_count(1)
    expect(hostile_row.locator("a.open")).to_have_text(XSS_TITLE)
    _poke(page, hostile_row.locator(".url"), hostile_row.locator(".domain"), hostile_row.locator(".score"))
    _assert_inert(page, "queue", shows_hostile=True)

    # with the test store the hostile case (0.49 from the threshold, like the fillers) is past the
    # page's 50 rows: this shows the uncertain page stays inert, the shared row macro is checked above
    page.goto(server.url("/uncertain"))
    expect(page.locator("table.cases tbody tr").first).to_be_visible()
    first_row = page.locator("table.cases tbody tr").first
    _poke(page, page.locator("p.hint"), first_row.locator(".url"), first_row.locator(".domain"))
    _assert_inert(page, "uncertain", shows_hostile=False)

    assert dialogs == [], f"dialogs opened: {dialogs}"
    assert off_site == [], f"requests that left the app: {off_site}"
    assert console_errors == [], f"console errors (a CSP violation is one): {console_errors}"


def _poke(page: Page, *targets: Locator) -> None:
    """Hover over and click into the parts of the page that show crawled text, as an expert would."""
    for target in targets:
        target.hover()
        target.click()
    page.mouse.move(5, 5)
    page.wait_for_load_state("load")


def _assert_inert(page: Page, where: str, shows_hostile: bool) -> None:
    assert page.evaluate("() => window.__pwned") is None, f"{where}: a hostile script ran"
    assert page.evaluate(FOUND_HANDLERS) == [], f"{where}: event handler attributes in the DOM"
    assert page.evaluate(FOUND_SCRIPT_LINKS) == [], f"{where}: javascript: links in the DOM"
    assert page.locator(ACTIVE_ELEMENTS).count() == 0, f"{where}: script, frame or svg elements in the DOM"
    if shows_hostile:
        assert "<script>window.__pwned" in page.locator("body").inner_text(), f"{where}: script not shown"


def test_pages_at_laptop_size(server: ReviewServer, new_context: Any, tmp_path: Path) -> None:
    """Screenshots for a person to look at (not compared by pixel): the queue and a sale case."""
    page = new_context().new_page()
    log_in(page, server, "vera", USERS["vera"][0])
    shots = {
        "queue": "/queue",
        "case-sale-1": f"/cases/{server.ids['sale-1']}",
    }
    for name, path in shots.items():
        page.goto(server.url(path))
        expect(page.locator("main h1")).to_be_visible()
        page.screenshot(path=tmp_path / f"{name}.png")  # what the laptop's screen shows
        assert (tmp_path / f"{name}.png").stat().st_size > 0
    page.screenshot(path=tmp_path / "case-sale-1-full.png", full_page=True)  # the case below the fold too
