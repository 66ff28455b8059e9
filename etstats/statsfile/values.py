"""The extended values by name, and the ratios derived from a player's numbers.

Defined once: the round-2 differential, the generator and every renderer use
these indices and these formulas (stats-format.md, "Extended values").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

# Indices into Player.values, named as in model.VALUE_NAMES (a test checks each).
DAMAGE_GIVEN = 0
DAMAGE_RECEIVED = 1
TIME_PLAYED_PCT = 8
HEADSHOT_KILLS = 14
OBJECTIVES_STOLEN = 15
OBJECTIVES_RETURNED = 16
DYNAMITES_PLANTED = 17
DYNAMITES_DEFUSED = 18
BULLETS_FIRED = 20
DPM = 21
TIME_PLAYED_MINUTES = 22
TANK_MEATSHIELD = 23
TIME_DEAD_RATIO = 24
TIME_DEAD_MINUTES = 25
KD_RATIO = 26
DENIED_PLAYTIME = 28
REVIVES_GIVEN = 37

OBJECTIVES = (OBJECTIVES_STOLEN, OBJECTIVES_RETURNED, DYNAMITES_PLANTED, DYNAMITES_DEFUSED)
# A round-2 file holds these over both rounds; the rest are round 2's own.
CUMULATIVE = frozenset({0, 1, 2, 3, 4, 5, 6, 7, BULLETS_FIRED, TIME_PLAYED_MINUTES})
# Shares of time: over two rounds the later round's stands, they do not add up.
NOT_ADDITIVE = (TIME_PLAYED_PCT, TANK_MEATSHIELD)


class Shots(Protocol):
    """A weapon tuple, from a file or from the bus."""

    @property
    def hits(self) -> int: ...
    @property
    def attempts(self) -> int: ...


def kd_ratio(kills: int, deaths: int) -> float:
    """Kills per death, as the game's stats script writes it: kills + 1 without deaths."""
    return kills / deaths if deaths else float(kills + 1)


def accuracy(weapons: Iterable[Shots]) -> float:
    """Hits per attempt over all weapons, 0 when nothing was fired."""
    hits = attempts = 0
    for w in weapons:
        hits += w.hits
        attempts += w.attempts
    return hits / attempts if attempts else 0.0


def shots_fired(weapons: Iterable[Shots]) -> int:
    return sum(w.attempts for w in weapons)


def per_minute(amount: float, minutes: float) -> float:
    """A rate per minute played, 0 for no time played."""
    return amount / minutes if minutes > 0 else 0.0
