"""Two experts at once in real browsers (issue 19): Debian's Chromium, driven by Playwright, against
``classifier review`` (the fixtures of ``test_browser.py``), on SQLite and PostgreSQL.

boris and vera both work the Kazakh pages: "next" gives them different cases and keeps the filter; vera
decides boris's case while he types, and his 409 page still holds his comment and choice; his second press
of one form is recorded once; his session expires while he types, and logging in again brings him back to
the case with the form as he left it. Someone guessing boris's password from elsewhere locks only their
own address out, not boris in his office. And an expert decides by keyboard alone.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect
from sqlalchemy import text

from classifier.common.config import ReviewSettings
from classifier.queue import CaseStore
from review.cases import USERS
from review.server import ReviewServer
from review.test_browser import (  # noqa: F401 (fixtures)
    THEN_NEXT,
    browser,
    client_at,
    log_in,
    new_context,
    server,
)

KAZAKH = "/queue?language=kk&flagged=no"  # the Kazakh pages: news the model did not flag
ATTACKER, OFFICE = "203.0.113.66", "198.51.100.20"  # documentation addresses (RFC 5737)
LOGIN_MAX_FAILURES = ReviewSettings().login_max_failures  # the test server's: only its proxy is set
COMMENT = "Новостной сайт, но в комментариях @kz_shop_example: проверить ещё раз."


def case_shown(page: Page) -> int:
    found = re.search(r"/cases/(\d+)", page.url)
    assert found, page.url
    return int(found.group(1))


def press_next(page: Page) -> int:
    page.locator("#next-case").click()
    expect(page).to_have_url(re.compile(r"/cases/\d+\?"))
    return case_shown(page)


def test_two_experts_at_once_get_different_cases_keep_their_filter_and_their_typing(
    server: ReviewServer,  # noqa: F811
    new_context: Any,  # noqa: F811
) -> None:
    boris, vera = new_context().new_page(), new_context().new_page()
    log_in(boris, server, "boris", USERS["boris"][0], KAZAKH)
    log_in(vera, server, "vera", USERS["vera"][0], KAZAKH)
    mine, hers = press_next(boris), press_next(vera)
    assert mine != hers
    for page in (boris, vera):  # the filter came along
        assert "language=kk" in page.url
        expect(page.locator(".facts")).to_contain_text("казахский")
    expect(boris.locator("#case-claim")).to_contain_text("закреплено за вами")

    # vera opens boris's case by its address: she is told he works on it, and decides it anyway
    vera.goto(server.url(f"/cases/{mine}"))
    expect(vera.locator("#case-claim")).to_contain_text("проверяет эксперт boris")
    boris.get_by_label("Комментарий").fill(COMMENT)
    for page in (boris, vera):  # both stay on the case after deciding, to see what became of it
        page.get_by_label(THEN_NEXT).uncheck()
    vera.get_by_role("button", name="Нарушения нет").click()
    expect(vera.get_by_role("status")).to_have_text("Решение сохранено.")
    boris.get_by_role("button", name="Нужна повторная проверка").click()
    expect(boris.get_by_role("alert")).to_contain_text("другой эксперт вынес решение")
    expect(boris.get_by_label("Комментарий")).to_have_value(COMMENT)
    expect(boris.locator("ul.decisions li").first).to_contain_text("vera: нарушения нет")

    # his decision, sent again from here, is recorded; the same form pressed a second time is not
    second_tab = boris.context.new_page()  # the case again, as a second tab (or a second press) sends it
    second_tab.goto(server.url(f"/cases/{mine}?language=kk"))
    boris.get_by_role("button", name="Нужна повторная проверка").click()
    expect(boris.get_by_role("status")).to_have_text("Решение сохранено.")
    second_tab.get_by_label("Комментарий").fill(COMMENT)
    second_tab.get_by_role("button", name="Нужна повторная проверка").click()
    expect(second_tab.get_by_role("status")).to_contain_text("Это решение уже записано")
    with CaseStore(server.db_url) as store:
        decided = [(d["expert"], d["decision"]) for d in store.case(mine)["decisions"]]  # type: ignore[index]
    assert decided == [("vera", "rejected"), ("boris", "unsure")]

    # "next" moves on within the filter, to a case vera does not hold, never back to the one left
    following = press_next(boris)
    assert following not in (mine, hers) and "language=kk" in boris.url


def test_after_the_session_expires_the_expert_is_back_at_the_case_with_the_form_as_left(
    server: ReviewServer,  # noqa: F811
    new_context: Any,  # noqa: F811
) -> None:
    page = new_context().new_page()
    log_in(page, server, "vera", USERS["vera"][0], KAZAKH)
    case_id = press_next(page)
    page.get_by_label("Категория нарушения").select_option("propaganda")
    page.get_by_label("Комментарий").fill(COMMENT)
    with CaseStore(server.db_url) as store, store.engine.begin() as conn:  # her session runs out
        conn.execute(text("UPDATE sessions SET expires_at = :past"), {"past": "2000-01-01 00:00:00"})
    page.get_by_role("button", name="Подтвердить нарушение (блокировать)").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Сессия истекла")
    expect(page.locator("#typed textarea")).to_have_value(COMMENT)
    page.locator("#login-again").click()
    page.get_by_label("Имя пользователя").fill("vera")
    page.get_by_label("Пароль", exact=True).fill(USERS["vera"][0])
    page.get_by_role("button", name="Войти").click()
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}\?language=kk"))
    expect(page.get_by_role("status")).to_contain_text("Восстановлено решение")
    expect(page.get_by_label("Комментарий")).to_have_value(COMMENT)
    expect(page.get_by_label("Категория нарушения")).to_have_value("propaganda")
    page.get_by_role("button", name="Подтвердить нарушение (блокировать)").click()
    # the restored form kept "then the next case" on, too
    expect(page.get_by_role("status")).to_contain_text(f"Решение по делу {case_id} записано.")
    assert case_shown(page) != case_id and "language=kk" in page.url
    with CaseStore(server.db_url) as store:
        [decision] = store.case(case_id)["decisions"]  # type: ignore[index]
    assert (decision["expert"], decision["category"], decision["comment"]) == ("vera", "propaganda", COMMENT)


def test_wrong_passwords_from_one_address_do_not_lock_the_owner_out_at_another(
    server: ReviewServer,  # noqa: F811
    new_context: Any,  # noqa: F811
) -> None:
    attacker = new_context(**client_at(ATTACKER)).new_page()
    for guess in range(LOGIN_MAX_FAILURES):
        attacker.goto(server.url("/login"))
        attacker.get_by_label("Имя пользователя").fill("boris")
        attacker.get_by_label("Пароль", exact=True).fill(f"guess-number-{guess}")
        attacker.get_by_role("button", name="Войти").click()
        expect(attacker.get_by_role("alert")).to_be_visible()
    # from there, even the right password is refused now, and the page says for how long
    attacker.goto(server.url("/login"))
    attacker.get_by_label("Имя пользователя").fill("boris")
    attacker.get_by_label("Пароль", exact=True).fill(USERS["boris"][0])
    attacker.get_by_role("button", name="Войти").click()
    expect(attacker.get_by_role("alert")).to_contain_text(re.compile(r"Попробуйте снова через \d+ (мин|с)"))
    expect(attacker.locator(".who")).to_have_count(0)
    # boris, in his office, logs in as usual
    log_in(new_context(**client_at(OFFICE)).new_page(), server, "boris", USERS["boris"][0])


def press_access_key(page: Page, key: str) -> None:
    """Alt+``key`` as a keyboard sends it: Chromium finds an access key by the key's unmodified text,
    which Playwright's ``keyboard.press`` leaves out when Alt is held, so the event goes through CDP."""
    cdp = page.context.new_cdp_session(page)
    try:
        code = f"Digit{key}" if key.isdigit() else f"Key{key.upper()}"
        pressed = {"modifiers": 1, "key": key, "code": code, "windowsVirtualKeyCode": ord(key.upper())}
        cdp.send("Input.dispatchKeyEvent", {"type": "keyDown", "text": key, "unmodifiedText": key, **pressed})
        cdp.send("Input.dispatchKeyEvent", {"type": "keyUp", **pressed})
    finally:
        cdp.detach()


def test_an_expert_decides_and_moves_on_by_keyboard_alone(
    server: ReviewServer,  # noqa: F811
    new_context: Any,  # noqa: F811
) -> None:
    page = new_context().new_page()
    log_in(page, server, "vera", USERS["vera"][0], KAZAKH)
    first = press_next(page)
    press_access_key(page, "2")  # «нарушения нет» (no category needed), and on to the next case
    expect(page.get_by_role("status")).to_have_text(
        f"Решение по делу {first} записано. Это следующее нерешённое дело по тем же условиям."
    )
    second = case_shown(page)
    assert second != first and "language=kk" in page.url
    with CaseStore(server.db_url) as store:
        assert store.case(first)["status"] == "rejected"  # type: ignore[index]
    press_access_key(page, "4")  # passed over, without deciding: the next one
    expect(page).to_have_url(re.compile(rf"/cases/\d+\?language=kk.*skip=.*{second}"))
    assert case_shown(page) not in (first, second)
