"""Round-2-only values from a round-1 file and its round-2 file (pure).

A round-2 file is mixed: weapon tuples and values 0-7, 20 and 22 are
cumulative over both rounds, the rest already round-2 only, and the ratios
are recomputed from the round's own numbers.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace

from etstats.statsfile.model import DECIMAL_VALUES, ParsedFile, Player, Weapon
from etstats.statsfile.values import (
    CUMULATIVE,
    DAMAGE_GIVEN,
    DAMAGE_RECEIVED,
    DPM,
    KD_RATIO,
    NOT_ADDITIVE,
    TIME_DEAD_MINUTES,
    TIME_DEAD_RATIO,
    TIME_PLAYED_MINUTES,
    kd_ratio,
    per_minute,
)


class Basis(enum.Enum):
    """How a player's round values were obtained."""

    ROUND1 = "round1"  # a round 1: the file's values are the round's
    DIFFERENCE = "difference"  # R2 minus R1 for the cumulative fields
    JOINED = "joined"  # only in R2: his R2 values are round-2 values
    RESET = "reset"  # a cumulative counter went down: reconnected


@dataclass(frozen=True, slots=True)
class RoundPlayer:
    player: Player  # round-2-only values
    basis: Basis


def identity(player: Player) -> tuple[str, str]:
    """Bots can share a guid8; guid8 plus clean name tells players apart."""
    return player.guid, player.clean_name


def recompute_ratios(values: list[float | int], kills: int, deaths: int) -> None:
    """DPM, time-dead ratio and K/D from the round's own numbers, in place."""
    minutes = float(values[TIME_PLAYED_MINUTES])
    values[DPM] = round(per_minute(values[DAMAGE_GIVEN], minutes), 1)
    values[TIME_DEAD_RATIO] = round(per_minute(values[TIME_DEAD_MINUTES], minutes) * 100, 1)
    values[KD_RATIO] = round(kd_ratio(kills, deaths), 1)


def _reset(r1: Player, r2: Player) -> bool:
    return (
        r2.kills < r1.kills
        or r2.deaths < r1.deaths
        or r2.values[DAMAGE_GIVEN] < r1.values[DAMAGE_GIVEN]
        or r2.values[DAMAGE_RECEIVED] < r1.values[DAMAGE_RECEIVED]
        or r2.values[TIME_PLAYED_MINUTES] < r1.values[TIME_PLAYED_MINUTES]
    )


def _subtract(r1: Player, r2: Player) -> Player:
    before = {w.weapon: w for w in r1.weapons}
    weapons = []
    for w in r2.weapons:
        a = before.get(w.weapon)
        if a is not None:
            w = Weapon(
                w.weapon,
                w.hits - a.hits,
                w.attempts - a.attempts,
                w.kills - a.kills,
                w.deaths - a.deaths,
                w.headshots - a.headshots,
            )
        if w.hits or w.attempts or w.kills or w.deaths or w.headshots:
            weapons.append(w)
    values = list(r2.values)
    for index in CUMULATIVE:
        if index < len(values):
            difference = r2.values[index] - r1.values[index]
            values[index] = round(difference, 1) if index in DECIMAL_VALUES else difference
    kills = sum(w.kills for w in weapons)
    deaths = sum(w.deaths for w in weapons)
    recompute_ratios(values, kills, deaths)
    return replace(
        r2,
        weapons=tuple(weapons),
        values=tuple(values),
        kills=kills,
        deaths=deaths,
        headshots=sum(w.headshots for w in weapons),
    )


def differential(r1: ParsedFile, r2: ParsedFile) -> tuple[RoundPlayer, ...]:
    """Round-2-only players of `r2`; players who left after round 1 have no row."""
    return round_two(r1.players, r2.players)


def round_two(r1: Sequence[Player], r2: Sequence[Player]) -> tuple[RoundPlayer, ...]:
    """The differential on bare player lists (storage rebuilds them from rows)."""
    first = {identity(p): p for p in r1}
    result = []
    for player in r2:
        before = first.get(identity(player))
        if before is None:
            result.append(RoundPlayer(player, Basis.JOINED))
        elif _reset(before, player):
            result.append(RoundPlayer(player, Basis.RESET))
        else:
            result.append(RoundPlayer(_subtract(before, player), Basis.DIFFERENCE))
    return tuple(result)


def match_totals(r1: Sequence[Player], r2_round: Sequence[Player]) -> tuple[Player, ...]:
    """Both rounds added up per player (round values of each), ratios recomputed."""
    totals: dict[tuple[str, str], Player] = {identity(p): p for p in r1}
    for p in r2_round:
        before = totals.get(identity(p))
        totals[identity(p)] = p if before is None else _add(before, p)
    return tuple(totals.values())


def _add(a: Player, b: Player) -> Player:
    weapons = {w.weapon: w for w in a.weapons}
    for w in b.weapons:
        x = weapons.get(w.weapon)
        weapons[w.weapon] = (
            w
            if x is None
            else Weapon(
                w.weapon,
                x.hits + w.hits,
                x.attempts + w.attempts,
                x.kills + w.kills,
                x.deaths + w.deaths,
                x.headshots + w.headshots,
            )
        )
    count = min(len(a.values), len(b.values))
    values = [
        round(a.values[i] + b.values[i], 1) if i in DECIMAL_VALUES else a.values[i] + b.values[i]
        for i in range(count)
    ]
    for index in NOT_ADDITIVE:  # shares of time: the later round's stands
        if index < count:
            values[index] = b.values[index]
    kills, deaths = a.kills + b.kills, a.deaths + b.deaths
    recompute_ratios(values, kills, deaths)
    return replace(
        b,
        weapons=tuple(sorted(weapons.values())),
        values=tuple(values),
        kills=kills,
        deaths=deaths,
        headshots=a.headshots + b.headshots,
    )
