"""A small case store for the review app's tests: ordinary cases, a cluster of mirrors (one shop, its
handle and text in the bank), an error, a case near the threshold, and a hostile page whose every field
carries script; and its users.

Contacts are fake (``@…_example``, ``+7 700 000 00 0X``, ``.example``/``.invalid``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import text

from classifier.queue import CaseStore
from classifier.queue.accounts import Accounts

RUN_ID = "run-review-1"
SCORED_AT = "2026-11-20T09:00:00+00:00"
THRESHOLD = 0.5
USERS = {  # name: (password, role)
    "anna": ("anna-password-1", "admin"),
    "boris": ("boris-password-2", "expert"),
    "vera": ("vera-password-3", "expert"),
}
# Two more users, hashed with CHEAP_HASHER: rita has no session; dora is disabled (conftest.py)
PEOPLE = {"rita": ("rita-password-4", "expert"), "dora": ("dora-password-5", "admin")}
TEST_HOSTS = ("testserver", "127.0.0.1", "localhost")  # TestClient's name besides the app's defaults
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # logins in milliseconds
XSS_TITLE = '<script>window.__pwned = "title"</script><img src=x onerror="window.__pwned=\'img\'">'
XSS_TEXT = (
    "Закладки по городу, пиши в бот.\n"
    '<script>window.__pwned = "text"</script>\n'
    "<a href=\"javascript:window.__pwned='link'\">нажми</a> <b onmouseover=\"window.__pwned='hover'\">меф</b>\n"
    '<svg onload="window.__pwned=\'svg\'"></svg> <iframe src="https://evil.invalid/"></iframe>'
)
XSS_URL = "javascript:window.__pwned='url'//https://shop.invalid/<script>alert(1)</script>"
# What scoring keeps in the bank of shops for the sale pages (score/known.py): their handle, and a text
# band key and MinHash signature (uint32 values) in common: the same text, 100% alike.
SALE_BANK = {
    "bank_keys": ["c:telegram:@snow_shop_example", "b0:snow-shop-text"],
    "signature": bytes(range(256)) * 2,
    "shingles": 30,
}
HOSTILE_QUERY = '"><script>window.__pwned="query"</script><img src=x onerror="window.__pwned=2">'

SALE_TEXT = (
    "Магазин работает круглосуточно. Закладки по всему городу: меф, шишки, соль.\n"
    "Оплата на карту или криптой. Пишите в Телеграм @snow_shop_example, оператор ответит.\n"
    "Гарантия веса, перезаклад при ненаходе."
)
RECRUIT_TEXT = (
    "Работа курьером, свободный график, от 300 000 тг в неделю. Жұмыс бар, тәжірибе керек емес.\n"
    "Залог 20 000 тг. Пиши @rabota_kz_example, бот выдаст адреса."
)
NEWS_TEXT = (
    "В Шымкенте полиция задержала сбытчика синтетических наркотиков. "
    "По данным ведомства, за семь месяцев заблокировано более тысячи ресурсов."
)


def _row(record_id: str, url: str, score: float, text: str, **overrides: Any) -> dict[str, Any]:
    label = int(score >= THRESHOLD)
    row = {
        "rank": 1,
        "id": record_id,
        "url": url,
        "domain": url.split("/")[2] if url.count("/") >= 2 else "",
        "title": f"Страница {record_id}",
        "excerpt": text[:400],
        "text": text,
        "score": score,
        "label": label,
        "category": "sale" if label else "none",
        "category_probability": 0.9 if label else None,
        "priority": round(100 * score, 2),
        "language": "ru",
        "evidence": [{"term": "закладки", "weight": 1.2, "sentence": text.split("\n")[0][:300]}]
        if label
        else [],
        "contacts": {"telegram": ["@snow_shop_example"]} if label else {},
        "cluster_id": f"c-{record_id}",
        "cluster_size": 1,
        "source_kind": "web",
        "source": "reports.jsonl",
        "fetched_at": "2026-11-19T08:00:00+00:00",
        "model_name": "drug-ad-classifier",
        "model_version": "7",
        "run_id": RUN_ID,
        "scored_at": SCORED_AT,
        "status": "ok",
        "error": "",
    }
    row.update(overrides)
    return row


def review_rows(n_filler: int = 60) -> list[dict[str, Any]]:
    """The scored rows of the test store (``n_filler`` low-scoring pages make the queue paginate)."""
    rows = [
        # one shop, named after sale-1's case (the earliest): review.test_shops
        _row(
            "sale-1",
            "https://snow-shop.example/catalog",
            0.97,
            SALE_TEXT,
            cluster_id="shop",
            cluster_size=3,
            **SALE_BANK,
        ),
        _row(
            "sale-2",
            "https://snow-mirror.example/",
            0.95,
            SALE_TEXT,
            cluster_id="shop",
            cluster_size=3,
            **SALE_BANK,
        ),
        _row(
            "sale-3",
            "https://t.me/snow_shop_example",
            0.93,
            SALE_TEXT,
            cluster_id="shop",
            cluster_size=3,
            **SALE_BANK,
        ),
        _row(
            "recruit-1",
            "https://rabota.example/kurier",
            0.88,
            RECRUIT_TEXT,
            category="recruitment",
            language="mixed",
            evidence=[{"term": "курьером", "weight": 0.9, "sentence": "Работа курьером, свободный график"}],
        ),
        _row(
            "near-1",
            "https://forum.example/t/123",
            0.51,
            NEWS_TEXT + " Где купить?",
            evidence=[  # reasons for, then against, as explanations.py gives them
                {"term": "купить", "weight": 0.6, "sentence": "Где купить?"},
                {
                    "term": "Telegram-контакты на странице: 1",
                    "weight": 0.3,
                    "sentence": "",
                    "cue": "страница",
                    "kind": "page",
                },
                {"term": "полиция", "weight": -2.1, "sentence": "", "cue": "предупреждение", "kind": "cue"},
            ],
        ),
        _row("near-2", "https://forum.example/t/456", 0.47, NEWS_TEXT),
        _row("news-1", "https://news.example/shymkent", 0.04, NEWS_TEXT, language="kk"),
        _row(
            "hostile-1",
            XSS_URL,
            0.99,
            XSS_TEXT,
            title=XSS_TITLE,
            domain='evil.invalid"><script>window.__pwned="domain"</script>',
            evidence=[
                {"term": "закладки", "weight": 1.0, "sentence": '<script>window.__pwned="evidence"</script>'},
                {"term": '<img src=x onerror="window.__pwned=1">', "weight": 0.5, "sentence": ""},
            ],
            contacts={"telegram": ['@x"><script>window.__pwned="contact"</script>_example']},
        ),
        {
            **_row("broken-1", "https://broken.example/", 0.0, ""),
            **{"score": None, "label": None, "category": None, "priority": 0.0, "evidence": []},
            **{"status": "error", "error": "extraction failed: empty page", "text": ""},
        },
    ]
    rows += [
        _row(f"filler-{i}", f"https://blog{i}.example/post", 0.01 + i / 10_000, NEWS_TEXT, language="kk")
        for i in range(n_filler)
    ]
    return rows


ALL_CASES = len(review_rows())  # 9 hand-made cases and 60 fillers
SALE_CLUSTER = {"sale-1", "sale-2", "sale-3"}  # one shop and its mirrors


@dataclass(frozen=True)
class Template:
    """A filled database per backend (conftest.py), which the tests' databases are copies of."""

    url: str  # no connection stays open to it: it is the template of the copies
    ids: dict[str, int]  # case ids by record id
    # (cookie token, CSRF token) by user name, and "boris-2" (boris in a second browser), "expired" (anna's)
    sessions: dict[str, tuple[str, str]]


def populate(url: str, confirmations_required: int = 1) -> dict[str, int]:
    """Fill the store at ``url`` and create the USERS; returns case ids by record id."""
    with CaseStore(url, confirmations_required=confirmations_required) as store:
        store.start_run(RUN_ID, model_name="drug-ad-classifier", model_version="7", threshold=THRESHOLD)
        store.add_scored(review_rows())
        accounts = Accounts(store)
        for name, (password, role) in USERS.items():
            accounts.add_user(name, password, role=role, created_by="tests")
        with store.engine.connect() as conn:
            ids = {}
            for case in store.cases(limit=1000):
                record = conn.execute(
                    text("SELECT record_id FROM scores WHERE case_id = :id LIMIT 1"), {"id": case["id"]}
                ).scalar_one()
                ids[record] = case["id"]
    return ids
