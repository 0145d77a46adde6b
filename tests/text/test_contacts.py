from __future__ import annotations

import pytest

from classifier.text.contacts import count_contacts, find_contacts, normalise_phone, whatsapp_phone


def test_finds_every_kind() -> None:
    text = (
        "Пиши @shop_kz_example или в t.me/klad_example, WhatsApp wa.me/77000000003, звони +7 (700) 000-00-01 "
        "или 87000000002, почта shop@mail.example, зеркало abcdefghijklmnop.onion, "
        "оплата bc1qexample0q2zx8gf2tvdw0s3jn54khce6mu и карта 4400 0000 0000 0001"
    )
    found = find_contacts([text])
    assert found["telegram"] == ["@klad_example", "@shop_kz_example"]
    assert found["whatsapp"] == ["+77000000003"]
    assert found["phone"] == ["+77000000001", "+77000000002", "+77000000003"][:2]
    assert found["email"] == ["shop@mail.example"]
    assert found["onion"] == ["abcdefghijklmnop.onion"]
    assert found["wallet"] and found["wallet"][0].startswith("bc1q")
    assert found["card"] == ["4400 0000 0000 0001"]
    assert count_contacts(found) >= 8


def test_links_count_too() -> None:
    found = find_contacts(["нет контактов"], ["https://t.me/hidden_bot_example", "https://site.example/"])
    assert found["telegram"] == ["@hidden_bot_example"]


def test_email_is_not_a_handle() -> None:
    assert find_contacts(["info@site.example"])["telegram"] == []


def test_phone_formats() -> None:
    assert normalise_phone("8 (700) 000 00 07") == "+77000000007"
    assert normalise_phone("+7 700 000 00 07") == "+77000000007"


# -- phones in E.164 (phonenumbers, region KZ) ---------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [
        "8 700 000 00 05",  # the local trunk prefix
        "8 (700) 000-00-05",
        "8-700-000-00-05",
        "87000000005",
        "+7 (700) 000-00-05",
        "+7(700)000-00-05",
        "+7 700 000 00 05",
        "+7-700-000-00-05",
        "+77000000005",
        " +7 700 000 00 05 ",
    ],
)
def test_phone_forms_pages_use_are_e164(raw: str) -> None:
    assert normalise_phone(raw) == "+77000000005"
    assert normalise_phone(normalise_phone(raw)) == "+77000000005"  # normalising again changes nothing


@pytest.mark.parametrize(
    "link",
    [
        "https://wa.me/77000000006",
        "wa.me/77000000006",
        "https://wa.me/+77000000006",
        "https://api.whatsapp.com/send?phone=77000000006",
        "wa.me/87000000006",  # the local form, which wa.me does not take but pages write
    ],
)
def test_whatsapp_links_are_e164(link: str) -> None:
    assert whatsapp_phone(link) == "+77000000006"
    assert find_contacts(["Пишите в WhatsApp"], [link])["whatsapp"] == ["+77000000006"]


def test_every_written_form_of_one_phone_is_one_contact() -> None:
    text = "Звони 8 (700) 000-00-05, +7 700 000 00 05 или +7(700)000-00-05; тот же номер: 87000000005"
    assert find_contacts([text])["phone"] == ["+77000000005"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # no such range in +7: phonenumbers reads the 8 10 as the old international prefix (to +80000001)
        ("8 (108) 000-00-01", "+71080000001"),
        ("8 (100) 000-00-01", "+71000000001"),  # parses, but no allocated range: digits as written
        ("12", "+12"),  # too short to parse
        ("", "+"),
    ],
)
def test_phone_fallback_keeps_the_digits(raw: str, expected: str) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["8 (108) 000-00-01", "8 (100) 000-00-01"])
def test_phone_fallback_is_kept_when_normalised_again(raw: str) -> None:
    once = normalise_phone(raw)
    assert normalise_phone(once) == once
