from __future__ import annotations

from classifier.text.contacts import count_contacts, find_contacts, normalise_phone


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
