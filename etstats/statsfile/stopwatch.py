"""The stopwatch map result from the two round headers (pure).

Round-1 attackers set a time (header field 8 of R1); round-2 attackers win
the map if they finish faster. If round-1 attackers were held for the full
time limit and round-2 attackers also fail, the map is a draw. A round's
winner equal to its defender means the defence held.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from etstats.statsfile.model import Header


class Outcome(enum.Enum):
    ROUND1_ATTACKERS = "round1_attackers"  # their time stood
    ROUND2_ATTACKERS = "round2_attackers"  # they beat the time
    DRAW = "draw"  # both attacks held
    UNKNOWN = "unknown"  # the headers do not say reliably


@dataclass(frozen=True, slots=True)
class MapResult:
    outcome: Outcome
    time_to_beat_s: int  # R1 attackers' time, or the time limit after a fullhold
    round2_time_s: int
    fullhold: bool  # R1 attackers were held for the full time


def held(header: Header) -> bool:
    return header.winner_team == header.defender_team


def map_result(r1: Header, r2: Header) -> MapResult:
    fullhold = held(r1)
    time_to_beat = r1.time_limit_s if fullhold else r1.next_time_limit_s
    result = MapResult(Outcome.UNKNOWN, time_to_beat, r2.next_time_limit_s, fullhold)
    if r1.teams_low_confidence or r2.teams_low_confidence:
        return result
    if not held(r2):
        outcome = Outcome.ROUND2_ATTACKERS
    elif fullhold:
        outcome = Outcome.DRAW
    else:
        outcome = Outcome.ROUND1_ATTACKERS
    return MapResult(outcome, time_to_beat, r2.next_time_limit_s, fullhold)
