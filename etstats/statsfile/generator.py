"""Realistic generated rounds: R1/R2 pairs whose R2 files are cumulative.

Used by the demo, tests and benchmarks. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from etstats.statsfile.differential import recompute_ratios
from etstats.statsfile.model import TEAM_ALLIES, TEAM_AXIS, Header, Player, Weapon
from etstats.statsfile.parser import clean_name
from etstats.statsfile.stopwatch import Outcome
from etstats.statsfile.values import (
    BULLETS_FIRED,
    DAMAGE_GIVEN,
    DAMAGE_RECEIVED,
    HEADSHOT_KILLS,
    TANK_MEATSHIELD,
    TIME_DEAD_MINUTES,
    TIME_PLAYED_MINUTES,
    TIME_PLAYED_PCT,
    shots_fired,
)
from etstats.statsfile.writer import write

MAPS = ("etl_adlernest", "supply", "sw_goldrush_te", "te_escape2", "braundorf_b4", "etl_frostbite")
NAMES = (
    "^1Fire^7Fox", "^4blue", "Kr1zz", "^3sm@sh", "*Vex*", "^2l`ombre", "ŽubrOwka", "^5Nyx",
    "olz", "^7carniee", "Hex_", "^9Silent Bob", "^1<@&99>", "Rusty", "^6m^7o^6o", "qUiCk",
    "@everyone", "`tick`", "^^7caret", "名前", "**bold**", "a_b_c", "^!w^*x",
)  # fmt: skip
# Cumulative indices in a round-2 file (values 0-7, 20 and 22).
CUMULATIVE = (0, 1, 2, 3, 4, 5, 6, 7, 20, 22)
GUN_WEAPONS = (2, 3, 4, 5, 6, 22, 23, 24, 25)
FULLHOLD_ODDS = 0.15  # round 1's attackers held for the whole time limit


@dataclass(frozen=True)
class GeneratedFile:
    filename: str
    body: bytes
    header: Header
    players: tuple[Player, ...]  # as written in the file
    round_players: tuple[Player, ...]  # the true values of this round alone
    outcome: Outcome | None = None  # a round 2's true map result


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
    values[DAMAGE_GIVEN] = damage
    values[DAMAGE_RECEIVED] = rng.randint(deaths * 80, deaths * 160 + 300)
    values[TIME_PLAYED_PCT] = 100.0
    values[HEADSHOT_KILLS] = min(values[HEADSHOT_KILLS], kills)
    values[BULLETS_FIRED] = shots_fired(weapons)
    values[TIME_PLAYED_MINUTES] = round(max(minutes, 0.1), 1)
    values[TANK_MEATSHIELD] = 0.0
    values[TIME_DEAD_MINUTES] = round(values[TIME_PLAYED_MINUTES] * rng.uniform(0, 0.4), 1)
    recompute_ratios(values, kills, deaths)
    headshots = sum(w.headshots for w in weapons)
    clean = clean_name(name)
    bot = guid.startswith("OMNIBOT") or clean.startswith("[BOT]")
    return Player(
        guid, name, clean, 0, team, bot, tuple(weapons), tuple(values), kills, deaths, headshots
    )


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
        headshots=sum(w.headshots for w in weapons),
    )


def generate_match(
    rng: random.Random,
    start: datetime,
    *,
    map_name: str | None = None,
    players: int = 12,
    server: str = "^1ET^7:Legacy ^4Demo",
    gap_s: int = 20,
    churn: bool = False,
    bots: int = 0,
    header_fields: int = 9,
) -> tuple[GeneratedFile, GeneratedFile]:
    """One map: round 1 at `start`, round 2 after it, with consistent numbers.

    With `churn` (and at least 4 players) one player leaves after round 1, one
    joins for round 2 and one reconnects during round 2 (his session resets).
    `bots` of the players are Omni-bots, all sharing the guid8 OMNIBOT0.
    """
    map_name = map_name or rng.choice(MAPS)
    limit = rng.choice((600, 720, 900))
    # Stopwatch: round 1's attackers set the time (the full limit when held,
    # a fullhold); round 2's attackers must beat it, or are held for all of it.
    r1_time = limit if rng.random() < FULLHOLD_ODDS else rng.randint(limit // 2, limit - 1)
    r2_time = rng.randint(r1_time // 3, r1_time - 1) if rng.random() < 0.5 else r1_time
    roster = [(f"{rng.getrandbits(32):08X}", rng.choice(NAMES) + f"{i}") for i in range(players)]
    for i in range(min(bots, players)):
        roster[-1 - i] = ("OMNIBOT0", f"[BOT]^3{rng.choice(NAMES)}{players - 1 - i}")
    churn = churn and players >= 4
    r1_roster = roster[:-1] if churn else roster
    r2_roster = (
        [*roster[:-2], (f"{rng.getrandbits(32):08X}", "^2late^7joiner")] if churn else roster
    )
    reconnecting = roster[0] if churn else None

    r1_true = [
        _round_player(rng, guid, name, TEAM_AXIS if i % 2 == 0 else TEAM_ALLIES, r1_time / 60)
        for i, (guid, name) in enumerate(r1_roster)
    ]
    by_id = {(p.guid, p.name): p for p in r1_true}
    r2_true, r2_file = [], []
    for i, (guid, name) in enumerate(r2_roster):
        minutes = r2_time / 120 if (guid, name) == reconnecting else r2_time / 60
        true = _round_player(rng, guid, name, TEAM_ALLIES if i % 2 == 0 else TEAM_AXIS, minutes)
        r2_true.append(true)
        before = by_id.get((guid, name))
        r2_file.append(
            true if before is None or (guid, name) == reconnecting else _add(before, true)
        )

    files = []
    for round_no, seconds, when, in_file, true_players in (
        (1, r1_time, start, r1_true, r1_true),
        (2, r2_time, start + timedelta(seconds=r1_time + gap_s), r2_file, r2_true),
    ):
        in_file = [replace(p, rounds=round_no) for p in in_file]
        rng.shuffle(in_file)
        round_limit = limit if round_no == 1 else r1_time
        defender = TEAM_AXIS if round_no == 1 else TEAM_ALLIES
        attacker = TEAM_ALLIES if round_no == 1 else TEAM_AXIS
        header = Header(
            server_name=server,
            map=map_name,
            config="legacy6",
            round=round_no,
            defender_team=defender,
            winner_team=attacker if seconds < round_limit else defender,
            time_limit_s=round_limit,
            next_time_limit_s=seconds,
            playtime_ms=seconds * 1000 if header_fields == 9 else None,
            fields=header_fields,
            teams_low_confidence=False,
        )
        stamp = (when + timedelta(seconds=seconds)).strftime("%Y-%m-%d-%H%M%S")
        filename = f"{stamp}-{map_name}-round-{round_no}.txt"
        body = write(header, in_file)
        files.append(GeneratedFile(filename, body, header, tuple(in_file), tuple(true_players)))
    outcome = (
        Outcome.ROUND2_ATTACKERS
        if r2_time < r1_time
        else Outcome.DRAW
        if r1_time == limit
        else Outcome.ROUND1_ATTACKERS
    )
    files[1] = replace(files[1], outcome=outcome)
    return files[0], files[1]


@dataclass(frozen=True)
class Evening:
    """A generated evening on one server, with its truth."""

    files: tuple[GeneratedFile, ...]  # what reached the server, in play order
    round1_of: dict[str, str | None]  # each round-2 file name: its round 1's, None if lost


def generate_evening(
    rng: random.Random,
    start: datetime,
    maps: int,
    *,
    pool: tuple[str, ...] = MAPS[:3],
    lost_odds: float = 0.1,
    churn_odds: float = 0.3,
    players: tuple[int, int] = (2, 12),
) -> Evening:
    """`maps` played maps in a row, drawn from a small `pool` so the same map
    comes back within the pairing window, with reconnects, late joiners, bots
    and some files lost (never so that a lost round 1 leaves a round 2 with an
    unclaimed round 1 of its map that its clock matches: the files would not
    tell those apart)."""
    files: list[GeneratedFile] = []
    round1_of: dict[str, str | None] = {}
    unclaimed: dict[str, set[int]] = {}  # per map: times set by round 1s whose round 2 is lost
    when = start
    for _ in range(maps):
        r1, r2 = generate_match(
            rng,
            when,
            map_name=rng.choice(pool),
            players=rng.randint(*players),
            churn=rng.random() < churn_odds,
            bots=rng.choice((0, 0, 0, 1, 2)),
            gap_s=rng.randint(5, 90),
        )
        lost = rng.random() < lost_odds
        times = unclaimed.setdefault(r1.header.map, set())
        if lost and rng.random() < 0.5 and r2.header.time_limit_s not in times:
            round1_of[r2.filename] = None
            files.append(r2)
        elif lost:
            times.add(r1.header.next_time_limit_s)
            files.append(r1)
        else:
            round1_of[r2.filename] = r1.filename
            files.extend((r1, r2))
        r2_end = datetime.strptime(r2.filename[:17], "%Y-%m-%d-%H%M%S")
        when = r2_end + timedelta(seconds=rng.randint(20, 600))
    return Evening(tuple(files), round1_of)
