"""Case keys: the canonical URL that makes every report of one resource one case."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

# Query parameters that only track the visitor: the same page with another campaign tag is one case.
TRACKING_PARAMS = ("fbclid", "gclid", "yclid", "ysclid")
DEFAULT_PORTS = {"http": 80, "https": 443}
TELEGRAM_HOSTS = ("t.me", "telegram.me", "telegram.dog")
MAX_KEY_BYTES = 1000  # keeps the unique index within PostgreSQL's B-tree entry limit (~2.7 kB)


def case_key(url: str, record_id: str) -> str:
    """The identity of the resource behind a scored row: one case per key.

    The canonical URL: lower-case scheme and host, no leading ``www.``, no default port, user info,
    fragment, ``utm_*`` or click-id parameters, no trailing slash except on the root. Telegram's web
    preview ``t.me/s/NAME`` is the channel ``t.me/NAME``, and channel names are case-insensitive.
    A row without a URL (a text file, a message dump) is its own case: ``record:<record_id>``.
    """
    url = (url or "").strip()
    if not url:
        return f"record:{record_id}"
    parts = urlsplit(url if "//" in url else f"//{url}")  # "t.me/x" has no scheme but a host
    scheme = parts.scheme.lower() or "https"
    host, port = _host_port(parts.netloc)
    if host in TELEGRAM_HOSTS:
        return _bounded(_telegram_key(parts.path))
    if port and not (port.isdigit() and int(port) == DEFAULT_PORTS.get(scheme)):
        host = f"{host}:{port}"  # a non-default (or malformed) port stays part of the key
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    query = _clean_query(parts.query) if parts.query else ""
    return _bounded(f"{scheme}://{host}{path}?{query}" if query else f"{scheme}://{host}{path}")


def _host_port(netloc: str) -> tuple[str, str]:
    """Lower-case host without ``www.`` or user info, and the port as written ("" when absent)."""
    hostport = netloc.rpartition("@")[2]  # user info never identifies a resource (and may be a password)
    if hostport.startswith("["):  # an IPv6 literal keeps its brackets
        host, _, rest = hostport.partition("]")
        host, port = host + "]", rest.removeprefix(":")
    else:
        host, _, port = hostport.partition(":")
    return host.lower().rstrip(".").removeprefix("www."), port


def _clean_query(query: str) -> str:
    """Drop tracking parameters, keeping the others as written (their order and encoding)."""
    kept = []
    for pair in query.split("&"):
        name = pair.split("=", 1)[0].lower()
        if pair and not name.startswith("utm_") and name not in TRACKING_PARAMS:
            kept.append(pair)
    return "&".join(kept)


_TG_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _telegram_key(path: str) -> str:
    """``t.me/s/Name/12?before=3`` → ``https://t.me/name/12``; invite links keep their case."""
    segments = [s for s in path.split("/") if s]
    if segments[:1] == ["s"]:
        segments = segments[1:]
    if segments and _TG_USERNAME.match(segments[0]) and segments[0].lower() != "joinchat":
        segments[0] = segments[0].lower()  # usernames are case-insensitive; invite hashes are not
    return "https://t.me/" + "/".join(segments)


def _bounded(key: str) -> str:
    """Keep very long keys indexable: a readable prefix plus a hash of the whole key.

    ``#`` cannot occur in a canonical URL (fragments are dropped), so these keys never collide with one.
    """
    raw = key.encode("utf-8")
    if len(raw) <= MAX_KEY_BYTES:
        return key
    prefix = raw[: MAX_KEY_BYTES - 100].decode("utf-8", errors="ignore")
    return f"{prefix}#sha256:{hashlib.sha256(raw).hexdigest()}"
