"""R1/R2 pairing in the database, and the round values it yields.

The rule is the pure one (etstats.statsfile.pairing), applied to the stored
rounds of the source and map that a new round can affect: files arrive in
any order, so every import settles those rounds anew and repairs the round 2s
whose round 1 changed. Imports of one source and map are serialised.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg

from etstats.statsfile import Header, Player, Weapon
from etstats.statsfile.differential import Basis, round_two
from etstats.statsfile.pairing import PAIRING_WINDOW, RoundRef
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


async def lock_maps(conn: Conn, maps: Iterable[tuple[str, str]]) -> None:
    """Serialise imports that can pair with each other (same source and map)
    until the transaction ends, whichever replica runs them. Locks are taken
    in one order, so two batches that share maps cannot deadlock."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(k, 0))"
        " FROM unnest($1::text[]) WITH ORDINALITY AS t(k, i) ORDER BY i",
        sorted({f"pairing/{source}/{map_name}" for source, map_name in maps}),
    )


@dataclass(frozen=True)
class Neighbour:
    """A stored round that pairing may link with a new one."""

    ref: RoundRef
    round_id: int
    paired_with: int | None  # its round 1 now, for a round 2


async def neighbours(
    conn: Conn, source: str, map_name: str, low: datetime, high: datetime
) -> list[Neighbour]:
    """The stored rounds of the map chained to the stamps `low`..`high` by gaps
    within the window: pairing among them does not depend on any round outside."""
    while True:
        rows = await conn.fetch(
            "SELECT r.id, r.round, r.stamp, r.time_limit_s, r.next_time_limit_s, f.filename,"
            " m.r1_round_id FROM rounds r JOIN files f ON f.id = r.file_id"
            " LEFT JOIN matches m ON m.r2_round_id = r.id"
            " WHERE r.source = $1 AND r.map = $2 AND NOT r.partial AND r.round IN (1, 2)"
            " AND r.stamp BETWEEN $3 AND $4",
            source,
            map_name,
            low - PAIRING_WINDOW,
            high + PAIRING_WINDOW,
        )
        stamps = [r["stamp"] for r in rows]
        if min(stamps, default=low) >= low and max(stamps, default=high) <= high:
            break
        low, high = min(low, *stamps), max(high, *stamps)
    return [
        Neighbour(
            RoundRef(
                r["filename"],
                map_name,
                r["round"],
                r["stamp"],
                r["time_limit_s"],
                r["next_time_limit_s"],
            ),
            r["id"],
            r["r1_round_id"],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class RoundValues:
    """Computed values of a round about to be stored: rows per slot, or None
    when nothing is known (an orphan or partial round 2)."""

    rows: list[tuple[Player, str]] | None
    pairing: Pairing | None = None


async def stored_pairing(conn: Conn, r1_id: int, r2_header: Header) -> Pairing:
    """A round 2's pairing with a round 1 read back from the database."""
    r1 = await conn.fetchrow(
        f"SELECT {ROUND_COLUMNS}, (SELECT filename FROM files WHERE files.id = rounds.file_id)"
        " AS filename FROM rounds WHERE id = $1",
        r1_id,
    )
    r1 = found(r1, f"round {r1_id}")
    players = await load_players(conn, r1_id)  # a round 1's file values are its round values
    return Pairing(r1_id, r1["filename"], players, map_result(header_of(r1), r2_header))


def round_values(header: Header, players: Sequence[Player], pairing: Pairing | None) -> RoundValues:
    """Round values for a round, given the round 1 pairing found for it (pure)."""
    if header.round == 1:  # round values never list unused weapons
        used = [replace(p, weapons=tuple(w for w in p.weapons if any(w[1:]))) for p in players]
        return RoundValues([(p, Basis.ROUND1.value) for p in used])
    if header.shutdown_path or pairing is None:
        return RoundValues(None)
    rows = round_two(pairing.r1_players, players)
    return RoundValues([(row.player, row.basis.value) for row in rows], pairing)


async def link_matches(conn: Conn, links: Sequence[tuple[str, str, int, Pairing]]) -> None:
    """Match rows for (source, map, round 2 id, pairing), replacing any earlier
    match of either round."""
    if not links:
        return
    await conn.execute(
        "DELETE FROM matches"
        " WHERE r2_round_id = ANY($1::bigint[]) OR r1_round_id = ANY($2::bigint[])",
        [r2 for _, _, r2, _ in links],
        [p.r1_round_id for _, _, _, p in links],
    )
    await conn.executemany(
        "INSERT INTO matches (source, map, r1_round_id, r2_round_id, outcome, time_to_beat_s,"
        " round2_time_s, fullhold) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [
            (
                source,
                map_name,
                p.r1_round_id,
                r2,
                p.result.outcome.value,
                p.result.time_to_beat_s,
                p.result.round2_time_s,
                p.result.fullhold,
            )
            for source, map_name, r2, p in links
        ],
    )


async def repair(conn: Conn, r2_id: int, r1_id: int | None) -> None:
    """Redo a round 2's values, orphan flag and match row for its round 1 now."""
    r2 = await _round(conn, r2_id)
    header = header_of(r2)
    pairing = None
    if r1_id is not None and not header.shutdown_path:
        pairing = await stored_pairing(conn, r1_id, header)
    values = round_values(header, await load_players(conn, r2_id), pairing)
    await _store_round_values(conn, r2_id, values.rows)
    await conn.execute("UPDATE rounds SET orphan = $2 WHERE id = $1", r2_id, values.rows is None)
    if values.pairing is None:
        await conn.execute("DELETE FROM matches WHERE r2_round_id = $1", r2_id)
    else:
        await link_matches(conn, [(r2["source"], r2["map"], r2_id, values.pairing)])


async def repair_changed(
    conn: Conn, known: Sequence[Neighbour], pairs: dict[str, str | None], ids: dict[str, int]
) -> list[int]:
    """Re-pair the stored round 2s whose round 1 a new round changed; returns them."""
    repaired = []
    for n in known:
        if n.ref.round != 2:
            continue
        r1 = pairs.get(n.ref.key)
        r1_id = ids[r1] if r1 is not None else None
        if r1_id != n.paired_with:
            await repair(conn, n.round_id, r1_id)
            repaired.append(n.round_id)
    return repaired


async def load_pairing(conn: Conn, r2_id: int, r2_header: Header) -> Pairing | None:
    r1_id = await conn.fetchval("SELECT r1_round_id FROM matches WHERE r2_round_id = $1", r2_id)
    return None if r1_id is None else await stored_pairing(conn, r1_id, r2_header)
