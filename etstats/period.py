"""Sync periods as users type them: `2days`, `1 week`, `today`, `2026-11-01..2026-11-07`.

Pure: text and the current time in, a half-open range of file stamps out
(file stamps are the game server's local time, so `now` should be too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

MAX_DAYS = 3650

ACCEPTED_FORMS = (
    "today, yesterday, all, "
    "N days (2d, 2days, 3 days), N weeks (1w, 1week, 2 weeks), N months of 30 days (1m, 1month), "
    "a date (2026-11-01) or a range of dates (2026-11-01..2026-11-07)"
)

_RELATIVE = re.compile(r"(\d{1,5})\s*(d|days?|w|weeks?|m|months?)", re.ASCII)
_DATE = r"\d{4}-\d{2}-\d{2}"
_UNIT_DAYS = {"d": 1, "w": 7, "m": 30}
QUOTES = "\"'`\u201c\u201d\u2018\u2019"  # `!sync_stats "2 days"` means 2 days


class PeriodError(ValueError):
    """A period that is not one of the accepted forms; the message lists them."""


@dataclass(frozen=True, slots=True)
class Period:
    """File stamps `start <= stamp < end`; None means unbounded."""

    text: str
    start: datetime | None
    end: datetime | None

    def __contains__(self, stamp: datetime) -> bool:
        return (self.start is None or stamp >= self.start) and (
            self.end is None or stamp < self.end
        )


def _day(text: str, whole: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time())
    except ValueError:
        raise PeriodError(f"{whole!r}: {text} is not a real date") from None


def _not_after_today(day: datetime, midnight: datetime, whole: str, doing: str) -> datetime:
    """A period that starts after today can hold no file yet: say so rather than
    run a sync (or a query) that is sure to find nothing."""
    if day > midnight:
        raise PeriodError(f"{whole!r} starts after today: there is nothing to {doing} yet")
    return day


def _day_after(day: datetime) -> datetime | None:
    """Midnight after `day`; None (unbounded) after the last day a datetime can hold."""
    return None if day.date() == date.max else day + timedelta(days=1)


def parse_period(text: str, now: datetime, *, doing: str = "sync") -> Period:
    """Parse a period, case-insensitive, with or without a space before the unit
    and quotes around it. `doing` names what a period after today leaves nothing to do.

    Total: any text gives a Period or a PeriodError, never another exception.
    """
    cleaned = " ".join(text.strip().strip(QUOTES).lower().split())
    midnight = datetime.combine(now.date(), datetime.min.time())
    if cleaned == "all":
        return Period(cleaned, None, None)
    if cleaned == "today":
        return Period(cleaned, midnight, midnight + timedelta(days=1))
    if cleaned == "yesterday":
        return Period(cleaned, midnight - timedelta(days=1), midnight)
    if match := _RELATIVE.fullmatch(cleaned):
        count = int(match[1])
        days = count * _UNIT_DAYS[match[2][0]]
        if count < 1 or days > MAX_DAYS:
            raise PeriodError(
                f"{text!r}: use between 1 and {MAX_DAYS} days; accepted: {ACCEPTED_FORMS}"
            )
        return Period(cleaned, now - timedelta(days=days), None)
    if re.fullmatch(_DATE, cleaned, re.ASCII):
        day = _not_after_today(_day(cleaned, text), midnight, text, doing)
        return Period(cleaned, day, _day_after(day))
    if match := re.fullmatch(rf"({_DATE})\s*\.\.\s*({_DATE})", cleaned, re.ASCII):
        first, last = _day(match[1], text), _day(match[2], text)
        if last < first:
            raise PeriodError(f"{text!r}: the range ends before it starts")
        return Period(cleaned, _not_after_today(first, midnight, text, doing), _day_after(last))
    raise PeriodError(f"{text!r} is not a period. Accepted: {ACCEPTED_FORMS}")


@dataclass(frozen=True, slots=True)
class DaySplit:
    """A period as whole days (`first_day <= day < end_day`, None: unbounded; none
    at all when `whole` is False) and the part days at its edges (`start <= stamp <
    end`, None: unbounded), so that a query reads whole days from a daily summary
    and only the edges row by row."""

    whole: bool
    first_day: date | None
    end_day: date | None
    edges: tuple[tuple[datetime, datetime | None], ...]


def _midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), datetime.min.time())


def split_days(period: Period) -> DaySplit:
    """The whole days of `period` and its part-day edges: together they cover it
    exactly, without overlap."""
    start, end = period.start, period.end
    if start is not None and end is not None and start >= end:
        return DaySplit(False, None, None, ())
    # The first whole day starts at the first midnight not before `start`.
    first = None if start is None else _midnight(start)
    if start is not None and first is not None and first < start:
        first = _day_after(first)
        if first is None:  # within the last day a datetime can hold
            return DaySplit(False, None, None, ((start, end),))
    last = None if end is None else _midnight(end)
    if start is not None and first is not None and last is not None and first >= last:
        return DaySplit(False, None, None, ((start, end),))
    edges: list[tuple[datetime, datetime | None]] = []
    if start is not None and first is not None and start < first:
        edges.append((start, first))
    if end is not None and last is not None and last < end:
        edges.append((last, end))
    return DaySplit(
        True,
        None if first is None else first.date(),
        None if last is None else last.date(),
        tuple(edges),
    )


SPANS = ("year", "month", "day")  # longest first


@dataclass(frozen=True, slots=True)
class SpanSplit:
    """A period as sums kept per span: whole years, months and days (`(span,
    first, end)`: `first <= day < end`, None unbounded), and the part days at its
    edges, read row by row. The longer the spans, the fewer sums to add."""

    spans: tuple[tuple[str, date | None, date | None], ...]
    edges: tuple[tuple[datetime, datetime | None], ...]


def _span_floor(span: str, day: date) -> date:
    if span == "year":
        return day.replace(month=1, day=1)
    return day.replace(day=1) if span == "month" else day


def _span_after(span: str, day: date) -> date | None:
    """Where the span after the one holding `day` begins; None past what a date holds."""
    start = _span_floor(span, day)
    if span == "day":
        return None if start == date.max else start + timedelta(days=1)
    if span == "month" and start.month < 12:
        return start.replace(month=start.month + 1)
    return None if start.year == date.max.year else date(start.year + 1, 1, 1)


def _cover(
    first: date | None, end: date | None, spans: tuple[str, ...]
) -> list[tuple[str, date | None, date | None]]:
    """Whole days `first <= day < end` as the longest spans that fit, shorter ones
    around them."""
    span, shorter = spans[0], spans[1:]
    if not shorter:
        return [(span, first, end)]
    inner_first = first if first is None or _span_floor(span, first) == first else None
    if first is not None and inner_first is None:
        inner_first = _span_after(span, first)
    inner_end = None if end is None else _span_floor(span, end)
    if (first is not None and inner_first is None) or (
        inner_first is not None and inner_end is not None and inner_first >= inner_end
    ):
        return _cover(first, end, shorter)
    before = (
        _cover(first, inner_first, shorter) if first is not None and first != inner_first else []
    )
    after = _cover(inner_end, end, shorter) if end is not None and inner_end != end else []
    return [*before, (span, inner_first, inner_end), *after]


def split_spans(period: Period, spans: tuple[str, ...] = SPANS) -> SpanSplit:
    """The whole years, months and days of `period` and the part days at its
    edges: together they cover it exactly, without overlap. Only the `spans` (of
    SPANS, in its order, days among them) that sums are kept for."""
    if "day" not in spans or [s for s in SPANS if s in spans] != list(spans):
        raise ValueError(f"spans must be of {SPANS}, in its order, days among them: {spans}")
    days = split_days(period)
    if not days.whole:
        return SpanSplit((), days.edges)
    return SpanSplit(tuple(_cover(days.first_day, days.end_day, spans)), days.edges)
