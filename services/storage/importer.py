"""Import one parsed round: one transaction, batched writes, idempotent."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from etstats.contract import common_pb2, files_pb2, rounds_pb2
from etstats.contract.rounds import header_from_message, player_from_message
from etstats.statsfile import Player
from etstats.statsfile.pairing import RoundRef, pair_rounds
from services.storage.db import Conn
from services.storage.pairing import (
    link_match,
    lock_map,
    neighbours,
    repair_changed,
    round_values,
)
from services.storage.stored import build_stored

ORIGIN_NAMES = {
    common_pb2.ORIGIN_MONITOR: "monitor",
    common_pb2.ORIGIN_SYNC: "sync",
    common_pb2.ORIGIN_CATCH_UP: "catch-up",
}


class Outcome(enum.Enum):
    IMPORTED = "imported"
    REDELIVERED = "redelivered"  # this very file was imported before
    DUPLICATE = "duplicate"  # same payload already imported under another name


@dataclass(frozen=True)
class ImportResult:
    outcome: Outcome
    round_id: int | None
    file_id: int
    stored: rounds_pb2.StoredRound | None = None  # built in memory for a fresh import
    repaired: tuple[int, ...] = ()  # stored round 2s whose round 1 this round changed


async def import_round(conn: Conn, parsed: rounds_pb2.ParsedRound) -> ImportResult:
    """Store a parsed round exactly once, keyed on (source, filename)."""
    f = parsed.file
    async with conn.transaction():
        await lock_map(conn, f.source, parsed.header.map)
        await conn.execute(
            "INSERT INTO sources (name) VALUES ($1) ON CONFLICT DO NOTHING", f.source
        )
        existing = await conn.fetchrow(
            "SELECT f.id, f.status, coalesce(r.id, d.id) AS round_id FROM files f"
            " LEFT JOIN rounds r ON r.file_id = f.id"
            " LEFT JOIN rounds d ON d.file_id = f.duplicate_of"
            " WHERE f.source = $1 AND f.filename = $2",
            f.source,
            f.filename,
        )
        if existing is not None and existing["status"] == "rejected":
            # It parses now (a fixed file or parser): the rejection is history.
            await conn.execute("DELETE FROM files WHERE id = $1", existing["id"])
        elif existing is not None:
            return ImportResult(Outcome.REDELIVERED, existing["round_id"], existing["id"])
        first = await conn.fetchval(
            "SELECT id FROM files WHERE source = $1 AND payload_sha256 = $2"
            " AND status = 'imported'",
            f.source,
            parsed.payload_sha256,
        )
        status = "duplicate" if first is not None else "imported"
        file_id = await conn.fetchval(
            "INSERT INTO files (source, filename, sha256, payload_sha256, size, status,"
            " duplicate_of, msg_id, origin, sync_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " ON CONFLICT (source, filename) DO NOTHING RETURNING id",
            f.source,
            f.filename,
            f.sha256,
            parsed.payload_sha256,
            parsed.size,
            status,
            first,
            f.msg_id,
            ORIGIN_NAMES.get(f.origin, "unknown"),
            f.sync_id or None,
        )
        if file_id is None:  # another replica imported it a moment ago
            return await import_round(conn, parsed)
        if first is not None:
            first_round = await conn.fetchval("SELECT id FROM rounds WHERE file_id = $1", first)
            return ImportResult(Outcome.DUPLICATE, first_round, file_id)
        stamp = datetime.strptime(parsed.stamp, "%Y-%m-%d %H:%M:%S")
        header = header_from_message(parsed.header, parsed.flags.partial)
        players = [player_from_message(p) for p in parsed.players]
        known = await neighbours(conn, f.source, header.map, stamp)
        pairs = pair_rounds([*(n.ref for n in known), RoundRef.of(f.filename, header, stamp)])
        ids = {n.ref.key: n.round_id for n in known}
        r1 = pairs.get(f.filename)
        values = await round_values(conn, header, players, ids[r1] if r1 is not None else None)
        flags = rounds_pb2.RoundFlags()
        flags.CopyFrom(parsed.flags)
        flags.orphan = header.round == 2 and not header.shutdown_path and values.rows is None
        round_id = await _insert_round(conn, parsed, file_id, stamp, flags)
        await _copy_rows(conn, round_id, players, values.rows)
        await _upsert_players(conn, parsed, stamp)
        if values.pairing is not None:
            await link_match(conn, f.source, header.map, round_id, values.pairing)
        repaired = await repair_changed(conn, known, pairs, {**ids, f.filename: round_id})
    stored = build_stored(
        f,
        round_id,
        parsed.stamp,
        parsed.header,
        flags,
        [p for p, _ in values.rows] if values.rows else players,
        [basis for _, basis in values.rows] if values.rows else None,
        values.pairing,
    )
    return ImportResult(Outcome.IMPORTED, round_id, file_id, stored, tuple(repaired))


async def _upsert_players(conn: Conn, parsed: rounds_pb2.ParsedRound, stamp: datetime) -> None:
    """One statement for all players of the round: guids with the names seen."""
    pairs = sorted({(p.guid, p.clean_name) for p in parsed.players})
    await conn.execute(
        "INSERT INTO players (guid, names, first_seen, last_seen)"
        " SELECT guid, array_agg(name ORDER BY name), $3, $3"
        " FROM unnest($1::text[], $2::text[]) AS t(guid, name) GROUP BY guid"
        " ON CONFLICT (guid) DO UPDATE SET"
        " names = ARRAY(SELECT DISTINCT unnest(players.names || EXCLUDED.names) ORDER BY 1),"
        " first_seen = least(players.first_seen, $3), last_seen = greatest(players.last_seen, $3)",
        [g for g, _ in pairs],
        [n for _, n in pairs],
        stamp,
    )


async def record_rejection(conn: Conn, rejection: files_pb2.Rejection) -> bool:
    """Keep a rejected file visible (and retryable); never overrides an import."""
    f = rejection.file
    if not f.source or not f.filename:
        return False
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO sources (name) VALUES ($1) ON CONFLICT DO NOTHING", f.source
        )
        status = await conn.fetchval(
            "INSERT INTO files (source, filename, sha256, size, status, error, msg_id, origin,"
            " sync_id) VALUES ($1, $2, $3, 0, 'rejected', $4, $5, $6, $7)"
            " ON CONFLICT (source, filename) DO UPDATE SET error = EXCLUDED.error,"
            " sha256 = EXCLUDED.sha256 WHERE files.status = 'rejected' RETURNING status",
            f.source,
            f.filename,
            f.sha256,
            f"{rejection.stage}: {rejection.reason}",
            f.msg_id,
            ORIGIN_NAMES.get(f.origin, "unknown"),
            f.sync_id or None,
        )
    return status is not None


async def _insert_round(
    conn: Conn,
    parsed: rounds_pb2.ParsedRound,
    file_id: int,
    stamp: datetime,
    flags: rounds_pb2.RoundFlags,
) -> int:
    h = parsed.header
    round_id: int = await conn.fetchval(
        "INSERT INTO rounds (file_id, source, map, round, stamp, server_name, config,"
        " defender_team, winner_team, time_limit_s, next_time_limit_s, playtime_ms,"
        " header_fields, teams_low_confidence, partial, short, bot, orphan)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18) RETURNING id",
        file_id,
        parsed.file.source,
        h.map,
        h.round,
        stamp,
        h.server_name,
        h.config,
        h.defender_team,
        h.winner_team,
        h.time_limit_s,
        h.next_time_limit_s,
        h.playtime_ms or None,
        h.header_fields,
        h.teams_low_confidence,
        flags.partial,
        flags.short,
        flags.bot,
        flags.orphan,
    )
    return round_id


async def _copy_rows(
    conn: Conn,
    round_id: int,
    players: Sequence[Player],
    rows: Sequence[tuple[Player, str]] | None,
) -> None:
    """Raw and computed values in two COPYs (computed NULL when unknown)."""
    records, weapons = [], []
    for slot, p in enumerate(players):
        computed, basis = rows[slot] if rows else (None, None)
        records.append(
            (
                round_id,
                slot,
                p.guid,
                p.name,
                p.clean_name,
                p.rounds,
                p.team,
                p.bot,
                p.kills,
                p.deaths,
                p.headshots,
                list(p.values),
                list(computed.values) if computed else None,
                computed.kills if computed else None,
                computed.deaths if computed else None,
                computed.headshots if computed else None,
                basis,
            )
        )
        by_weapon = {w.weapon: w for w in computed.weapons} if computed else {}
        for w in p.weapons:
            c = by_weapon.get(w.weapon)
            round_numbers = (
                (c.hits, c.attempts, c.kills, c.deaths, c.headshots)
                if c
                else (0, 0, 0, 0, 0)
                if computed
                else (None,) * 5
            )
            weapons.append(
                (
                    round_id,
                    slot,
                    w.weapon,
                    w.hits,
                    w.attempts,
                    w.kills,
                    w.deaths,
                    w.headshots,
                    *round_numbers,
                )
            )
    await conn.copy_records_to_table("player_rounds", columns=PLAYER_COLUMNS, records=records)
    await conn.copy_records_to_table("weapon_rounds", columns=WEAPON_COLUMNS, records=weapons)


PLAYER_COLUMNS = [
    "round_id", "slot", "guid", "name", "clean_name", "rounds", "team", "bot", "kills", "deaths",
    "headshots", "raw_values", "round_values", "round_kills", "round_deaths", "round_headshots",
    "basis",
]  # fmt: skip
WEAPON_COLUMNS = [
    "round_id", "slot", "weapon", "hits", "attempts", "kills", "deaths", "headshots",
    "round_hits", "round_attempts", "round_kills", "round_deaths", "round_headshots",
]  # fmt: skip


async def unknown_files(conn: Conn, source: str, filenames: list[str]) -> list[str]:
    """The names among `filenames` that the ledger has never seen, in one round trip."""
    rows = await conn.fetch(
        "SELECT name FROM unnest($2::text[]) AS name"
        " WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.source = $1 AND f.filename = name)",
        source,
        filenames,
    )
    return [r["name"] for r in rows]
