"""Shop pages for the tests of the bank of shops, and a real scoring run of them into a case store (with
the session's trained model, ``exported_model``). Fake contacts only: ``@…_example`` handles,
``+7 700 000 00 0X`` phones, ``.example`` domains."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd

from classifier.common.config import load_settings
from classifier.queue import CaseStore
from classifier.score.engine import score_inputs

SHOP_HANDLE = "@snezhok_shop_example"
SHOP = (
    "Магазин «Снежок». В наличии мефедрон кристалл 1 г — 15 000 тг, 2 г — 28 000 тг, гашиш 1 г — 12 000 тг. "
    "Закладки по Алматы: магнит, прикоп, тайник в течение часа после оплаты. Оплата на карту или USDT. "
    f"Оператор круглосуточно, пишите в Telegram {SHOP_HANDLE}, отзывы в канале магазина."
)
MOVED = f"Новый адрес нашего канала: {SHOP_HANDLE}. Подписывайтесь, всё как раньше."
# a third party that only quotes the shop's handle: never to be blocked with the shop
PHARMACY = (
    "Аптека «Здоровье» предупреждает: в Telegram от имени аптек пишут мошенники, например "
    f"{SHOP_HANDLE}. Мы не продаём лекарства через мессенджеры. Наша справочная: @apteka_help_example, "
    "часы работы с 8 до 22, доставка лекарств по рецепту только через сайт."
)
HARMLESS = (
    "Отдам котят в добрые руки: три котёнка, два месяца, к лотку приучены, едят сухой корм. "
    "Живём в Алматы, мкр Аксай. Пишите в Telegram @kitten_home_example или звоните вечером."
)


def write_pages(path: Path, pages: list[tuple[str, str]]) -> str:
    """(url, text) pages as a JSONL input of ``classifier score``."""
    lines = [json.dumps({"url": url, "text": text}, ensure_ascii=False) for url, text in pages]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def score_pages(inputs: list[str], db_url: str, model: Path, out: Path) -> pd.DataFrame:
    """One scoring run of the inputs into the case store; its queue file as a frame."""
    settings = load_settings()
    settings = replace(
        settings,
        score=replace(settings.score, chunk_size=64, log_to_mlflow=False),
        extract=replace(settings.extract, n_jobs=1),
    )
    with CaseStore(db_url) as store:
        score_inputs(
            inputs, out / "queue.csv", settings, store, model_ref=str(model), use_cache=False, runs_dir=out
        )
    return pd.read_csv(out / "queue.csv", keep_default_na=False, na_values=[""])
