"""Where an expert is in the queue, carried from page to page in the address: the queue's filters and the
cases they left through "next" in this run of work (``skip``), so that "next" keeps the filters and never
returns a case the expert just passed over. No JavaScript, no server-side state: the case page's links and
its decision form carry it on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from urllib.parse import parse_qsl, urlencode

from classifier.queue import STATUSES
from classifier.queue.views import CLEARED, FLAGGED, OPEN, SORTS, QueueFilter

MAX_SKIPPED = 200  # the latest cases left: keeps the address well under browsers' limits
# carried on as typed; ``filter`` bounds them and ``problems`` says which it could not read
FIELDS = ("language", "category", "min_score", "q", "seen_from", "seen_to", "expert")
# in the address: the filters there were before the flag, dates and experts first, as saved links have them
ADDRESS_ORDER = ("status", "language", "category", "min_score", "q", "flagged", *FIELDS[4:], "sort", "order")
ALL = "all"  # every status, or flagged and cleared cases alike
FLAG_CHOICES = (FLAGGED, CLEARED, ALL)
DIRECTIONS = ("asc", "desc")
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)  # outside: a typo, and beyond datetime's range
SCORE_FIELD = "«Вероятность нарушения от, %»"
IGNORED = "Очередь показана без этого условия."


def default_flag(status: str) -> str:
    """The backlog (open cases) shows what the model flagged; any other status shows every case: a list
    of decided cases is read to check the decisions, whatever the model said."""
    return FLAGGED if status == OPEN else ALL


@dataclass(frozen=True)
class Place:
    """The queue's filters as the expert typed them (``status`` "open" by default, "all" for every
    status; ``flagged`` as ``default_flag``), its order (``sort``, ``order``: the table's, which "next"
    does not follow) and the ids of the cases left, oldest first."""

    status: str = OPEN
    flagged: str = FLAGGED
    language: str = ""
    category: str = ""
    min_score: str = ""
    q: str = ""
    seen_from: str = ""
    seen_to: str = ""
    expert: str = ""
    sort: str = ""
    order: str = ""
    skip: tuple[int, ...] = ()

    @classmethod
    def read(cls, params: Mapping[str, str]) -> Place:
        """From a request's query parameters (or the decision form's ``back``, see :meth:`parse`)."""
        status = params.get("status") or OPEN
        status = status if status in (*STATUSES, OPEN, ALL) else OPEN
        flagged = params.get("flagged") or ""
        sort, order = params.get("sort") or "", params.get("order") or ""
        return cls(
            status=status,
            flagged=flagged if flagged in FLAG_CHOICES else default_flag(status),
            sort=sort if sort in SORTS else "",
            order=order if order in DIRECTIONS and sort in SORTS else "",
            skip=tuple(_ids(params.get("skip") or ""))[-MAX_SKIPPED:],
            **{name: params.get(name) or "" for name in FIELDS},
        )

    @classmethod
    def parse(cls, query: str) -> Place:
        """From a query string, as the decision form sends it back."""
        return cls.read(dict(parse_qsl(query[:4000])))

    def filter(self, zone: tzinfo = UTC) -> QueueFilter:
        """The filter, without what ``problems`` names; days are those of ``zone`` (the unit's)."""
        first, last = read_day(self.seen_from)[0], read_day(self.seen_to)[0]
        if first and last and first > last:
            first = last = None
        return QueueFilter(
            status="" if self.status == ALL else self.status,
            language=self.language[:32],
            category=self.category[:32],
            min_score=score_fraction(self.min_score),
            search=self.q,
            flagged="" if self.flagged == ALL else self.flagged,
            seen_from=_midnight(first, zone),
            seen_before=_midnight(last + timedelta(days=1), zone) if last else None,  # the whole last day
            expert=self.expert[:64],
        )

    def problems(self) -> list[str]:
        """What the expert typed that the queue could not read and left out, in words."""
        found = [read_score(self.min_score)[1]]
        first, problem_from = read_day(self.seen_from)
        last, problem_to = read_day(self.seen_to)
        found += [problem_from and f"{problem_from} «Впервые с». {IGNORED}"]
        found += [problem_to and f"{problem_to} «Впервые по». {IGNORED}"]
        if first and last and first > last:
            found.append(
                f"Дата «по» ({last:%d.%m.%Y}) раньше даты «с» ({first:%d.%m.%Y}): "
                "очередь показана без условия по датам."
            )
        return [p for p in found if p]

    def filters(self) -> dict[str, str]:
        """The filters and order that differ from the default queue, for the queue's address."""
        found = {name: getattr(self, name) for name in ADDRESS_ORDER}
        defaults = {"status": OPEN, "flagged": default_flag(self.status)}
        return {k: v for k, v in found.items() if v and v != defaults.get(k)}

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
    """The queue's minimum score as a fraction, None when empty or unreadable (``read_score``)."""
    return read_score(value)[0]


def read_score(value: str) -> tuple[float | None, str]:
    """The queue's minimum score as a fraction, and what was wrong with it ("" when nothing). The field is
    in percent ("70", "70%", "0.5%"); a decimal fraction up to 1 without a percent sign ("0.7") is read as
    a fraction. Outside 0-100% is refused, not clamped: "200" is a typo, not "nothing"."""
    typed = (value or "").strip()
    text = typed.replace(",", ".")
    percent = text.endswith("%")
    text = text.rstrip("%").strip()
    if not text:
        return None, ""
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if number != number or text.lower().lstrip("+-") in ("inf", "infinity"):
        return (
            None,
            f"Не удалось понять значение «{typed[:40]}» в поле {SCORE_FIELD}: нужно число от 0 до 100. {IGNORED}",
        )
    if not 0 <= number <= 100:
        return None, f"В поле {SCORE_FIELD} нужно число от 0 до 100, а не «{typed[:40]}». {IGNORED}"
    if percent or "." not in text or number > 1:
        number /= 100
    return number, ""


def read_day(value: str) -> tuple[date | None, str]:
    """A day typed as the date field sends it (2026-11-20) or as people write it (20.11.2026), and what
    was wrong with it ("" when nothing; the field's name follows)."""
    typed = (value or "").strip()
    if not typed:
        return None, ""
    found = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})|(\d{1,2})\.(\d{1,2})\.(\d{4})", typed, re.ASCII)
    day = None
    if found:
        y, m, d = found.groups()[:3] if found.group(1) else reversed(found.groups()[3:])
        try:
            day = date(int(y), int(m), int(d))
        except ValueError:
            day = None
    if day is None:
        return None, f"Не удалось понять дату «{typed[:40]}»: нужна дата вида 20.11.2026 в поле"
    if not FIRST_DAY <= day <= LAST_DAY:
        # not strftime: it writes the year 1 as "1", not "0001"
        shown = f"{day.day:02d}.{day.month:02d}.{day.year:04d}"
        return None, f"Дата {shown} вне допустимого диапазона (2000–2099) в поле"
    return day, ""


def _midnight(day: date | None, zone: tzinfo) -> datetime | None:
    """The start of ``day`` in ``zone``, in UTC, as the store keeps times."""
    return None if day is None else datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
