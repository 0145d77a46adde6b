"""Strong identifiers: each kind of contact that names a seller as one stable key.

Every contact here is fake (``*_example`` handles, ``+7 700 000 00 0X`` phones, ``.example`` and
``.invalid`` domains, wallets with "example" in them).
"""

from __future__ import annotations

import pytest

from classifier.common.config import load_settings
from classifier.text.contacts import find_contacts
from classifier.text.identifiers import IDENTIFIERS, identifier_key, identifier_keys

BECH32 = "bc1qexample0q2zx8gf2tvdw0s3jn54khce6mu"
TRON = "TExampleWa11etAddressQWErty0000001"  # base58-like: its case is part of the address
ONION = "abcdefghijklmnop.onion"
HEX = "0xabcdef" + "0" * 34


@pytest.mark.parametrize(
    ("kind", "value", "key"),
    [
        ("telegram", "@Klad_Shop_Example", "c:telegram:@klad_shop_example"),
        ("telegram", "@klad_shop_example", "c:telegram:@klad_shop_example"),
        ("telegram", "https://t.me/klad_shop_example", "c:telegram:@klad_shop_example"),
        ("telegram", "t.me/s/Klad_Shop_Example/", "c:telegram:@klad_shop_example"),
        ("telegram", "klad_shop_example", "c:telegram:@klad_shop_example"),  # as an imported list has it
        ("telegram", "@klad_bot_example", "c:telegram:@klad_bot_example"),  # a bot is a handle too
        ("wallet", BECH32.upper(), f"c:wallet:{BECH32}"),  # bech32 ignores case
        ("wallet", HEX.upper().replace("0X", "0x"), f"c:wallet:{HEX}"),  # so does hex
        ("wallet", TRON, f"c:wallet:{TRON}"),  # base58 keeps its case
        ("onion", "ABCDEFGHIJKLMNOP.onion", f"c:onion:{ONION}"),
        ("onion", "abcdefghijklmnop.onion.invalid", "c:onion:abcdefghijklmnop.onion.invalid"),
        ("phone", "8 (700) 000-00-01", "c:phone:+77000000001"),
        ("phone", "+7 700 000 00 01", "c:phone:+77000000001"),
        ("phone", "+77000000001", "c:phone:+77000000001"),
        ("whatsapp", "+77000000001", "c:phone:+77000000001"),  # a WhatsApp number is a phone
        ("card", "4400 0000 0000 0001", "c:card:4400000000000001"),
        ("email", "Shop@Mail.Example", "c:email:shop@mail.example"),
    ],
)
def test_identifier_key_of_each_kind(kind: str, value: str, key: str) -> None:
    assert identifier_key(kind, value) == key


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("card", "**** **** **** 0001"),  # masked: thousands of cards end so
        ("phone", "102"),  # a short code
        ("phone", ""),
        ("telegram", "@"),
        ("onion", "site.example"),
        ("wallet", "  "),
        ("email", "shop.example"),
    ],
)
def test_values_that_name_nobody_have_no_key(kind: str, value: str) -> None:
    assert identifier_key(kind, value) is None


def test_an_imported_phone_may_be_a_number() -> None:
    assert identifier_key("phone", 87000000001) == "c:phone:+77000000001"  # type: ignore[arg-type]


def test_keys_of_a_page_only_of_the_listed_kinds() -> None:
    text = (
        "Пиши @Klad_Shop_Example или боту t.me/klad_bot_example, звони 8 (700) 000-00-01, WhatsApp "
        "wa.me/77000000001, зеркало abcdefghijklmnop.onion, оплата "
        f"{BECH32} или {TRON}, карта **** **** **** 0001, почта shop@mail.example"
    )
    contacts = find_contacts([text])
    assert identifier_keys(contacts, ("telegram", "wallet", "onion")) == [
        "c:telegram:@klad_bot_example",  # links come first in find_contacts
        "c:telegram:@klad_shop_example",
        f"c:wallet:{BECH32}",
        f"c:wallet:{TRON}",
        f"c:onion:{ONION}",
    ]
    # the phone and the same number on WhatsApp are one key; the masked card is none
    assert identifier_keys(contacts, ("phone", "whatsapp", "card")) == ["c:phone:+77000000001"]
    assert identifier_keys(contacts, ("whatsapp",)) == ["c:phone:+77000000001"]
    assert identifier_keys(contacts, ()) == []
    assert identifier_keys({}, ("telegram", "phone")) == []


def test_the_project_setting_links_handles_wallets_and_onions() -> None:
    kinds = load_settings().score.link_contacts
    contacts = {"telegram": ["@klad_shop_example"], "phone": ["+77000000001"], "onion": [ONION]}
    keys = identifier_keys(contacts, kinds)
    assert "c:telegram:@klad_shop_example" in keys and f"c:onion:{ONION}" in keys
    assert ("c:phone:+77000000001" in keys) == ("phone" in kinds)


def test_an_unknown_kind_in_the_setting_is_an_error() -> None:
    with pytest.raises(ValueError, match="telegarm"):
        identifier_keys({"telegram": ["@klad_shop_example"]}, ("telegarm",))
    with pytest.raises(ValueError, match="url"):
        identifier_key("url", "https://site.example/")


def test_every_kind_a_page_has_can_be_listed() -> None:
    assert set(find_contacts(["нет контактов"])) == set(IDENTIFIERS)
