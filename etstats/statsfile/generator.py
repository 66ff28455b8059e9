"""Realistic generated rounds: R1/R2 pairs whose R2 files are cumulative.

Used by the demo, tests and benchmarks. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from etstats.statsfile.model import TEAM_ALLIES, TEAM_AXIS, Header, Player, Weapon
from etstats.statsfile.writer import write

MAPS = ("etl_adlernest", "supply", "sw_goldrush_te", "te_escape2", "braundorf_b4", "etl_frostbite")
NAMES = (
    "^1Fire^7Fox", "^4blue", "Kr1zz", "^3sm@sh", "*Vex*", "^2l`ombre", "ŽubrOwka", "^5Nyx",
    "olz", "^7carniee", "Hex_", "^9Silent Bob", "^1<@&99>", "Rusty", "^6m^7o^6o", "qUiCk",
)  # fmt: skip
# Cumulative indices in a round-2 file (values 0-7, 20 and 22).
CUMULATIVE = (0, 1, 2, 3, 4, 5, 6, 7, 20, 22)
GUN_WEAPONS = (2, 3, 4, 5, 6, 22, 23, 24, 25)


@dataclass(frozen=True)
class GeneratedFile:
    filename: str
    body: bytes
    header: Header
    players: tuple[Player, ...]


def _round_player(rng: random.Random, guid: str, name: str, team: int, minutes: float) -> Player:
    weapons = []
    for weapon in sorted([*rng.sample(GUN_WEAPONS, 2), 0, 11]):
        attempts = rng.randint(0, 400) if weapon != 0 else rng.randint(0, 10)
        hits = rng.randint(0, attempts)
        kills = rng.randint(0, max(hits // 15, 1))
        weapons.append(
            Weapon(weapon, hits, attempts, kills, rng.randint(0, 4), rng.randint(0, hits // 4))
        )
    kills = sum(w.kills for w in weapons)
    deaths = sum(w.deaths for w in weapons)
    damage = rng.randint(kills * 80, kills * 160 + 300)
    values: list[float | int] = [rng.randint(0, 60) for _ in range(38)]
    values[0] = damage
    values[1] = rng.randint(deaths * 80, deaths * 160 + 300)
    values[8] = 100.0
    values[14] = min(values[14], kills)
    values[20] = sum(w.attempts for w in weapons)
    values[21] = round(damage / minutes, 1) if minutes else 0.0
    values[22] = round(minutes, 1)
    values[23] = 0.0
    values[24] = round(rng.uniform(0, 40), 1)
    values[25] = round(minutes * values[24] / 100, 1)
    values[26] = round(kills / deaths, 1) if deaths else float(kills + 1)
    return Player(guid, name, name, 0, team, False, tuple(weapons), tuple(values), kills, deaths)


def _add(r1: Player, r2: Player) -> Player:
    """What the R2 file holds: cumulative fields summed, the rest round-2 only."""
    by_weapon = {w.weapon: w for w in r1.weapons}
    weapons = []
    for w in r2.weapons:
        a = by_weapon.pop(w.weapon, None)
        weapons.append(
            w
            if a is None
            else Weapon(
                w.weapon,
                a.hits + w.hits,
                a.attempts + w.attempts,
                a.kills + w.kills,
                a.deaths + w.deaths,
                a.headshots + w.headshots,
            )
        )
    weapons = sorted([*weapons, *by_weapon.values()], key=lambda w: w.weapon)
    values = list(r2.values)
    for index in CUMULATIVE:
        values[index] = r1.values[index] + r2.values[index]
    values[22] = round(values[22], 1)
    return replace(
        r2,
        weapons=tuple(weapons),
        values=tuple(values),
        kills=sum(w.kills for w in weapons),
        deaths=sum(w.deaths for w in weapons),
    )


def generate_match(
    rng: random.Random,
    start: datetime,
    *,
    map_name: str | None = None,
    players: int = 12,
    server: str = "^1ET^7:Legacy ^4Demo",
    gap_s: int = 20,
) -> tuple[GeneratedFile, GeneratedFile]:
    """One map: round 1 at `start`, round 2 after it, with consistent numbers."""
    map_name = map_name or rng.choice(MAPS)
    limit = rng.choice((600, 720, 900))
    r1_time = rng.randint(limit // 2, limit)
    r2_time = rng.randint(limit // 3, r1_time)
    roster = [(f"{rng.getrandbits(32):08X}", rng.choice(NAMES) + f"{i}") for i in range(players)]
    files = []
    r1_players: dict[str, Player] = {}
    for round_no, seconds, when in (
        (1, r1_time, start),
        (2, r2_time, start + timedelta(seconds=r1_time + gap_s)),
    ):
        roster_players = []
        for index, (guid, name) in enumerate(roster):
            team = TEAM_AXIS if (index % 2 == 0) == (round_no == 1) else TEAM_ALLIES
            p = _round_player(rng, guid, name, team, seconds / 60)
            p = replace(p, clean_name=p.name, rounds=round_no)
            if round_no == 1:
                r1_players[guid] = p
            else:
                p = _add(r1_players[guid], p)
            roster_players.append(p)
        rng.shuffle(roster_players)
        header = Header(
            server,
            map_name,
            "legacy6",
            round_no,
            1 if round_no == 1 else 2,
            2 if seconds < limit else 1,
            limit,
            r1_time if round_no == 1 else seconds,
            seconds * 1000,
            9,
            False,
        )
        stamp = (when + timedelta(seconds=seconds)).strftime("%Y-%m-%d-%H%M%S")
        filename = f"{stamp}-{map_name}-round-{round_no}.txt"
        files.append(
            GeneratedFile(filename, write(header, roster_players), header, tuple(roster_players))
        )
    return files[0], files[1]
