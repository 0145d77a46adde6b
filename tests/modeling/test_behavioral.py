"""Behavioural tests of the trained model (minimum functionality, invariance, direction, disguises).

The texts are hand-written, in Russian and Kazakh, with fake contacts only. They judge how the model
generalises beyond the demo corpus: a failing realistic case is marked ``xfail(strict=True)`` with the
score seen, never softened, so that the model can be improved against it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from classifier.common.config import PROJECT_ROOT

from .conftest import Scorer

PRESS_RELEASE = PROJECT_ROOT.parent / "shared" / "data" / "press_release_ru.txt"

# -- minimum functionality ----------------------------------------------------------------------------
VIOLATIONS = {
    "sale-ru": (
        "Магазин 24/7 в Алматы. Меф кристаллы 1г — 15000 тг, 2г — 28000 тг. Шишки АК-47 1г — 12000 тг. "
        "Только закладки: магнит, прикоп. Перезаклад при ненаходе. Оплата на карту или USDT. "
        "Оператор @shop_example, бот @shopbot_example."
    ),
    "sale-kk": (
        "Алматы қаласында тауар сатылады! Меф 1г бағасы 15000 теңге, шишки 1г — 12000 теңге. "
        "Жасырын жерге тез жеткізу, кепілдік бар. Байланыс: @dala_example, ақша картаға немесе USDT."
    ),
    "sale-mixed": (
        "Сәлем! Шымкентте меф және шишки бар, 1г — 14000 тг. Закладка тез жасалады, әр аудан бойынша клад. "
        "Оператор @mix_example, оплата картаға."
    ),
    "recruitment-ru": (
        "Работа для курьеров-закладчиков в Караганде! Оплата 5000 тг за каждый клад, выплаты каждую неделю. "
        "Без опыта, 18+, обучение бесплатно. Нужен залог или фото паспорта. Пиши @rabota_example"
    ),
    "recruitment-kk": (
        "Жұмыс бар! Закладчик керек, әр кладқа 5000 теңге, апта сайын табыс. Тәжірибе керек емес, 18+. "
        "Залог немесе паспорт фотосы керек. Байланыс @jumys_example"
    ),
    "propaganda-ru": (
        "Кто ещё не пробовал меф от @shop_example — вы многое теряете. Лучший кайф в городе, всё чисто, "
        "клад всегда на месте. Где взять? Только тут, рекомендую всем."
    ),
    "disguised-recruitment-ru": (
        "Вакансия курьера, работа с телефона, 1-2 часа в день. Доход от 15 000 тг в день, выплаты "
        "ежедневно. Без опыта, 16+. Подробности в личке @hr_example"
    ),
    "disguised-recruitment-kk": (
        "Курьер керек, күніне 20 000 теңге табыс, телефонмен жұмыс, тәжірибе керек емес. Жаз @hr_example"
    ),
    "sale-kk-no-slang": (
        "Есірткі сатамыз. Тез жеткізу, жасырын жер, кепілдік. Бағасы арзан. Байланыс @kz_example"
    ),
    "propaganda-kk": (
        "Меф көңіл-күйді көтереді, бір рет көріңдер! Қайдан алуға болады? @shop_example дүкені ең жақсысы, "
        "клад әрқашан орнында, кеңес беремін."
    ),
}

NEGATIVES = {
    "bicycle-sale-ru": "Продаю велосипед, самовывоз из Алматы.",
    "police-news-ru": (
        "Сотрудники полиции Алматы задержали 25-летнего жителя города, который занимался сбытом наркотиков "
        "через закладки. У подозреваемого изъято 150 граммов мефедрона и 2 килограмма марихуаны. "
        "Возбуждено уголовное дело по статье 297 УК РК. Полиция напоминает: за сбыт наркотиков грозит "
        "до 15 лет лишения свободы."
    ),
    "police-news-kk": (
        "Шымкент қаласының полиция қызметкерлері есірткі сатумен айналысқан 30 жастағы тұрғынды ұстады. "
        "Одан 200 грамм синтетикалық есірткі тәркіленді. ҚР ҚК 297-бабы бойынша қылмыстық іс қозғалды. "
        "Полиция ата-аналарды балаларының интернеттегі әрекетін қадағалауға шақырады."
    ),
    "court-news-ru": (
        "Суд Караганды приговорил 19-летнего закладчика к 10 годам лишения свободы. Молодой человек "
        "устроился курьером в интернет-магазин через Telegram и успел сделать 40 закладок с мефедроном."
    ),
    "pharmacy-ru": (
        "Аптека «Здоровье» — доставка лекарств по Алматы за 2 часа. Парацетамол 500 мг — 350 тг, "
        "Нурофен 200 мг — 1200 тг, витамин С — 900 тг. Оплата картой или наличными курьеру. "
        "Заказ по телефону +7 700 000 00 01 или на сайте apteka.example."
    ),
    "pharmacy-kk": (
        "«Денсаулық» дәріханасы: дәрі-дәрмекті Алматы бойынша 2 сағатта жеткізу. Парацетамол 500 мг — "
        "350 теңге, витаминдер — 900 теңге. Тапсырыс: +7 700 000 00 05."
    ),
    "courier-job-ru": (
        "Требуются курьеры в службу доставки еды в Караганде. Оплата от 300 000 тг в месяц, выплаты "
        "каждую неделю, гибкий график. Можно без опыта, 18+. Официальное трудоустройство. "
        "Звоните +7 700 000 00 02."
    ),
    "courier-job-kk": (
        "Тамақ жеткізу қызметіне курьерлер керек. Айына 300 000 теңгеден табыс, апта сайын төлем, икемді "
        "кесте. Тәжірибе керек емес. Ресми жұмысқа орналастыру. Байланыс +7 700 000 00 06."
    ),
    "garden-shop-ru": (
        "Садовый центр «Жасыл бақ»: семена томатов, огурцов и перца, рассада клубники, удобрения. "
        "Семена газонной травы 1 кг — 4500 тг. Доставка по Шымкенту, самовывоз со склада. "
        "Тел. +7 700 000 00 03, сайт bak.example"
    ),
    "bath-salt-ru": (
        "Морская соль для ванн с лавандой и эвкалиптом, 1 кг — 2500 тг. Натуральные кристаллы соли, "
        "расслабляет после тяжёлого дня. Доставка курьером по Алматы, пишите в WhatsApp +7 700 000 00 04."
    ),
    "rehab-clinic-ru": (
        "Наркологическая клиника в Алматы: анонимно, 24/7. Выезд нарколога на дом, лечение зависимости "
        "от мефедрона и солей. Звоните +7 700 000 00 07."
    ),
    "parents-guide-ru": (
        "Памятка для родителей: как понять, что подросток связался с закладками. Сленг: меф, соль, шишки, "
        "клад, магнит. Если нашли такие слова в переписке ребёнка — обратитесь на горячую линию 102."
    ),
    "parents-guide-kk": (
        "Ата-аналарға арналған жаднама: баланың есірткіге әуестенгенін қалай білуге болады. "
        "Жасөспірімдер арасында «закладка», «меф», «соль» деген сөздер тарайды. Күдік болса, 102 нөміріне "
        "хабарласыңыз."
    ),
    "garden-shop-kk": (
        "Бақша дүкені: қызанақ, қияр тұқымдары, көшеттер, тыңайтқыштар. Шымкент бойынша жеткізу. "
        "Тел. +7 700 000 00 09"
    ),
    "bath-salt-kk": (
        "Ваннаға арналған теңіз тұзы, 1 кг — 2500 теңге. Табиғи тұз кристалдары. Алматы бойынша "
        "курьермен жеткізу, WhatsApp +7 700 000 00 10."
    ),
    "harm-reduction-ru": (
        "Снижение вреда: если вы употребляете, никогда не делайте это в одиночку. Бесплатные тесты на ВИЧ "
        "и консультации психолога анонимно. Горячая линия +7 700 000 00 08."
    ),
    "worried-parent-forum-ru": (
        "Помогите советом: нашла у сына в телефоне переписку про какие-то закладки и бота. Что делать, "
        "куда обращаться? Очень страшно."
    ),
    "song-lyrics-ru": "Снег идёт, и город спит, белый снег летит в окно, мы с тобой одни давно.",
    "film-review-ru": (
        "Посмотрел сериал «Во все тяжкие» — отличная история про учителя химии, который начал варить мет. "
        "Рекомендую всем, кто любит драмы."
    ),
}


def _telegram_shortcut(seen: float) -> pytest.MarkDecorator:
    return pytest.mark.xfail(
        strict=True,
        reason=f"a Telegram handle plus 'operator / 24/7 / delivery' wording still reads as a shop: scored "
        f"~{seen:.2f}, above the threshold (demo corpus n=800, seed 3)",
    )


def _missed(seen: float) -> pytest.MarkDecorator:
    return pytest.mark.xfail(
        strict=True,
        reason=f"missed violation: scored ~{seen:.2f}, below the threshold (demo corpus n=800, seed 3)",
    )


def _cases(cases: dict[str, Any], known: dict[str, Any], mark: Callable[[Any], pytest.MarkDecorator]) -> list:
    """One param per case (a tuple spreads over several arguments), the known failures marked."""
    return [
        pytest.param(
            *(case if isinstance(case, tuple) else (case,)),
            id=k,
            marks=[mark(known[k])] if k in known else [],
        )
        for k, case in cases.items()
    ]


def _moves(what: str) -> Callable[[str], pytest.MarkDecorator]:
    return lambda seen: pytest.mark.xfail(
        strict=True, reason=f"the {what} moves the score: {seen} (n=800, seed 3)"
    )


# Legitimate businesses in Kazakhstan take orders through Telegram, too.
NEGATIVES_WITH_TELEGRAM = [
    pytest.param(
        "Аптека «Здоровье» — доставка лекарств по Алматы за 2 часа. Парацетамол 500 мг — 350 тг, "
        "Нурофен 200 мг — 1200 тг. Заказ в Telegram @apteka_example.",
        id="pharmacy-ru",
    ),
    pytest.param(
        "«Денсаулық» дәріханасы: дәрі-дәрмекті Алматы бойынша 2 сағатта жеткізу. Парацетамол 500 мг — "
        "350 теңге. Тапсырыс: @dari_example.",
        id="pharmacy-kk",
    ),
    pytest.param(
        "Садовый центр «Жасыл бақ»: семена томатов, огурцов и перца, рассада клубники, удобрения. "
        "Семена газонной травы 1 кг — 4500 тг. Доставка по Шымкенту. Telegram: @bak_example",
        id="garden-shop-ru",
    ),
    pytest.param(
        "Шымкенттегі вейп-дүкен: сұйықтықтар, бір реттік вейптер, кальян темекісі. Қала бойынша жеткізу, "
        "21+. Жазыңыз @vape_example.",
        id="vape-shop-kk",
    ),
    pytest.param(
        "Требуются курьеры в службу доставки еды в Караганде. Оплата от 300 000 тг в месяц, гибкий "
        "график. Официальное трудоустройство. Пишите @food_example.",
        id="courier-job-ru",
    ),
    pytest.param(
        "Морская соль для ванн с лавандой, 1 кг — 2500 тг. Натуральные кристаллы соли. Доставка по "
        "Алматы, пишите @salt_example.",
        id="bath-salt-ru",
    ),
    pytest.param(
        "Вейп-шоп в Шымкенте: жидкости, одноразки, табак для кальяна. Доставка по городу, 18+. "
        "Пишите @vape_example.",
        id="vape-shop-ru",
    ),
    pytest.param(
        "Обменник криптовалют: USDT, BTC на тенге по лучшему курсу. Работаем 24/7, без комиссии. "
        "Оператор @exchange_example.",
        id="crypto-exchange-ru",
        marks=_telegram_shortcut(0.35),
    ),
    pytest.param(
        "USDT және BTC теңгеге ең жақсы бағамен айырбастау. Тәулік бойы жұмыс істейміз, комиссиясыз. "
        "Менеджер @exchange_example.",
        id="crypto-exchange-kk",
        marks=_telegram_shortcut(0.35),
    ),
    pytest.param(
        "Новости Шымкента: на Телеграм-канале @shymkent_news_example публикуем главные события города. "
        "Подписывайтесь!",
        id="city-news-channel-ru",
    ),
]


MISSED = {"disguised-recruitment-ru": 0.09}
# Legitimate texts above the triage threshold (target recall 0.90 on out-of-fold scores): issue 15 owns them
# Measured on this suite's small model; the demo-size model (7,800 pages) scores both 0.017-0.199,
# under its threshold (0.61): a small sample of the corpus's bath-salt and Kazakh job texts decides.
# That model misses three violations the small one finds (disguised-recruitment-ru 0.19, -kk 0.54,
# sale-kk-no-slang 0.49; 0.05, 0.30 and 0.20 on the corpus before the fourth set of written texts).
FALSE_ALARMS = {
    "courier-job-kk": 0.40,
    "bath-salt-ru": 0.50,
}


def _false_alarm(seen: float) -> pytest.MarkDecorator:
    return pytest.mark.xfail(
        strict=True,
        reason=f"false alarm: scored ~{seen:.2f}, above the triage threshold (demo corpus n=800, seed 3)",
    )


@pytest.mark.parametrize("text", _cases(VIOLATIONS, MISSED, _missed))
def test_violations_score_above_the_threshold(score: Scorer, threshold: float, text: str) -> None:
    assert score([text])[0] >= threshold


@pytest.mark.parametrize("text", _cases(NEGATIVES, FALSE_ALARMS, _false_alarm))
def test_hard_negatives_score_below_the_threshold(score: Scorer, threshold: float, text: str) -> None:
    assert score([text])[0] < threshold


@pytest.mark.parametrize("text", NEGATIVES_WITH_TELEGRAM)
def test_legitimate_posts_with_a_telegram_contact_score_below_the_threshold(
    score: Scorer, threshold: float, text: str
) -> None:
    assert score([text])[0] < threshold


def test_police_press_release_scores_below_the_threshold(score: Scorer, threshold: float) -> None:
    if not PRESS_RELEASE.is_file():
        pytest.skip(f"{PRESS_RELEASE} is not available")
    assert score([PRESS_RELEASE.read_text(encoding="utf-8")])[0] < threshold


# -- invariance -------------------------------------------------------------------------------------
# Russian needs the case forms: (nominative, "в ...", "по ...").
CITIES_RU = [
    ("Алматы", "в Алматы", "по Алматы"),
    ("Шымкент", "в Шымкенте", "по Шымкенту"),
    ("Караганда", "в Караганде", "по Караганде"),
]
CITIES_KK = ["Алматы", "Шымкент", "Қарағанды"]
HANDLES = ["@shop_example", "@moon_example", "@kristall_example", "t.me/almaty_drop_example"]

TEMPLATES = {
    "sale-ru": (
        "Магазин {in_city}. Меф кристаллы 1г — 15000 тг. Закладки {over_city}: магнит, прикоп. "
        "Оператор {handle}."
    ),
    "recruitment-ru": (
        "Город {city}: нужны курьеры-закладчики, 5000 тг за клад, выплаты каждую неделю. Пиши {handle}"
    ),
    "short-offer-ru": "Кристаллы в наличии {in_city}, чистота высокая. Пиши {handle}",
    "police-news-ru": (
        "Полиция {in_city} задержала сбытчика наркотиков, изъято 150 граммов мефедрона. "
        "Возбуждено уголовное дело."
    ),
    "sale-kk": (
        "{city} қаласында тауар сатылады! Меф 1г бағасы 15000 теңге. Жасырын жерге тез жеткізу. "
        "Байланыс: {handle}"
    ),
    "short-offer-kk": "{city} қаласында жақсы тауар бар, сапасы керемет. Жаз: {handle}",
    "police-news-kk": (
        "{city} қаласының полициясы есірткі сатушыны ұстады, 150 грамм есірткі тәркіленді. "
        "Қылмыстық іс қозғалды."
    ),
}


def _city_variants(template: str) -> list[str]:
    if "қала" in template:
        return [template.format(city=c, handle=HANDLES[0]) for c in CITIES_KK]
    return [
        template.format(city=nom, in_city=in_city, over_city=over, handle=HANDLES[0])
        for nom, in_city, over in CITIES_RU
    ]


def _handle_variants(template: str) -> list[str]:
    city_ru = CITIES_RU[0]
    return [
        template.format(city=city_ru[0], in_city=city_ru[1], over_city=city_ru[2], handle=h) for h in HANDLES
    ]


CITY_MOVES: dict[str, str] = {}


@pytest.mark.parametrize("template", _cases(TEMPLATES, CITY_MOVES, _moves("city")))
def test_city_does_not_move_the_score(score: Scorer, template: str) -> None:
    scores = score(_city_variants(template))
    assert scores.max() - scores.min() < 0.1, scores


@pytest.mark.parametrize(
    "template",
    [t for t in TEMPLATES.values() if "{handle}" in t],
    ids=[k for k, t in TEMPLATES.items() if "{handle}" in t],
)
def test_handle_does_not_move_the_score(score: Scorer, template: str) -> None:
    scores = score(_handle_variants(template))
    assert scores.max() - scores.min() < 0.1, scores


# -- direction --------------------------------------------------------------------------------------
BORDERLINE = {
    "goods-ru": "Есть хороший товар, качество отличное, пиши если интересно.",
    "crystals-ru": "Кристаллы в наличии, чистота высокая. Цены приятные, работаем по всему городу.",
    "party-ru": "Вечеринка в субботу, будет весело, приходите с друзьями.",
    "goods-kk": "Жақсы тауар бар, сапасы керемет. Қызықсаң, жаз.",
}
STASH_OFFERS = {
    "ru": " Закладки по городу: магнит, прикоп, фото с координатами сразу после оплаты. Пиши @drop_example",
    "kk": " Жасырын жерге закладка жасаймыз, магнит, прикоп, төлемнен кейін координаттар. Байланыс @drop_example",
}


@pytest.mark.parametrize("offer", STASH_OFFERS.values(), ids=STASH_OFFERS.keys())
@pytest.mark.parametrize("text", BORDERLINE.values(), ids=BORDERLINE.keys())
def test_a_stash_drop_offer_and_contact_raise_the_score(score: Scorer, text: str, offer: str) -> None:
    before, after = score([text, text + offer])
    assert after > before


ADS = {
    "mef-ru": "Меф кристаллы 1г — 15000 тг. Закладки по Алматы, магнит и прикоп. Оператор @shop_example.",
    "cannabis-ru": "Шишки АК-47, 1г — 12000 тг. Клад в течение часа, перезаклад при ненаходе. Пиши @green_example.",
    "crystals-ru": "Кристаллы в наличии, чистота высокая. Цены приятные, работаем по всему городу.",
    "mef-kk": "Меф 1г — 15000 теңге. Алматы бойынша закладка, магнит. Байланыс @shop_example.",
    "goods-kk": "Жақсы тауар бар, сапасы керемет. Қызықсаң, жаз.",
}
POLICE_FRAMES = {
    "ru-before": "Полиция изъяла наркотики у продавца, который публиковал объявления: {ad}",
    "ru-after": "{ad} Полиция изъяла весь товар, продавец задержан, возбуждено уголовное дело.",
    "kk-before": "Полиция есірткіні тәркіледі. Сатушы мынадай хабарлама жариялаған: {ad}",
}


@pytest.mark.parametrize("frame", POLICE_FRAMES.values(), ids=POLICE_FRAMES.keys())
@pytest.mark.parametrize("ad", ADS.values(), ids=ADS.keys())
def test_police_seizure_framing_lowers_the_score(score: Scorer, ad: str, frame: str) -> None:
    before, after = score([ad, frame.format(ad=ad)])
    assert after < before


# -- disguises ----------------------------------------------------------------------------------------
DISGUISES = {
    "latin-lookalikes-ru": (
        "Меф и соль в наличии, 1г — 15000 тг. Закладки по Алматы, оператор @shop_example.",
        "MEФ и COЛЬ в наличии, 1г — 15000 тг. 3акладки по Алматы, оператор @shop_example.",
    ),
    "spelled-out-ru": (
        "Соль и меф, 1г — 15000 тг. Закладки по Шымкенту, пиши @shop_example.",
        "С.о.л.ь и м-е-ф, 1г — 15000 тг. 3акладки по Шымкенту, пиши @shop_example.",
    ),
    "digits-for-letters-ru": (
        "Кокс и меф высшего качества. Закладки в Караганде, магнит и прикоп. Оператор @shop_example.",
        "К0кс и мeф высшего качества. 3акладки в Караганде, магнит и прик0п. Оператор @shop_example.",
    ),
    "emoji-codes-ru": (
        "Кокс 1г — 30000 тг, шишки 1г — 12000 тг, таблы — 8000 тг. Закладки по Алматы, пиши @shop_example.",
        "❄️ 1г — 30000 тг, 🍁 1г — 12000 тг, 💊 — 8000 тг. Закладки по Алматы, пиши @shop_example.",
    ),
    "invisible-characters-ru": (
        "Меф кристаллы, закладки по городу. Пиши @shop_example.",
        "Ме\u200bф крис\u00adталлы, за\u200bкладки по городу. Пиши @shop_example.",
    ),
    "stylised-letters-ru": (
        "Меф кристаллы, закладки по городу. Пиши @shop_example.",
        "𝐌𝐄Ф кристаллы, закладки по городу. Пиши @shop_example.",
    ),
    "spaced-letters-ru": (
        "Меф в наличии. Пиши @shop_example",
        "М е ф в наличии. Пиши @shop_example",
    ),
    "latin-lookalikes-kk": (
        "Меф сатылады, 1г бағасы 15000 теңге. Закладка тез, байланыс @shop_example.",
        "MEФ сатылады, 1г бағасы 15000 теңге. 3акладка тез, байланыс @shop_example.",
    ),
    "emoji-codes-kk": (
        "Кокс пен шишки сатылады! Бағасы 1г — 25000 теңге. Жасырын жерге жеткізу, байланыс @shop_example.",
        "❄️ пен 🍁 сатылады! Бағасы 1г — 25000 теңге. Жасырын жерге жеткізу, байланыс @shop_example.",
    ),
}


DISGUISE_GAPS: dict[str, str] = {}


@pytest.mark.parametrize(("clean", "disguised"), _cases(DISGUISES, DISGUISE_GAPS, _moves("disguise")))
def test_a_disguised_ad_scores_like_its_clean_form(score: Scorer, clean: str, disguised: str) -> None:
    clean_score, disguised_score = score([clean, disguised])
    assert abs(disguised_score - clean_score) < 0.15
