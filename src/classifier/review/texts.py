"""The interface's words, in Russian: statuses, decisions, categories, languages, audit actions, shops."""

from __future__ import annotations

STATUS = {
    "new": "новое",
    "pending": "ждёт второго подтверждения",
    "confirmed": "нарушение подтверждено",
    "rejected": "нарушения нет",
    "unsure": "нужна повторная проверка",
}
DECISION = {  # a decision made, as lists and the audit log name it
    "confirmed": "нарушение подтверждено",
    "rejected": "нарушения нет",
    "unsure": "нужна повторная проверка",
}
BUTTON = {  # the decision form's buttons; a confirmation is what gets the resource blocked
    "confirmed": "Подтвердить нарушение (блокировать)",
    "rejected": "Нарушения нет",
    "unsure": "Нужна повторная проверка",
}
CATEGORY = {
    "sale": "сбыт",
    "recruitment": "вербовка",
    "propaganda": "пропаганда",
    "none": "—",
}
LANGUAGE = {"ru": "русский", "kk": "казахский", "mixed": "смешанный", "other": "другой"}
CONTACT = {
    "telegram": "Telegram",
    "whatsapp": "WhatsApp",
    "phone": "Телефоны",
    "email": "Эл. почта",
    "wallet": "Криптокошельки",
    "card": "Банковские карты",
    "onion": "Адреса .onion",
    "url": "Ссылки",
}
PLACEHOLDER = {
    "_tg_": "контакт в Telegram",
    "_phone_": "номер телефона",
    "_whatsapp_": "WhatsApp",
    "_email_": "эл. почта",
    "_url_": "ссылка",
    "_onion_": "адрес .onion",
    "_wallet_": "криптокошелёк",
    "_card_": "номер карты",
}
# The same, shorter, after a cue's label: «контакт: Telegram @shop» (review/evidence.py)
CONTACT_KIND = {
    **PLACEHOLDER,
    "_tg_": "Telegram",
    "_phone_": "телефон",
}
ACTION = {
    "decision": "решение",
    "login": "вход",
    "login_failed": "неудачный вход",
    "login_blocked": "вход заблокирован",
    "logout": "выход",
    "user_added": "добавлен пользователь",
    "user_disabled": "пользователь отключён",
    "user_enabled": "пользователь включён",
    "password_changed": "смена пароля",
    "export": "выгрузка дел",
    "export_labels": "выгрузка решений для обучения",
    "claim_released": "дело освобождено администратором",
    "bank_import": "загрузка решённых ресурсов в базу магазинов",
    "export_audit": "выгрузка журнала действий",
}
# The audit entries' details (``detail`` keys), and the actors that are no person's account
DETAIL = {
    "username": "учётная запись",
    "role": "роль",
    "ip": "адрес",
    "wait_seconds": "ждать, секунд",
    "expert": "эксперт",
    "status": "статус",
    "cases": "дел",
    "rows": "строк",
    "file": "файл",
    "since": "начиная с",
    "sha256": "контрольная сумма SHA-256",
    "run_id": "запуск",
    "lines": "строк в файле",
    "imported": "загружено",
    "already_imported": "уже были загружены",
    "errors": "ошибок",
    "filters": "условия",
}
ACTOR = {
    "cli": "командная строка",  # `--by` left at its default by an administrator at the server
    "?": "неизвестный (вход не удался)",  # accounts.NOBODY: a login that named no verified user
}
ROLE = {"expert": "эксперт", "admin": "администратор"}
SHOP_STATUS = {  # bank.shop_status: confirmed if experts confirmed any of its pages
    "confirmed": "подтверждён экспертами",
    "rejected": "отклонён экспертами",
    "undecided": "не решён",
}
# Why a decision on a shop left a page alone (queue.decisions)
SKIPPED = {
    "unknown": "такого дела нет",
    "other_shop": "ресурс больше не относится к этому магазину",
    "changed": "пока страница магазина была открыта, по этому ресурсу вынесено решение",
    "decided": "по ресурсу уже есть решение эксперта: оно не меняется",
    "already_confirmed": "вы уже подтвердили его: нужно подтверждение другого эксперта",
}
# How a decision named its shop (the audit entry's "how")
SHOP_DECISION = {
    "mirror": "как зеркало магазина",
    "shop": "по магазину сразу",
}


def label(table: dict[str, str], value: object) -> str:
    """The Russian word for a value, or the value itself when there is none."""
    text = "" if value is None else str(value)
    return table.get(text, text)


def detail_value(key: str, value: object) -> str:
    """An audit detail's value in words: roles and statuses translated, anything else as stored."""
    tables = {"role": ROLE, "status": STATUS}
    return label(tables[key], value) if key in tables else label({}, value)


def plural(n: int, one: str, few: str, many: str) -> str:
    """The Russian form for ``n``: 1, 21 «дело»; 2-4, 22 «дела»; 0, 5-20, 11-14 «дел»."""
    if n % 10 == 1 and n % 100 != 11:
        return one
    return few if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14) else many
