"""R1/R2 pairing from the database, and the round values it yields.

The rules are the format's (etstats.statsfile): an R2 pairs with the latest
non-partial R1 of the same source and map written before it, within the
window, midnight included. Files can arrive in any order, so every import
re-pairs what it can affect: an R1 re-pairs the R2s after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import asyncpg

from etstats.statsfile import Header, Player, Weapon
from etstats.statsfile.differential import Basis, round_two
from etstats.statsfile.pairing import PAIRING_WINDOW
from etstats.statsfile.stopwatch import map_result
from services.storage.db import Conn, found
from services.storage.stored import Pairing

ROUND_COLUMNS = (
    "id, source, map, round, stamp, server_name, config, defender_team, winner_team,"
    " time_limit_s, next_time_limit_s, playtime_ms, header_fields, teams_low_confidence, partial"
)


def header_of(row: asyncpg.Record) -> Header:
    return Header(
        server_name=row["server_name"],
        map=row["map"],
        config=row["config"],
        round=row["round"],
        defender_team=row["defender_team"],
        winner_team=row["winner_team"],
        time_limit_s=row["time_limit_s"],
        next_time_limit_s=row["next_time_limit_s"],
        playtime_ms=row["playtime_ms"],
        fields=row["header_fields"],
        teams_low_confidence=row["teams_low_confidence"],
        shutdown_path=row["partial"],
    )


async def load_players(conn: Conn, round_id: int, *, computed: bool = False) -> list[Player]:
    """A round's players in file order, with raw file values or computed round values."""
    prefix = "round_" if computed else ""
    weapons: dict[int, list[Weapon]] = {}
    for w in await conn.fetch(
        f"SELECT slot, weapon, {prefix}hits AS hits, {prefix}attempts AS attempts,"
        f" {prefix}kills AS kills, {prefix}deaths AS deaths, {prefix}headshots AS headshots"
        " FROM weapon_rounds WHERE round_id = $1 ORDER BY slot, weapon",
        round_id,
    ):
        numbers = (w["hits"], w["attempts"], w["kills"], w["deaths"], w["headshots"])
        if numbers[0] is not None and (not computed or any(numbers)):
            weapons.setdefault(w["slot"], []).append(Weapon(w["weapon"], *numbers))
    players = []
    for r in await conn.fetch(
        f"SELECT slot, guid, name, clean_name, rounds, team, bot, {prefix or 'raw_'}values AS vals,"
        f" {prefix}kills AS kills, {prefix}deaths AS deaths, {prefix}headshots AS headshots"
        " FROM player_rounds WHERE round_id = $1 ORDER BY slot",
        round_id,
    ):
        values = tuple(r["vals"] or ())
        players.append(
            Player(
                r["guid"],
                r["name"],
                r["clean_name"],
                r["rounds"],
                r["team"],
                r["bot"],
                tuple(weapons.get(r["slot"], ())),
                values,
                r["kills"] or 0,
                r["deaths"] or 0,
                r["headshots"] or 0,
            )
        )
    return players


async def _store_round_values(
    conn: Conn, round_id: int, rows: Sequence[tuple[Player, str]] | None
) -> None:
    """Write computed values per slot; None clears them (nothing is known)."""
    if rows is None:
        await conn.execute(
            "UPDATE player_rounds SET round_values = NULL, round_kills = NULL, round_deaths = NULL,"
            " round_headshots = NULL, basis = NULL WHERE round_id = $1",
            round_id,
        )
        await conn.execute(
            "UPDATE weapon_rounds SET round_hits = NULL, round_attempts = NULL, round_kills = NULL,"
            " round_deaths = NULL, round_headshots = NULL WHERE round_id = $1",
            round_id,
        )
        return
    await conn.executemany(
        "UPDATE player_rounds SET round_values = $3, round_kills = $4, round_deaths = $5,"
        " round_headshots = $6, basis = $7 WHERE round_id = $1 AND slot = $2",
        [
            (round_id, slot, list(p.values), p.kills, p.deaths, p.headshots, basis)
            for slot, (p, basis) in enumerate(rows)
        ],
    )
    await conn.execute(
        "UPDATE weapon_rounds SET round_hits = 0, round_attempts = 0, round_kills = 0,"
        " round_deaths = 0, round_headshots = 0 WHERE round_id = $1",
        round_id,
    )
    await conn.executemany(
        "UPDATE weapon_rounds SET round_hits = $4, round_attempts = $5, round_kills = $6,"
        " round_deaths = $7, round_headshots = $8"
        " WHERE round_id = $1 AND slot = $2 AND weapon = $3",
        [
            (round_id, slot, w.weapon, w.hits, w.attempts, w.kills, w.deaths, w.headshots)
            for slot, (p, _) in enumerate(rows)
            for w in p.weapons
        ],
    )


