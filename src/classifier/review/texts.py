"""The interface's words, in Russian: statuses, decisions, categories, languages, audit actions, shops."""

from __future__ import annotations

STATUS = {
    "new": "новое",
    "pending": "ждёт второго подтверждения",
    "confirmed": "нарушение подтверждено",
    "rejected": "нарушения нет",
    "unsure": "нужна повторная проверка",
}
DECISION = {
    "confirmed": "Нарушение подтверждено (блокировать)",
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
