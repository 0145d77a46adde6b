"""Values that are generated rather than drawn from a pool: prices, weights, fake contacts, dates.

Every contact is fake by construction: handles end in ``_example``, phones are ``+7 700 000 00 0X``,
domains end in ``.example`` or ``.invalid``.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_HANDLE_WORDS = [
    "klad",
    "shop",
    "mef",
    "store",
    "magaz",
    "stuff",
    "green",
    "ice",
    "snow",
    "crystal",
    "market",
    "vip",
    "premium",
    "lux",
    "zakladki",
    "top",
    "best",
    "fast",
    "dostavka",
    "rabota",
    "kurer",
    "money",
    "tenge",
    "astana",
    "almaty",
    "shym",
    "kz",
    "qaz",
    "nomad",
    "steppe",
    "dala",
    "aqsha",
    "biz",
    "info",
    "news",
    "apteka",
    "help",
    "life",
    "city",
    "club",
    "team",
    "garden",
    "vape",
    "smoke",
    "trade",
    "coin",
    "daily",
]
_PATH_WORDS = ["catalog", "item", "post", "news", "topic", "vacancy", "ad", "shop", "page", "read"]


@cache
def load_vocab() -> dict[str, Any]:
    """Read every shared vocabulary file into one mapping (cached: the files do not change)."""
    vocab: dict[str, Any] = {}
    folder = resources.files("classifier.corpus") / "vocab"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            vocab.update(yaml.safe_load(entry.read_text(encoding="utf-8")) or {})
    return vocab


@dataclass
class PageContext:
    """Draws shared by one page, so that the title and the body agree (same city, same drug)."""

    rng: random.Random
    lang: str
    pinned: dict[str, str] = field(default_factory=dict)
    city: dict[str, Any] | None = None
    drug: dict[str, Any] | None = None
    grams: float | None = None  # the last weight drawn, so that the price after it fits

    def side(self) -> str:
        """The language a per-language pool is read in: mixed pages switch between the two."""
        if self.lang == "mixed":
            return self.rng.choice(["ru", "kk"])
        return "kk" if self.lang == "kk" else "ru"

    def page_city(self) -> dict[str, Any]:
        if self.city is None:
            self.city = self.rng.choice(load_vocab()["cities"])
        return self.city

    def page_drug(self) -> dict[str, Any]:
        if self.drug is None:
            self.drug = self.rng.choice(load_vocab()["drugs"])
        return self.drug


def _fmt_thousands(value: int, sep: str) -> str:
    return f"{value:,}".replace(",", sep)


def gen_price_tenge(ctx: PageContext, per_gram: tuple[int, int] = (5000, 20000)) -> str:
    rng = ctx.rng
    grams, ctx.grams = ctx.grams, None
    if grams:  # bulk is cheaper per gram, as in real price lists
        discount = 1.0 if grams <= 1 else 0.85 if grams <= 5 else 0.65
        amount = int(rng.randrange(per_gram[0], per_gram[1] + 1, 500) * grams * discount) // 500 * 500 or 500
    else:
        amount = rng.randrange(per_gram[0], per_gram[1] + 1, 500) * rng.choice([1, 1, 1, 2, 3, 5])
    thousands = round(amount / 1000)
    formats = [
        lambda: f"{amount}₸",
        lambda: f"{_fmt_thousands(amount, ' ')} тг",
        lambda: f"{_fmt_thousands(amount, ' ')} ₸",
        lambda: f"{thousands}к",
        lambda: f"{thousands}к тг",
        lambda: f"{thousands} тыс",
        lambda: f"{thousands} тыс. тенге",
        lambda: f"{_fmt_thousands(amount, '.')} тенге",
        lambda: f"{amount} тңг",
        lambda: f"{thousands} мың теңге",
    ]
    return rng.choice(formats)()


def gen_price_crypto(ctx: PageContext) -> str:
    rng = ctx.rng
    grams, ctx.grams = ctx.grams, None
    usd = rng.randrange(15, 40, 5) * max(1, round((grams or 1) * 0.8)) if grams else rng.randrange(15, 400, 5)
    formats = [
        lambda: f"{usd} USDT",
        lambda: f"{usd}$",
        lambda: f"${usd}",
        lambda: f"{usd} usdt (TRC20)",
        lambda: f"{usd / 95000:.5f} BTC",
        lambda: f"{usd} долл.",
    ]
    return rng.choice(formats)()


def gen_price(ctx: PageContext) -> str:
    drug = ctx.drug
    per_gram = tuple(drug["price_per_gram"]) if drug else (5000, 20000)
    if ctx.rng.random() < 0.8:
        return gen_price_tenge(ctx, per_gram)  # type: ignore[arg-type]
    return gen_price_crypto(ctx)


def gen_weight(ctx: PageContext) -> str:
    rng = ctx.rng
    grams = rng.choice(["0.3", "0.5", "1", "1", "1", "2", "3", "5", "10", "0,5", "1.5", "20", "50", "100"])
    ctx.grams = float(grams.replace(",", "."))
    unit = rng.choice(["г", "гр", " г", " гр", "g", " грамм", "гр."])
    return f"{grams}{unit}"


def gen_drug(ctx: PageContext) -> str:
    return ctx.rng.choice(ctx.page_drug()["slang"])


def gen_drug_any(ctx: PageContext) -> str:
    """A street name of any drug, not necessarily the page's own (for product lists)."""
    drug = ctx.rng.choice(load_vocab()["drugs"])
    ctx.drug = drug  # the price that follows on the same line fits this drug
    return ctx.rng.choice(drug["slang"])