async def _round(conn: Conn, round_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(f"SELECT {ROUND_COLUMNS} FROM rounds WHERE id = $1", round_id)
    return found(row, f"round {round_id}")


async def find_round1(
    conn: Conn,
    source: str,
    map_name: str,
    stamp: datetime,
    window: timedelta = PAIRING_WINDOW,
) -> int | None:
    return await conn.fetchval(
        "SELECT id FROM rounds WHERE source = $1 AND map = $2 AND round = 1 AND NOT partial"
        " AND stamp < $3 AND stamp >= $4 ORDER BY stamp DESC, id DESC LIMIT 1",
        source,
        map_name,
        stamp,
        stamp - window,
    )


@dataclass(frozen=True)
class RoundValues:
    """Computed values of a round about to be stored: rows per slot, or None
    when nothing is known (an orphan or partial round 2)."""

    rows: list[tuple[Player, str]] | None
    pairing: Pairing | None = None


async def _pairing(conn: Conn, r1_id: int, r2_header: Header) -> Pairing:
    r1 = await conn.fetchrow(
        f"SELECT {ROUND_COLUMNS}, (SELECT filename FROM files WHERE files.id = rounds.file_id)"
        " AS filename FROM rounds WHERE id = $1",
        r1_id,
    )
    r1 = found(r1, f"round {r1_id}")
    players = await load_players(conn, r1_id)  # a round 1's file values are its round values
    return Pairing(r1_id, r1["filename"], players, map_result(header_of(r1), r2_header))


async def round_values(
    conn: Conn,
    source: str,
    header: Header,
    stamp: datetime,
    players: Sequence[Player],
) -> RoundValues:
    """Round values for a new round, computed before it is written."""
    if header.round == 1:  # round values never list unused weapons
        used = [replace(p, weapons=tuple(w for w in p.weapons if any(w[1:]))) for p in players]
        return RoundValues([(p, Basis.ROUND1.value) for p in used])
    if header.shutdown_path:
        return RoundValues(None)
    r1_id = await find_round1(conn, source, header.map, stamp)
    if r1_id is None:
        return RoundValues(None)
    pairing = await _pairing(conn, r1_id, header)
    rows = round_two(pairing.r1_players, players)
    return RoundValues([(row.player, row.basis.value) for row in rows], pairing)


async def link_match(conn: Conn, source: str, map_name: str, r2_id: int, pairing: Pairing) -> None:
    r = pairing.result
    await conn.execute(
        "DELETE FROM matches WHERE r2_round_id = $1 OR r1_round_id = $2", r2_id, pairing.r1_round_id
    )
    await conn.execute(
        "INSERT INTO matches (source, map, r1_round_id, r2_round_id, outcome, time_to_beat_s,"
        " round2_time_s, fullhold) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        source,
        map_name,
        pairing.r1_round_id,
        r2_id,
        r.outcome.value,
        r.time_to_beat_s,
        r.round2_time_s,
        r.fullhold,
    )


async def repair(conn: Conn, r2_id: int) -> None:
    """Redo an R2's pairing in place (its R1 arrived late, or a later R1 did)."""
    r2 = await _round(conn, r2_id)
    values = await round_values(
        conn, r2["source"], header_of(r2), r2["stamp"], await load_players(conn, r2_id)
    )
    await _store_round_values(conn, r2_id, values.rows)
    await conn.execute("UPDATE rounds SET orphan = $2 WHERE id = $1", r2_id, values.rows is None)
    if values.pairing is None:
        await conn.execute("DELETE FROM matches WHERE r2_round_id = $1", r2_id)
    else:
        await link_match(conn, r2["source"], r2["map"], r2_id, values.pairing)


async def repair_after_round1(conn: Conn, source: str, map_name: str, stamp: datetime) -> list[int]:
    """A new R1 may be the one that R2s written after it were waiting for;
    returns the R2s it re-paired."""
    repaired = []
    for r2 in await conn.fetch(
        "SELECT id FROM rounds WHERE source = $1 AND map = $2 AND round = 2 AND NOT partial"
        " AND stamp > $3 AND stamp <= $4 ORDER BY stamp",
        source,
        map_name,
        stamp,
        stamp + PAIRING_WINDOW,
    ):
        await repair(conn, r2["id"])
        repaired.append(r2["id"])
    return repaired


async def load_pairing(conn: Conn, r2_id: int, r2_header: Header) -> Pairing | None:
    r1_id = await conn.fetchval("SELECT r1_round_id FROM matches WHERE r2_round_id = $1", r2_id)
    return None if r1_id is None else await _pairing(conn, r1_id, r2_header)
