"""Which passwords an account may be given: long enough, and none that a guesser tries first.

Refused: fewer than ``MIN_PASSWORD_CHARS`` characters; a few characters repeated (``1111111111``,
``abababababab``); a run along the alphabet, the digits or a keyboard row (``1234567890``, ``qwertyuiop``,
``йцукенгшщз``), forwards or backwards; the commonest passwords of leaked lists, with digits or the year
appended.
"""

from __future__ import annotations

import re

MIN_PASSWORD_CHARS = 10
MIN_DISTINCT_CHARS = 4
RUNS = (
    "abcdefghijklmnopqrstuvwxyz",
    "0123456789012345678901234567890",
    "qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "qazwsxedcrfvtgbyhnujmikolp",
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    "йцукенгшщзхъфывапролджэячсмитьбю",
)
COMMON = frozenset(
    [
        "password",
        "passw0rd",
        "p@ssw0rd",
        "p@ssword",
        "qwerty",
        "qwertz",
        "azerty",
        "letmein",
        "welcome",
        "admin",
        "administrator",
        "iloveyou",
        "monkey",
        "dragon",
        "master",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "superman",
        "batman",
        "trustno1",
        "shadow",
        "michael",
        "jennifer",
        "computer",
        "internet",
        "secret",
        "changeme",
        "default",
        "starwars",
        "whatever",
        "freedom",
        "пароль",
        "пароль123",
        "секрет",
        "любовь",
        "привет",
        "админ",
        "администратор",
        "москва",
        "алматы",
        "астана",
        "казахстан",
        "россия",
        "police",
        "полиция",
        "милиция",
        "expert",
        "эксперт",
        "review",
        "classifier",
    ]
)


def password_problem(password: str | None) -> str | None:
    """Why ``password`` may not be set (in English, for the CLI and the admin), or None."""
    password = password or ""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"a password needs at least {MIN_PASSWORD_CHARS} characters"
    lowered = password.lower()
    if len(set(lowered)) < MIN_DISTINCT_CHARS or _repeats(lowered):
        return "a password of a few characters repeated is guessed first: choose another"
    if _is_run(lowered):
        return "a password along the keyboard, the alphabet or the digits is guessed first: choose another"
    core = re.sub(r"[\d\W_]+$", "", re.sub(r"^[\d\W_]+", "", lowered))  # 'Password2024!' -> 'password'
    if lowered in COMMON or core in COMMON or _is_run(core):
        return "a password from the lists guessers try first: choose another"
    return None


def _repeats(text: str) -> bool:
    """``abcabcabcabc``: a short block repeated."""
    return any(
        len(text) % n == 0 and text == text[:n] * (len(text) // n) for n in range(1, len(text) // 2 + 1)
    )


def _is_run(text: str) -> bool:
    """Consecutive characters of one of ``RUNS``, forwards or backwards (at least 4 of them)."""
    if len(text) < 4:
        return False
    return any(text in run or text[::-1] in run for run in RUNS)
