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


def _not_after_today(day: datetime, midnight: datetime, whole: str) -> datetime:
    """A period that starts after today can hold no file yet: say so rather than
    run a sync that is sure to find nothing."""
    if day > midnight:
        raise PeriodError(f"{whole!r} starts after today: there is nothing to sync yet")
    return day


def _day_after(day: datetime) -> datetime | None:
    """Midnight after `day`; None (unbounded) after the last day a datetime can hold."""
    return None if day.date() == date.max else day + timedelta(days=1)


def parse_period(text: str, now: datetime) -> Period:
    """Parse a period, case-insensitive, with or without a space before the unit
    and quotes around it.

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
        day = _not_after_today(_day(cleaned, text), midnight, text)
        return Period(cleaned, day, _day_after(day))
    if match := re.fullmatch(rf"({_DATE})\s*\.\.\s*({_DATE})", cleaned, re.ASCII):
        first, last = _day(match[1], text), _day(match[2], text)
        if last < first:
            raise PeriodError(f"{text!r}: the range ends before it starts")
        return Period(cleaned, _not_after_today(first, midnight, text), _day_after(last))
    raise PeriodError(f"{text!r} is not a period. Accepted: {ACCEPTED_FORMS}")
