from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etstats.period import PeriodError, parse_period

pytestmark = pytest.mark.unit

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


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("0001-01-01", datetime(1, 1, 1), datetime(1, 1, 2)),
        ("0001-01-01..9999-12-31", datetime(1, 1, 1), None),
        ("2026-11-24..9999-12-31", MIDNIGHT, None),
        ("2026-11-24", MIDNIGHT, MIDNIGHT + timedelta(days=1)),
    ],
)
def test_boundary_dates_are_periods(text: str, start: datetime, end: datetime | None) -> None:
    period = parse_period(text, NOW)
    assert (period.start, period.end) == (start, end)
    assert start in period


@pytest.mark.parametrize(
    "text", ["0000-01-01", "99999 days", "3651d", "0d", "9999-12-31", "2026-11-25..2026-12-01"]
)
def test_values_out_of_range_are_refused_as_periods(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_period(text, NOW)


@given(
    text=st.one_of(
        st.text(),
        st.from_regex(r"\A\s*\d{1,6}\s*[a-zA-Z]{0,7}\s*\Z"),
        st.from_regex(r"\A\d{4}-\d{2}-\d{2}(\s*\.\.\s*\d{4}-\d{2}-\d{2})?\Z"),
        st.dates().map(str),
        st.tuples(st.dates(), st.dates()).map(lambda ab: f"{ab[0]}..{ab[1]}"),
    ),
    now=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1)),
)
def test_any_text_is_a_period_or_a_period_error(text: str, now: datetime) -> None:
    """The grammar is total: nothing a user types raises anything but PeriodError."""
    try:
        period = parse_period(text, now)
    except PeriodError as exc:
        assert str(exc)
        return
    assert period.start is None or period.end is None or period.start < period.end


@pytest.mark.parametrize("typed", ['"2 days"', "'2days'", "“2 days”", "`2d`"])
def test_quotes_around_a_period_are_fine(typed: str) -> None:
    assert parse_period(typed, NOW).start == NOW - timedelta(days=2)


# --- whole days and part-day edges -------------------------------------------------

from etstats.period import Period, split_days  # noqa: E402


@pytest.mark.parametrize(
    ("start", "end", "whole", "first", "last", "edges"),
    [
        (None, None, True, None, None, ()),
        (MIDNIGHT, MIDNIGHT + timedelta(days=1), True, MIDNIGHT.date(), date(2026, 11, 25), ()),
        (NOW, None, True, date(2026, 11, 25), None, ((NOW, datetime(2026, 11, 25)),)),
        (NOW, NOW + timedelta(hours=1), False, None, None, ((NOW, NOW + timedelta(hours=1)),)),
        (None, NOW, True, None, MIDNIGHT.date(), ((MIDNIGHT, NOW),)),
        (NOW, NOW, False, None, None, ()),
    ],
)
def test_split_days(start, end, whole, first, last, edges) -> None:
    split = split_days(Period("p", start, end))
    assert (split.whole, split.first_day, split.end_day, split.edges) == (
        whole, first, last, edges,
    )  # fmt: skip


moments = st.none() | st.datetimes(datetime(2000, 1, 1), datetime(2030, 1, 1))


@given(moments, moments, st.datetimes(datetime(1999, 1, 1), datetime(2031, 1, 1)))
def test_whole_days_and_edges_cover_the_period_exactly(start, end, stamp) -> None:
    period = Period("p", start, end)
    split = split_days(period)
    in_days = split.whole and (
        (split.first_day is None or stamp.date() >= split.first_day)
        and (split.end_day is None or stamp.date() < split.end_day)
    )
    in_edges = [a <= stamp and (b is None or stamp < b) for a, b in split.edges]
    assert in_days + sum(in_edges) == (stamp in period)


from etstats.period import SPANS, split_spans  # noqa: E402


def test_spans_of_a_period() -> None:
    assert split_spans(Period("all", None, None)).spans == (("year", None, None),)
    years = split_spans(Period("p", datetime(2024, 11, 15, 12), datetime(2026, 3, 3)))
    assert years.spans == (
        ("day", date(2024, 11, 16), date(2024, 12, 1)),
        ("month", date(2024, 12, 1), date(2025, 1, 1)),
        ("year", date(2025, 1, 1), date(2026, 1, 1)),
        ("month", date(2026, 1, 1), date(2026, 3, 1)),
        ("day", date(2026, 3, 1), date(2026, 3, 3)),
    )
    assert years.edges == ((datetime(2024, 11, 15, 12), datetime(2024, 11, 16)),)
    week = split_spans(Period("p", datetime(2026, 11, 2), datetime(2026, 11, 9)))
    assert (week.spans, week.edges) == ((("day", date(2026, 11, 2), date(2026, 11, 9)),), ())
    since = split_spans(Period("p", None, datetime(2026, 11, 9)))
    assert since.spans == (
        ("year", None, date(2026, 1, 1)),
        ("month", date(2026, 1, 1), date(2026, 11, 1)),
        ("day", date(2026, 11, 1), date(2026, 11, 9)),
    )

    days = split_spans(Period("all", None, None), ("day",))
    assert days.spans == (("day", None, None),)


@pytest.mark.parametrize("spans", [("year",), ("day", "month"), ("week", "day"), ("day", "day")])
def test_spans_without_days_or_out_of_order_are_refused(spans: tuple[str, ...]) -> None:
    # Without days, or out of SPANS' order, the cover would miss or count twice.
    with pytest.raises(ValueError, match="days among them"):
        split_spans(Period("p", datetime(2024, 1, 1), datetime(2026, 1, 1)), spans)


@given(
    moments,
    moments,
    st.datetimes(datetime(1999, 1, 1), datetime(2031, 1, 1)),
    st.sampled_from([SPANS, ("day",), ("month", "day"), ("year", "day")]),
)
def test_spans_cover_the_period_exactly(start, end, stamp, spans) -> None:
    split = split_spans(Period("p", start, end), spans)
    assert {span for span, _, _ in split.spans} <= set(spans)
    starts = {
        "year": stamp.date().replace(month=1, day=1),
        "month": stamp.date().replace(day=1),
        "day": stamp.date(),
    }

    def within(value: date, first: date | None, last: date | None) -> bool:
        return (first is None or value >= first) and (last is None or value < last)

    hits = [
        *(within(starts[span], a, b) for span, a, b in split.spans),
        *(a <= stamp and (b is None or stamp < b) for a, b in split.edges),
    ]
    assert sum(hits) == (stamp in Period("p", start, end))
