"""Gaming sessions' pure rules: the day a session command means, and the score
of a session's maps where the same two teams played each other.

Which rounds make a session is decided in SQL (migration 0004's
`round_sessions`), once, for storage and the Grafana dashboard alike; the
poster, which sees the rounds one at a time as it posts them, asks
`begins_another` with the same rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from etstats.period import Period, PeriodError, parse_period
from etstats.statsfile.stopwatch import Outcome

DAY_FORMS = "a date (2026-11-24), today or yesterday"
_DATE_LIKE = re.compile(r"\s*\d{4}-\d{1,2}-\d{1,2}\s*", re.ASCII)


class DayError(ValueError):
    """Not one day; the message says what is accepted."""


def session_day(text: str, now: datetime) -> Period:
    """The day whose sessions to show: `today`, `yesterday` or a date (a period's
    words, server time). A session belongs to the day it began on."""
    try:
        period = parse_period(text, now, doing="show")
    except PeriodError:
        if _DATE_LIKE.fullmatch(text):  # not a real date, or after today: said precisely
            raise
        raise DayError(f"{text.strip()!r} is not a day: give {DAY_FORMS}") from None
    start, end = period.start, period.end
    if start is None or end != start + timedelta(days=1) or start.time() != datetime.min.time():
        raise DayError(f"{text.strip()!r} is not one day: give {DAY_FORMS}")
    return period


def begins_another(before: datetime, after: datetime, gap: timedelta) -> bool:
    """Whether a round that ended at `after` (its file stamp) begins another
    session than the round before it, ended at `before`: more than the gap
    between them, as `round_sessions` cuts. Stamps, not the times the rounds were
    seen: a backlog brings several sessions' rounds within seconds."""
    return after - before > gap


def same_team(a: frozenset[str], b: frozenset[str]) -> bool:
    """Still the same team: more than half of the larger lineup is in both (three
    of six swapped is another match-up)."""
    return 2 * len(a & b) > max(len(a), len(b))


@dataclass(frozen=True, slots=True)
class PlayedMap:
    """A map's two sides as round 1 had them (players' keys) and its stopwatch
    result (None while it has none: a round is missing)."""

    attackers: frozenset[str]
    defenders: frozenset[str]
    outcome: Outcome | None


@dataclass(frozen=True, slots=True)
class Stretch:
    """Maps in a row between the same two teams (as the first of them had them):
    each map's index and winner (1: team a, 2: team b, 0: a draw or no result)."""

    team_a: frozenset[str]
    team_b: frozenset[str]
    maps: tuple[int, ...]
    winners: tuple[int, ...]
    draws: int

    @property
    def wins_a(self) -> int:
        return self.winners.count(1)

    @property
    def wins_b(self) -> int:
        return self.winners.count(2)


def _winner(m: PlayedMap, attackers_are_a: bool) -> int:
    """1 or 2 for the team that won the map, 0 for a draw or no result."""
    if m.outcome is Outcome.ROUND1_ATTACKERS:
        attackers_won = True
    elif m.outcome is Outcome.ROUND2_ATTACKERS:  # round 1's defenders attacked in round 2
        attackers_won = False
    else:
        return 0
    return 1 if attackers_won == attackers_are_a else 2


def stretches(maps: Sequence[PlayedMap]) -> list[Stretch]:
    """The session's maps cut where the teams changed: a map continues the
    stretch before it when each of its sides is the same team as one side of
    the stretch (whichever side it played), else it begins a new stretch. A map
    without players on both sides is in none."""
    found: list[Stretch] = []
    for index, m in enumerate(maps):
        if not m.attackers or not m.defenders:
            continue
        last = found[-1] if found else None
        attackers_are_a = None
        if last is not None:
            if same_team(m.attackers, last.team_a) and same_team(m.defenders, last.team_b):
                attackers_are_a = True
            elif same_team(m.attackers, last.team_b) and same_team(m.defenders, last.team_a):
                attackers_are_a = False
        if last is None or attackers_are_a is None:
            last = Stretch(m.attackers, m.defenders, (), (), 0)
            found.append(last)
            attackers_are_a = True
        found[-1] = Stretch(
            last.team_a,
            last.team_b,
            (*last.maps, index),
            (*last.winners, _winner(m, attackers_are_a)),
            last.draws + (m.outcome is Outcome.DRAW),
        )
    return found
