"""A small league of known players, stored through the importer, with its truth:
what each player's stats must add up to."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from etstats.players.lookup import PlayerKey
from etstats.players.totals import Totals
from etstats.statsfile import Player
from etstats.statsfile.generator import GeneratedFile, generate_match
from etstats.statsfile.parser import clean_name
from etstats.statsfile.values import (
    DAMAGE_GIVEN,
    DAMAGE_RECEIVED,
    OBJECTIVES,
    REVIVES_GIVEN,
    TIME_PLAYED_MINUTES,
)
from etstats.statsfile.writer import write
from services.storage.db import Conn
from services.storage.importer import import_round
from tests.rounds import parsed

# (guid, name as written): two Foxes, a bot Fox beside another bot, and colour codes.
ROSTER = (
    ("AAAA0001", "^1Fire^7Fox"),
    ("AAAA0002", "^4Foxtrot"),
    ("AAAA0003", "^3sm@sh"),
    ("AAAA0004", "olz"),
    ("AAAA0005", "**bold**"),
    ("AAAA0006", "Kr1zz"),
    ("OMNIBOT0", "[BOT]^3Fox"),
    ("OMNIBOT0", "[BOT]Nyx"),
)
START = datetime(2026, 11, 20, 21, 0)
# The longest names ET allows (36 characters), all Markdown that escaping doubles,
# enough of them for three leaderboard pages and more than a select menu holds.
CROWD = tuple((f"BBBB{i:04d}", f"*_~|`>Z{i:02d}" + "*_~|`>" * 4 + "**_") for i in range(30))


def key_of(guid: str, name: str) -> PlayerKey:
    return PlayerKey(guid, clean_name(name) if guid.startswith("OMNIBOT") else "")


def _cast(g: GeneratedFile, roster: dict[str, tuple[str, str]]) -> GeneratedFile:
    """The generated file with its players renamed as the roster says."""

    def recast(p: Player) -> Player:
        guid, name = roster[p.guid]
        return replace(p, guid=guid, name=name, clean_name=clean_name(name))

    players = tuple(recast(p) for p in g.players)
    truth = tuple(recast(p) for p in g.round_players)
    return replace(g, body=write(g.header, players), players=players, round_players=truth)


def league(
    matches: int = 6,
    seed: int = 5,
    start: datetime = START,
    roster: tuple[tuple[str, str], ...] = ROSTER,
) -> list[GeneratedFile]:
    """`matches` maps played by the whole roster, one every 40 minutes."""
    rng = random.Random(seed)
    files = []
    for i in range(matches):
        pair = generate_match(rng, start + timedelta(minutes=40 * i), players=len(roster))
        cast = dict(zip((p.guid for p in pair[0].round_players), roster, strict=True))
        files += [_cast(g, cast) for g in pair]
    return files


async def store(conn: Conn, files: Iterable[GeneratedFile]) -> None:
    for g in files:
        await import_round(conn, parsed(g))


def truth(files: Iterable[GeneratedFile], key: PlayerKey) -> Totals:
    """What a player's totals must be: the sums of their true round values."""
    rows = [p for g in files for p in g.round_players if key_of(p.guid, p.name) == key]

    def value(p: Player, index: int) -> float:
        return float(p.values[index]) if index < len(p.values) else 0.0

    return Totals(
        rounds=len(rows),
        kills=sum(p.kills for p in rows),
        deaths=sum(p.deaths for p in rows),
        headshots=sum(p.headshots for p in rows),
        hits=sum(w.hits for p in rows for w in p.weapons),
        attempts=sum(w.attempts for p in rows for w in p.weapons),
        damage_given=sum(value(p, DAMAGE_GIVEN) for p in rows),
        damage_received=sum(value(p, DAMAGE_RECEIVED) for p in rows),
        minutes=sum(value(p, TIME_PLAYED_MINUTES) for p in rows),
        revives=sum(value(p, REVIVES_GIVEN) for p in rows),
        objectives=sum(value(p, i) for p in rows for i in OBJECTIVES),
    )


def weapon_truth(files: Iterable[GeneratedFile], key: PlayerKey) -> dict[int, tuple[int, ...]]:
    """A player's (hits, attempts, kills, headshots) per weapon used, from the true rows."""
    sums: dict[int, tuple[int, ...]] = {}
    for g in files:
        for p in g.round_players:
            if key_of(p.guid, p.name) != key:
                continue
            for w in p.weapons:
                before = sums.get(w.weapon, (0, 0, 0, 0))
                now = (w.hits, w.attempts, w.kills, w.headshots)
                sums[w.weapon] = tuple(a + b for a, b in zip(before, now, strict=True))
    return {w: s for w, s in sums.items() if s[1] > 0 or s[2] > 0}
