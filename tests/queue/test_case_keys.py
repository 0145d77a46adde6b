"""Case keys: every report of one resource (its canonical URL) is one case."""

from __future__ import annotations

import pytest

from classifier import queue
from classifier.queue import case_key


@pytest.mark.parametrize(
    ("url", "key"),
    [
        (
            "HTTPS://WWW.Example.COM:443/Path/?utm_source=tg&q=1&UTM_Medium=x#top",
            "https://example.com/Path?q=1",
        ),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com/", "http://example.com/"),
        ("http://example.com:8080/a/", "http://example.com:8080/a"),
        ("https://example.com/a?b=2&a=1&fbclid=X", "https://example.com/a?b=2&a=1"),
        ("https://user:secret@shop.kz/x", "https://shop.kz/x"),
        ("https://t.me/s/DrugShop", "https://t.me/drugshop"),
        ("https://T.me/drugshop/", "https://t.me/drugshop"),
        ("t.me/DRUGSHOP?before=120", "https://t.me/drugshop"),
        ("https://telegram.me/s/DrugShop/15", "https://t.me/drugshop/15"),
        ("https://t.me/+AbCdEf123", "https://t.me/+AbCdEf123"),  # invite hashes are case-sensitive
        ("", "record:rec-1"),
        ("   ", "record:rec-1"),
    ],
)
def test_case_key_canonicalises_urls(url: str, key: str) -> None:
    assert case_key(url, "rec-1") == key


def test_case_key_keeps_very_long_urls_indexable() -> None:
    long_a = "https://example.com/" + "я" * 2000
    key = case_key(long_a, "r")
    assert len(key.encode()) <= queue.MAX_KEY_BYTES + 100
    assert key != case_key(long_a + "b", "r")
    assert key == case_key(long_a + "/", "r")
