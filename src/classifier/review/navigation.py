"""Where an expert is in the queue, carried from page to page in the address: the queue's filters and the
cases they left through "next" in this run of work (``skip``), so that "next" keeps the filters and never
returns a case the expert just passed over. No JavaScript, no server-side state: the case page's links and
its decision form carry it on."""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import QueryParams

from classifier.queue import STATUSES
from classifier.queue.views import OPEN, QueueFilter

MAX_SKIPPED = 200  # the latest cases left: keeps the address well under browsers' limits
FIELDS = ("language", "category", "min_score", "q")  # carried on as typed; ``filter`` bounds them


@dataclass(frozen=True)
class Place:
    """The queue's filters as the expert typed them (``status`` "open" by default, "all" for every
    status) and the ids of the cases left, oldest first."""

    status: str = OPEN
    language: str = ""
    category: str = ""
    min_score: str = ""
    q: str = ""
    skip: tuple[int, ...] = ()

    @classmethod
    def read(cls, params: QueryParams | dict[str, str]) -> Place:
        """From a request's query parameters (or the decision form's ``back``, see :meth:`parse`)."""
        status = params.get("status") or OPEN
        fields = {name: params.get(name) or "" for name in FIELDS}
        skip = tuple(_ids(params.get("skip") or ""))[-MAX_SKIPPED:]
        return cls(status=status if status in (*STATUSES, OPEN, "all") else OPEN, skip=skip, **fields)

    @classmethod
    def parse(cls, query: str) -> Place:
        """From a query string, as the decision form sends it back."""
        return cls.read(dict(parse_qsl(query[:4000])))

    def filter(self) -> QueueFilter:
        return QueueFilter(
            status="" if self.status == "all" else self.status,
            language=self.language[:32],
            category=self.category[:32],
            min_score=score_fraction(self.min_score),
            search=self.q,
        )

    def filters(self) -> dict[str, str]:
        """The filters that differ from the default queue, for the queue's address."""
        found = {name: getattr(self, name) for name in ("status", *FIELDS)}
        return {k: v for k, v in found.items() if v and not (k == "status" and v == OPEN)}

    def query(self) -> str:
        """The query string that carries this place on ("" for the default queue and nothing left)."""
        skip = {"skip": ",".join(map(str, self.skip))} if self.skip else {}
        return urlencode({**self.filters(), **skip})

    def leaving(self, case_id: int) -> Place:
        """This place once the expert left ``case_id`` through "next"."""
        if case_id <= 0:
            return self
        skip = (*(i for i in self.skip if i != case_id), case_id)
        return replace(self, skip=skip[-MAX_SKIPPED:])


def _ids(text: str) -> list[int]:
    found = []
    for part in text.split(",")[: MAX_SKIPPED * 2]:
        part = part.strip()
        if part.isascii() and part.isdigit() and 0 < int(part) < 2**63:
            found.append(int(part))
    return found


def with_query(path: str, query: str) -> str:
    """``path`` with ``query`` appended (``?`` or ``&``), nothing when ``query`` is empty."""
    if not query:
        return path
    return f"{path}{'&' if '?' in path else '?'}{query}"


def score_fraction(value: str) -> float | None:
    """The queue's minimum score as a fraction. The field is in percent ("70", "70%", "0.5%"); a decimal
    fraction up to 1 without a percent sign ("0.7") is read as a fraction."""
    text = (value or "").strip().replace(",", ".")
    percent = text.endswith("%")
    text = text.rstrip("%").strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    if number != number:
        return None
    if percent or "." not in text or number > 1:
        number /= 100
    return min(max(number, 0.0), 1.0)
