"""The queue's order: how likely and how harmful a case is, how widely it is spread, and how fresh.

    priority = 100 * score * severity[category] * source_weights[source kind]
               * (1 + cluster_weight * ln(cluster_size)) * recency
    recency  = max(min_recency, 0.5 ** (days since the page was fetched / recency_half_life_days))

A page of a shop experts confirmed before (``known.py``) is a mirror until an expert says otherwise:
its score counts as at least ``known_shop_score`` and its priority is multiplied by ``known_shop_weight``,
so mirrors lead the queue even when their new disguises fool the model.

Every factor is set in ``params.yaml`` (section ``score``). The score is the calibrated probability, so
priority 100 means a certain, severe, single, fresh page from an ordinary web source. Pages below the
model's threshold keep their low priority rather than being dropped: experts can page past them.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

from classifier.common.config import ScoreSettings

_TELEGRAM_HOSTS = ("t.me", "telegram.me", "telegram.dog")
_SOCIAL_HOSTS = ("vk.com", "instagram.com", "facebook.com", "tiktok.com", "ok.ru", "x.com", "twitter.com")
_CLASSIFIED_HOSTS = ("olx.kz", "krisha.kz", "kolesa.kz", "market.kz", "avito.ru", "satu.kz")
_CLASSIFIED_PATH = re.compile(r"^/(?:obyavlenie|obyavleniya|ads?)(?:/|[-.]|$)")
_SOCIAL_PATH = re.compile(r"^/(?:wall-?\d|id\d+(?:/|$)|profile(?:/|$))")


def _on(host: str, domains: tuple[str, ...]) -> bool:
    """The host is one of ``domains`` or a subdomain of one (yandex.com is not x.com)."""
    return any(host == d or host.endswith("." + d) for d in domains)


def source_kind(url: str) -> str:
    """telegram | onion | social | classifieds | web, from the URL alone."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = (parts.hostname or "").lower().removeprefix("www.")
    path = parts.path.lower()
    if _on(host, _TELEGRAM_HOSTS) or url.startswith("tg://"):
        return "telegram"
    if host.endswith(".onion") or ".onion." in host:
        return "onion"
    if _on(host, _SOCIAL_HOSTS) or _SOCIAL_PATH.match(path):
        return "social"
    if _on(host, _CLASSIFIED_HOSTS) or _CLASSIFIED_PATH.match(path):
        return "classifieds"
    return "web"


def recency(fetched_at: str, now: datetime, settings: ScoreSettings) -> float:
    """Fresh pages first; an unknown fetch time counts as fresh (the report just arrived)."""
    if not fetched_at:
        return 1.0
    try:
        fetched = datetime.fromisoformat(fetched_at.replace("Z", "+00:00"))
    except ValueError:
        return 1.0
    # times without a zone are UTC, as crawlers and WARC dates write them
    fetched = fetched if fetched.tzinfo else fetched.replace(tzinfo=UTC)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    age_days = max(0.0, (now - fetched).total_seconds() / 86400)
    return max(settings.min_recency, 0.5 ** (age_days / settings.recency_half_life_days))


def priority(
    score: float | None,
    category: str | None,
    kind: str,
    cluster_size: int,
    freshness: float,
    settings: ScoreSettings,
) -> float:
    """The formula above; error rows (no score) get 0 and sink to the end of the queue."""
    if score is None or math.isnan(score):
        return 0.0
    severity = settings.severity.get(category or "none", settings.severity.get("none", 1.0))
    spread = 1.0 + settings.cluster_weight * math.log(max(1, cluster_size))
    weight = settings.source_weights.get(kind, 1.0)
    return round(100.0 * score * severity * weight * spread * freshness, 4)


def known_shop_priority(
    score: float,
    category: str | None,
    shop_category: str | None,
    kind: str,
    cluster_size: int,
    freshness: float,
    settings: ScoreSettings,
) -> float:
    """The priority of a page that matched a confirmed shop: see the module's docstring."""
    named = category if category and category != "none" else shop_category
    value = priority(max(score, settings.known_shop_score), named, kind, cluster_size, freshness, settings)
    return round(value * settings.known_shop_weight, 4)
