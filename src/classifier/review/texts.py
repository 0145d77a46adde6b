"""The interface's words, in Russian: statuses, decisions, categories, languages, audit actions."""

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
}
ROLE = {"expert": "эксперт", "admin": "администратор"}


def label(table: dict[str, str], value: object) -> str:
    """The Russian word for a value, or the value itself when there is none."""
    text = "" if value is None else str(value)
    return table.get(text, text)
