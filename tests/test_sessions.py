"""Sessions' pure rules: the day a command means, and the score where the teams
stayed stable."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etstats.period import PeriodError
from etstats.sessions import (
    DayError,
    PlayedMap,
    Stretch,
    begins_another,
    same_team,
    session_day,
    stretches,
)
from etstats.statsfile.stopwatch import Outcome

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 24, 15, 30)
MIDNIGHT = datetime(2026, 11, 24)
RED = frozenset({"a", "b", "c", "d", "e", "f"})
BLUE = frozenset({"g", "h", "i", "j", "k", "l"})


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("today", MIDNIGHT),
        (" Today ", MIDNIGHT),
        ("yesterday", MIDNIGHT - timedelta(days=1)),
        ("2026-11-01", datetime(2026, 11, 1)),
        ('"2026-11-24"', MIDNIGHT),
        ("2026-11-01..2026-11-01", datetime(2026, 11, 1)),
    ],
)
def test_a_day_is_today_yesterday_or_a_date(text: str, start: datetime) -> None:
    day = session_day(text, NOW)
    assert (day.start, day.end) == (start, start + timedelta(days=1))


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("banana", "'banana' is not a day: give a date (2026-11-24), today or yesterday"),
        ("", "'' is not a day: give a date (2026-11-24), today or yesterday"),
        ("24/11/2026", "'24/11/2026' is not a day: give a date (2026-11-24), today or yesterday"),
        ("2d", "'2d' is not one day: give a date (2026-11-24), today or yesterday"),
        ("all", "'all' is not one day: give a date (2026-11-24), today or yesterday"),
        (
            "2026-11-01..2026-11-03",
            "'2026-11-01..2026-11-03' is not one day: give a date (2026-11-24), today or yesterday",
        ),
    ],
)
def test_other_text_is_refused_with_what_is_accepted(text: str, said: str) -> None:
    with pytest.raises(DayError) as refused:
        session_day(text, NOW)
    assert str(refused.value) == said


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("2026-02-30", "'2026-02-30': 2026-02-30 is not a real date"),
        ("2026-11-25", "'2026-11-25' starts after today: there is nothing to show yet"),
    ],
)
def test_a_date_that_cannot_be_is_said_precisely(text: str, said: str) -> None:
    with pytest.raises(PeriodError) as refused:
        session_day(text, NOW)
    assert str(refused.value) == said


@given(st.text(max_size=40))
def test_any_text_is_a_day_or_a_refusal(text: str) -> None:
    try:
        day = session_day(text, NOW)
    except (DayError, PeriodError) as exc:
        assert str(exc)
    else:
        assert day.start is not None and day.end == day.start + timedelta(days=1)


HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("before", "after", "another"),
    [
        ("2026-11-20 21:00:00", "2026-11-20 22:00:00", False),  # exactly the gap: as the SQL
        ("2026-11-20 21:00:00", "2026-11-20 22:00:01", True),
        ("2026-11-20 23:30:00", "2026-11-21 00:29:59", False),  # past midnight, one evening
        ("2026-11-20 23:30:00", "2026-11-21 09:00:00", True),  # the next morning
        ("2026-11-20 21:00:00", "2026-11-20 20:00:00", False),  # an earlier round begins none
        ("2026-11-20 21:00:00", "2026-11-20 21:00:00", False),
    ],
)
def test_a_round_more_than_the_gap_later_begins_another_session(
    before: str, after: str, another: bool
) -> None:
    stamp = "%Y-%m-%d %H:%M:%S"
    assert (
        begins_another(datetime.strptime(before, stamp), datetime.strptime(after, stamp), HOUR)
        is another
    )


def played(attackers: frozenset[str], defenders: frozenset[str], outcome: Outcome | None):
    return PlayedMap(attackers, defenders, outcome)


def test_the_same_teams_swapping_sides_keep_one_score() -> None:
    maps = [
        played(RED, BLUE, Outcome.ROUND1_ATTACKERS),  # red attacked first and their time stood
        played(BLUE, RED, Outcome.ROUND2_ATTACKERS),  # red defended first, then beat the time
        played(RED, BLUE, Outcome.DRAW),
        played(BLUE, RED, Outcome.ROUND1_ATTACKERS),  # blue's time stood
        played(RED, BLUE, None),  # round 2 missing
    ]
    (score,) = stretches(maps)
    assert (score.team_a, score.team_b) == (RED, BLUE)
    assert score.winners == (1, 1, 0, 2, 0)
    assert (score.wins_a, score.wins_b, score.draws, len(score.maps)) == (2, 1, 1, 5)


def test_a_player_swapped_keeps_the_score_and_new_teams_start_another() -> None:
    red2 = (RED - {"a"}) | {"x"}
    blue2 = (BLUE - {"g", "h"}) | {"y", "z"}
    mixed = frozenset({"a", "b", "g", "h", "i", "c"})
    rest = (RED | BLUE) - mixed
    maps = [
        played(RED, BLUE, Outcome.ROUND2_ATTACKERS),
        played(blue2, red2, Outcome.ROUND2_ATTACKERS),
        played(mixed, rest, Outcome.ROUND1_ATTACKERS),
        played(frozenset(), BLUE, Outcome.ROUND1_ATTACKERS),  # nobody attacked: no stretch
        played(rest, mixed, Outcome.ROUND1_ATTACKERS),
    ]
    first, second = stretches(maps)
    assert (first.maps, first.winners) == ((0, 1), (2, 1))
    assert (second.team_a, second.team_b, second.maps, second.winners) == (
        mixed,
        rest,
        (2, 4),
        (1, 2),
    )


def test_same_team_needs_more_than_half_of_the_larger_lineup() -> None:
    assert same_team(RED, RED)
    assert same_team(RED, frozenset("abcdxy"))
    assert not same_team(RED, frozenset("abcxyz"))
    assert not same_team(frozenset("ab"), frozenset("abcdef"))
    assert not same_team(frozenset(), frozenset())


lineups = st.frozensets(st.sampled_from("abcdefghijkl"), max_size=8)
outcomes = st.sampled_from([*Outcome, None])


@given(st.lists(st.tuples(lineups, lineups, outcomes), max_size=12))
def test_every_map_with_two_sides_is_in_one_stretch_and_the_score_adds_up(
    maps: list[tuple[frozenset[str], frozenset[str], Outcome | None]],
) -> None:
    found = stretches([played(*m) for m in maps])
    placed = [i for s in found for i in s.maps]
    assert placed == [i for i, (a, d, _) in enumerate(maps) if a and d]
    for s in found:
        assert s.wins_a + s.wins_b + s.draws <= len(s.maps) == len(s.winners)
        assert s.draws == sum(maps[i][2] is Outcome.DRAW for i in s.maps)
        decided = [
            maps[i][2] in (Outcome.ROUND1_ATTACKERS, Outcome.ROUND2_ATTACKERS) for i in s.maps
        ]
        assert s.wins_a + s.wins_b == sum(decided)


@given(st.lists(st.tuples(st.booleans(), outcomes), min_size=1, max_size=12))
def test_two_fixed_teams_are_one_stretch_whatever_sides_they_play(
    maps: list[tuple[bool, Outcome | None]],
) -> None:
    sides = [(RED, BLUE) if red_attacks else (BLUE, RED) for red_attacks, _ in maps]
    found = stretches([played(a, d, o) for (a, d), (_, o) in zip(sides, maps, strict=True)])
    assert len(found) == 1 and isinstance(found[0], Stretch)
    red_first = maps[0][0]
    red_wins = sum(
        (o is Outcome.ROUND1_ATTACKERS and r) or (o is Outcome.ROUND2_ATTACKERS and not r)
        for r, o in maps
    )
    assert (found[0].wins_a if red_first else found[0].wins_b) == red_wins
