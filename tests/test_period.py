from datetime import datetime, timedelta

import pytest

from etstats.period import PeriodError, parse_period

NOW = datetime(2026, 11, 24, 15, 30)
MIDNIGHT = datetime(2026, 11, 24)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("today", MIDNIGHT, MIDNIGHT + timedelta(days=1)),
        ("TODAY", MIDNIGHT, MIDNIGHT + timedelta(days=1)),
        ("yesterday", MIDNIGHT - timedelta(days=1), MIDNIGHT),
        ("all", None, None),
        ("2d", NOW - timedelta(days=2), None),
        ("2days", NOW - timedelta(days=2), None),
        ("3 days", NOW - timedelta(days=3), None),
        ("1day", NOW - timedelta(days=1), None),
        ("1w", NOW - timedelta(days=7), None),
        ("1week", NOW - timedelta(days=7), None),
        ("2 Weeks", NOW - timedelta(days=14), None),
        ("1m", NOW - timedelta(days=30), None),
        ("2months", NOW - timedelta(days=60), None),
        ("1 month", NOW - timedelta(days=30), None),
        ("2026-11-01", datetime(2026, 11, 1), datetime(2026, 11, 2)),
        ("2026-11-01..2026-11-07", datetime(2026, 11, 1), datetime(2026, 11, 8)),
        (" 2026-11-01 .. 2026-11-01 ", datetime(2026, 11, 1), datetime(2026, 11, 2)),
    ],
)
def test_accepted_forms(text: str, start, end) -> None:
    period = parse_period(text, NOW)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is not a period. Accepted: today, yesterday, all"),
        ("everything", "is not a period"),
        ("2 fortnights", "is not a period"),
        ("-2d", "is not a period"),
        ("0d", "between 1 and 3650 days"),
        ("200months", "between 1 and 3650 days"),
        ("2026-02-30", "2026-02-30 is not a real date"),
        ("2026-11-07..2026-11-01", "the range ends before it starts"),
        ("2d; drop table", "is not a period"),
    ],
)
def test_bad_periods_list_the_accepted_forms(text: str, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        parse_period(text, NOW)


def test_membership_is_half_open() -> None:
    period = parse_period("today", NOW)
    assert MIDNIGHT in period
    assert MIDNIGHT + timedelta(days=1) not in period
    assert MIDNIGHT - timedelta(seconds=1) not in period