def gen_drug_formal(ctx: PageContext) -> str:
    return ctx.rng.choice(ctx.page_drug()["formal"])


def gen_drug_emoji(ctx: PageContext) -> str:
    return ctx.rng.choice(ctx.page_drug()["emoji"])


def gen_city(ctx: PageContext) -> str:
    return ctx.page_city()[ctx.side()]


def gen_district(ctx: PageContext) -> str:
    return ctx.rng.choice(ctx.page_city()[f"districts_{ctx.side()}"])


def _slug(rng: random.Random, words: int = 2) -> str:
    parts = rng.sample(_HANDLE_WORDS, words)
    if rng.random() < 0.4:
        parts.append(str(rng.randint(1, 99)))
    return rng.choice(["_", "", "_"]).join(parts)


def gen_handle(ctx: PageContext) -> str:
    return f"@{_slug(ctx.rng)}_example"


def gen_bot(ctx: PageContext) -> str:
    return f"@{_slug(ctx.rng)}_bot_example"


def gen_phone(ctx: PageContext) -> str:
    x = ctx.rng.randint(0, 9)
    return ctx.rng.choice(
        [
            f"+7 700 000 00 0{x}",
            f"8 700 000 00 0{x}",
            f"+7(700)000-00-0{x}",
            f"+7700000000{x}",
            f"8700000000{x}",
        ]
    )


def gen_site(ctx: PageContext) -> str:
    tld = ctx.rng.choice([".example", ".example", ".invalid", "-kz.example"])
    return _slug(ctx.rng).replace("_", "-") + tld


def gen_onion(ctx: PageContext) -> str:
    chars = "".join(ctx.rng.choices(string.ascii_lowercase + "234567", k=16))
    return f"{chars}.onion.invalid"


def gen_url(ctx: PageContext) -> str:
    return f"https://{gen_site(ctx)}/{ctx.rng.choice(_PATH_WORDS)}/{ctx.rng.randint(10, 99999)}"


def gen_wallet(ctx: PageContext) -> str:
    rng = ctx.rng
    if rng.random() < 0.5:
        return "bc1qexample" + "".join(rng.choices(_BECH32, k=28))
    return "TExample" + "".join(rng.choices(string.ascii_letters + string.digits, k=26))


def gen_card(ctx: PageContext) -> str:
    return f"**** **** **** 000{ctx.rng.randint(0, 9)}"


def gen_date(ctx: PageContext) -> str:
    rng = ctx.rng
    return f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.choice([2023, 2024, 2025, 2026])}"


def gen_time(ctx: PageContext) -> str:
    return f"{ctx.rng.randint(0, 23):02d}:{ctx.rng.choice(['00', '15', '30', '45', '10', '50'])}"


def gen_year(ctx: PageContext) -> str:
    return str(ctx.rng.choice([2022, 2023, 2024, 2025, 2026]))


def gen_number(ctx: PageContext) -> str:
    return str(ctx.rng.randint(10, 999))


def gen_small_number(ctx: PageContext) -> str:
    return str(ctx.rng.randint(2, 9))


def gen_percent(ctx: PageContext) -> str:
    return f"{ctx.rng.choice([5, 10, 15, 20, 25, 30, 50])}%"


def _per_language(key: str) -> Callable[[PageContext], str]:
    def draw(ctx: PageContext) -> str:
        return ctx.rng.choice(load_vocab()[key][ctx.side()])

    return draw


GENERATORS: dict[str, Callable[[PageContext], str]] = {
    "drug": gen_drug,
    "drug_any": gen_drug_any,
    "drug_formal": gen_drug_formal,
    "drug_emoji": gen_drug_emoji,
    "weight": gen_weight,
    "price": gen_price,
    "price_tenge": lambda ctx: gen_price_tenge(ctx),
    "price_crypto": gen_price_crypto,
    "number": gen_number,
    "small_number": gen_small_number,
    "percent": gen_percent,
    "city": gen_city,
    "district": gen_district,
    "handle": gen_handle,
    "bot": gen_bot,
    "phone": gen_phone,
    "site": gen_site,
    "onion": gen_onion,
    "url": gen_url,
    "wallet": gen_wallet,
    "card": gen_card,
    "date": gen_date,
    "time": gen_time,
    "year": gen_year,
    "name": _per_language("name"),
    "surname": _per_language("surname"),
    "goods_word": _per_language("goods_word"),
    "stash_word": _per_language("stash_word"),
    "nickname": lambda ctx: ctx.rng.choice(load_vocab()["nickname"]),
}
