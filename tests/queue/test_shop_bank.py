"""Issue 18: a shop experts confirmed in one run is recognised in later runs, on both databases.

Two real scoring runs with the session's trained model into one case store: run 1 holds a shop and a
harmless page; experts confirm the shop and reject the page. Run 2 re-posts them among fresh pages:
the shop on a new domain in a notice the model does not flag (same handle), the shop's text with a new
handle, and a copy of the rejected page.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from classifier.common.config import load_settings
from classifier.corpus.build import generate_corpus
from classifier.queue import CaseStore
from classifier.score.engine import score_inputs

SHOP = (
    "Магазин «Снежок». В наличии мефедрон кристалл 1 г — 15 000 тг, 2 г — 28 000 тг, гашиш 1 г — 12 000 тг. "
    "Закладки по Алматы: магнит, прикоп, тайник в течение часа после оплаты. Оплата на карту или USDT. "
    "Оператор круглосуточно, пишите в Telegram @snezhok_shop_example, отзывы в канале магазина."
)
MOVED = "Новый адрес нашего канала: @snezhok_shop_example. Подписывайтесь, всё как раньше."
HARMLESS = (
    "Отдам котят в добрые руки: три котёнка, два месяца, к лотку приучены, едят сухой корм. "
    "Живём в Алматы, мкр Аксай. Пишите в Telegram @kitten_home_example или звоните вечером."
)


def _write(path: Path, pages: list[tuple[str, str]]) -> str:
    lines = [json.dumps({"url": url, "text": text}, ensure_ascii=False) for url, text in pages]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _score(inputs: list[str], db_url: str, model: Path, out: Path) -> pd.DataFrame:
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


@pytest.fixture(scope="module")
def filler(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Fresh demo pages for each run: the shops must stand out among many."""
    runs = []
    for seed in (31, 32):
        folder = tmp_path_factory.mktemp(f"filler-{seed}")
        generate_corpus(folder, load_settings().corpus, n=120, seed=seed)
        runs.append(str(folder / "pages.warc.gz"))
    return runs[0], runs[1]


@pytest.fixture()
def two_runs(db_url: str, exported_model: Path, filler: tuple[str, str], tmp_path: Path) -> dict[str, Any]:
    first = _write(
        tmp_path / "run1.jsonl",
        [("https://snezhok.example/", SHOP), ("https://kittens.example/post/1", HARMLESS)],
    )
    queue1 = _score([filler[0], first], db_url, exported_model, tmp_path / "run1")
    with CaseStore(db_url) as store:
        by_url = {c["url"]: c for c in store.cases(limit=1000)}
        shop, kittens = by_url["https://snezhok.example/"], by_url["https://kittens.example/post/1"]
        store.record_decision(shop["id"], "confirmed", "aigerim", category="sale")
        store.record_decision(kittens["id"], "rejected", "aigerim")
    second = _write(
        tmp_path / "run2.jsonl",
        [
            ("https://snezhok-new.example/", MOVED),
            (
                "https://snezhok-mirror.example/",
                SHOP.replace("@snezhok_shop_example", "@snezhok_new_example"),
            ),
            ("https://kittens-copy.example/", HARMLESS),
        ],
    )
    queue2 = _score([filler[1], second], db_url, exported_model, tmp_path / "run2")
    return {"queue1": queue1, "queue2": queue2, "shop": shop, "kittens": kittens}


def _row(queue: pd.DataFrame, url: str) -> dict[str, Any]:
    return queue[queue["url"] == url].iloc[0].to_dict()


def test_mirrors_of_a_confirmed_shop_lead_the_next_run_even_when_the_model_misses_them(
    two_runs: dict[str, Any],
) -> None:
    queue, shop_id = two_runs["queue2"], two_runs["shop"]["id"]
    moved = _row(queue, "https://snezhok-new.example/")
    assert moved["label"] == 0, "the premise: the model alone does not flag the notice"
    copy = _row(queue, "https://snezhok-mirror.example/")
    first_five_percent = max(1, len(queue) * 5 // 100)
    for row, how in ((moved, "telegram @snezhok_shop_example"), (copy, "text ")):
        assert row["rank"] <= first_five_percent, (row["rank"], len(queue))
        assert (row["shop_id"], row["known_status"]) == (shop_id, "confirmed")
        assert row["match"].startswith(how), row["match"]
    # in run 1 nothing was known yet
    assert two_runs["queue1"]["known_status"].isna().all()


def test_a_copy_of_a_rejected_page_is_shown_as_such_and_not_raised(two_runs: dict[str, Any]) -> None:
    queue = two_runs["queue2"]
    copy = _row(queue, "https://kittens-copy.example/")
    assert (copy["shop_id"], copy["known_status"]) == (two_runs["kittens"]["id"], "rejected")
    assert copy["match"].startswith("t")  # its handle or its text
    unknown = queue[queue["known_status"].isna() & queue["score"].notna()]
    # its priority follows the same formula as pages nobody decided: no higher than its score allows
    assert copy["priority"] <= unknown["priority"].max()
    assert copy["priority"] < _row(queue, "https://snezhok-new.example/")["priority"]


def test_the_shop_gathers_its_pages_across_runs(two_runs: dict[str, Any], db_url: str) -> None:
    with CaseStore(db_url) as store:
        shop = store.shop(two_runs["shop"]["id"])
        kittens = store.shop(two_runs["kittens"]["id"])
    assert shop is not None and kittens is not None
    assert {c["url"] for c in shop["cases"]} >= {
        "https://snezhok.example/",
        "https://snezhok-new.example/",
        "https://snezhok-mirror.example/",
    }
    assert shop["status"] == "confirmed" and "c:telegram:@snezhok_shop_example" in shop["identifiers"]
    assert "https://kittens.example/post/1" not in {c["url"] for c in shop["cases"]}
    assert kittens["status"] == "rejected"
    assert {c["url"] for c in kittens["cases"]} == {
        "https://kittens.example/post/1",
        "https://kittens-copy.example/",
    }
