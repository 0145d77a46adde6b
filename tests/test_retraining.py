"""The retraining loop end to end: score a batch, experts decide, export their decisions, retrain.

The batch holds a kind of page the model has not seen: legitimate courier jobs (food and parcel
delivery), which look like the recruitment ads of drug shops (a courier, daily pay, a Telegram
contact). Experts reject them; the model retrained with their decisions scores new pages of that kind
lower than before, and still finds the drug ads.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from classifier.cli import main
from classifier.common.config import Settings, load_settings
from classifier.corpus.build import generate_corpus
from classifier.modeling import tracking
from classifier.modeling.model import predict
from classifier.modeling.train import train
from classifier.queue import CaseStore
from mlflow_server import running_mlflow_server

pytestmark = pytest.mark.slow

COMPANIES = ["Быстрая еда", "Тез жеткізу", "Доставка Плюс", "Астана Экспресс", "Шымкент Фуд", "Qala Courier"]
CITIES = ["Шымкенте", "Алматы", "Астане", "Караганде", "Таразе"]
RU_JOBS = [
    "{company} ищет курьеров в {city}. Доставка еды из ресторанов, свой велосипед или самокат. "
    "Официальное трудоустройство по ТК РК, оплата {pay} тг в день, выплаты еженедельно на карту. "
    "Медицинская книжка обязательна. Резюме на hr@{slug}.example или в Telegram @{slug}_hr_example.",
    "Вакансия: курьер-доставщик в {company}. Развозим продукты и посылки по {city}, "
    "график 2/2, зарплата от {pay} тг в смену, форма и термосумка выдаются. "
    "Собеседование в офисе компании, при себе удостоверение личности. Пишите @{slug}_jobs_example.",
    "Работа курьером в службе доставки {company}: заказы через приложение, чаевые ваши, "
    "доход {pay} тг в день. Договор, страховка, обучение за счёт компании. Звоните +7 700 000 00 01.",
]
KK_JOBS = [
    "{company} компаниясына курьерлер қажет, {city} бойынша тамақ жеткізу. "
    "Ресми жұмысқа орналастыру, күніне {pay} теңге, жалақы картаға аптасына бір рет. "
    "Өтінімді @{slug}_hr_example мекенжайына жіберіңіз.",
    "Жұмыс: {company} жеткізу қызметіне курьер керек. Сәлемдемелер мен азық-түлік жеткізу, "
    "кесте 2/2, ауысымына {pay} теңгеден. Форма беріледі, оқыту тегін. Байланыс: +7 700 000 00 02.",
]
DRUG_RECRUITING = [
    "Работа закладчиком в {city}, {pay} тг за клад, оплата каждый день в крипте. "
    "Залог 30 000 тг или фото паспорта. Пиши в бот @{slug}_rabota_bot_example, куратор объяснит.",
    "Нужны курьеры-кладмены, {city}. Мастер-клад, фасовка, розница. От {pay} тг в день, "
    "без опыта, обучение. Анкета в боте @{slug}_klad_bot_example.",
]


def _page(template: str, rng: random.Random, number: int) -> str:
    company = rng.choice(COMPANIES)
    return template.format(
        company=company,
        city=rng.choice(CITIES),
        pay=rng.choice([8000, 12000, 15000, 20000, 25000]),
        slug=f"{'courier' if 'клад' not in template else 'shop'}{number}",
    )


def courier_jobs(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [_page(rng.choice(RU_JOBS + KK_JOBS), rng, i) for i in range(n)]


def small_settings() -> Settings:
    base = load_settings()
    return replace(
        base,
        extract=replace(base.extract, n_jobs=2),
        model=replace(base.model, folds=3),
        train=replace(base.train, real_negatives="never"),
        score=replace(base.score, log_to_mlflow=False),
    )


def _frame(texts: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": [str(i) for i in range(len(texts))], "url": "", "title": "", "description": "", "text": texts}
    )


def test_expert_decisions_retrain_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = small_settings()
    demo_dir = tmp_path / "demo"
    generate_corpus(demo_dir, settings.corpus, n=500, seed=11)
    db = f"sqlite:///{tmp_path / 'queue.db'}"
    rng = random.Random(5)
    batch = courier_jobs(40, seed=1) + [_page(rng.choice(DRUG_RECRUITING), rng, 100 + i) for i in range(10)]
    incoming = tmp_path / "incoming.jsonl"
    with incoming.open("w", encoding="utf-8") as handle:
        for i, text in enumerate(batch):
            row = {
                "id": f"r{i}",
                "url": f"https://jobs{i}.example/vacancy",
                "title": "Вакансия",
                "text": text,
            }
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    unseen = courier_jobs(30, seed=2)  # the same kind of page, other texts: never decided on

    with running_mlflow_server(tmp_path / "mlflow") as uri:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        try:
            first = train(settings, export_dir=tmp_path / "export", demo_dir=demo_dir, say=lambda _: None)
            assert first.promoted
            queue_file = tmp_path / "queue.csv"
            code = main(
                [
                    "score",
                    str(incoming),
                    "--out",
                    str(queue_file),
                    "--db",
                    db,
                    "--checkpoints",
                    str(tmp_path / "runs"),
                    "--model",
                    tracking.model_uri("champion"),
                ]
            )
            assert code == 0

            # experts decide every case of the batch: courier jobs are no violation, the drug ads are
            with CaseStore(db) as store:
                cases = store.cases(limit=100)
                assert len(cases) == len(batch) and all(
                    c["text"] for c in map(store.case, [c["id"] for c in cases])
                )
                for case in cases:
                    number = int(case["url"].split("jobs")[1].split(".")[0])
                    decision = "confirmed" if number >= 40 else "rejected"
                    store.record_decision(case["id"], decision, "expert-1", category="recruitment")
            flagged_before = sum(
                1 for c in cases if int(c["url"].split("jobs")[1].split(".")[0]) < 40 and c["label"]
            )

            labels = tmp_path / "labels.jsonl"
            assert main(["export-labels", "--out", str(labels), "--db", db, "--by", "tests"]) == 0
            rows = [json.loads(line) for line in labels.read_text(encoding="utf-8").splitlines()]
            assert len(rows) == len(batch)
            assert sum(r["label"] for r in rows) == 10
            assert {r["source"] for r in rows} == {"expert"}
            assert all(r["text"] in batch for r in rows)  # the full page text, not an excerpt
            assert {r["category"] for r in rows if r["label"]} == {"recruitment"}

            said: list[str] = []
            second = train(
                settings, export_dir=tmp_path / "export", demo_dir=demo_dir, say=said.append, labels=[labels]
            )
            assert any("expert decisions: 50 rows (10 violations)" in line for line in said)
            client = MlflowClient(tracking_uri=uri)
            run_id = client.get_model_version(tracking.MODEL_NAME, second.version).run_id
            manifest = json.loads(
                Path(client.download_artifacts(run_id, "data_manifest.json", str(tmp_path))).read_text()
            )
            champion_manifest = tracking.version_manifest(first.version)
            # the gate on held-out rows only (no challenge set): which rows would the champion be judged on?
            heldout_gate = replace(
                settings, evaluate=replace(settings.evaluate, gate_metric="average_precision")
            )
            third = train(
                heldout_gate,
                export_dir=tmp_path / "export3",
                demo_dir=demo_dir,
                say=said.append,
                labels=[labels],
            )
            old_model = tracking.load_model(f"models:/{tracking.MODEL_NAME}/{first.version}")
            new_model = tracking.load_model(f"models:/{tracking.MODEL_NAME}/{second.version}")
        finally:
            tracking.configure(tracking.default_tracking_uri())

    assert str(labels) in manifest["sources"]
    hashed = manifest["files"]  # every input by content: the expert table, the corpus and its labels
    assert len(hashed[str(labels)]) == 64 and any(name.endswith("labels.csv") for name in hashed)
    # The champion learned from every demo family (the shipped model is refitted on all of them), so
    # the gate judges both models only on the expert families the hold-out takes, which it never saw.
    trained_by_champion = set(champion_manifest["trained_families"])
    held = set(manifest["holdout_families"])
    ground = third.ground
    assert ground is not None and len(ground) > 0, third.gate_reason
    assert set(ground.frame["family"]).isdisjoint(trained_by_champion)
    assert set(ground.frame["family"]) == {f for f in held if f.startswith("expert:")}
    assert "neither model trained on" in third.gate_reason
    assert held - set(ground.frame["family"]) <= trained_by_champion  # the demo families it left out
    before = predict(old_model, _frame(unseen)).score
    after = predict(new_model, _frame(unseen)).score
    drugs = [_page(t, random.Random(9), 200 + i) for i, t in enumerate(DRUG_RECRUITING * 3)]
    print(
        f"courier jobs flagged in the batch: {flagged_before}/40; unseen courier jobs, mean score "
        f"{before.mean():.3f} -> {after.mean():.3f}; flagged {int((before >= 0.5).sum())} -> {int((after >= 0.5).sum())}"
    )
    assert after.mean() < before.mean() - 0.05
    assert np.median(predict(new_model, _frame(drugs)).score) >= 0.5  # the drug ads are still found
    assert second.metrics["average_precision"] >= first.metrics["average_precision"] - 0.05
