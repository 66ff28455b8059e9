"""Import one parsed round: one transaction, batched writes, idempotent."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from proto import common_pb2, files_pb2, rounds_pb2
from services.storage.pairing import after_import

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


async def import_round(conn: asyncpg.Connection, parsed: rounds_pb2.ParsedRound) -> ImportResult:
    """Store a parsed round exactly once, keyed on (source, filename)."""
    f = parsed.file
    async with conn.transaction():
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
        round_id = await _insert_round(conn, parsed, file_id)
        await _upsert_players(conn, parsed)
        await after_import(conn, round_id)
    return ImportResult(Outcome.IMPORTED, round_id, file_id)


async def _upsert_players(conn: asyncpg.Connection, parsed: rounds_pb2.ParsedRound) -> None:
    stamp = datetime.strptime(parsed.stamp, "%Y-%m-%d %H:%M:%S")
    await conn.executemany(
        "INSERT INTO players (guid, names, first_seen, last_seen) VALUES ($1, ARRAY[$2], $3, $3)"
        " ON CONFLICT (guid) DO UPDATE SET"
        " names = CASE WHEN $2 = ANY(players.names) THEN players.names"
        " ELSE players.names || $2 END,"
        " first_seen = least(players.first_seen, $3), last_seen = greatest(players.last_seen, $3)",
        sorted({(p.guid, p.clean_name, stamp) for p in parsed.players}),
    )


async def record_rejection(conn: asyncpg.Connection, rejection: files_pb2.Rejection) -> bool:
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
    conn: asyncpg.Connection, parsed: rounds_pb2.ParsedRound, file_id: int
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
        datetime.strptime(parsed.stamp, "%Y-%m-%d %H:%M:%S"),
        h.server_name,
        h.config,
        h.defender_team,
        h.winner_team,
        h.time_limit_s,
        h.next_time_limit_s,
        h.playtime_ms or None,
        h.header_fields,
        h.teams_low_confidence,
        parsed.flags.partial,
        parsed.flags.short,
        parsed.flags.bot,
        parsed.flags.orphan,
    )
    await conn.copy_records_to_table(
        "player_rounds",
        columns=[
            "round_id",
            "slot",
            "guid",
            "name",
            "clean_name",
            "team",
            "bot",
            "kills",
            "deaths",
            "headshots",
            "raw_values",
        ],
        records=[
            (
                round_id,
                slot,
                p.guid,
                p.name,
                p.clean_name,
                p.team,
                p.bot,
                p.kills,
                p.deaths,
                p.headshots,
                list(p.values),
            )
            for slot, p in enumerate(parsed.players)
        ],
    )
    await conn.copy_records_to_table(
        "weapon_rounds",
        columns=["round_id", "slot", "weapon", "hits", "attempts", "kills", "deaths", "headshots"],
        records=[
            (round_id, slot, w.weapon, w.hits, w.attempts, w.kills, w.deaths, w.headshots)
            for slot, p in enumerate(parsed.players)
            for w in p.weapons
        ],
    )
    return round_id


async def unknown_files(conn: asyncpg.Connection, source: str, filenames: list[str]) -> list[str]:
    """The names among `filenames` that the ledger has never seen, in one round trip."""
    rows = await conn.fetch(
        "SELECT name FROM unnest($2::text[]) AS name"
        " WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.source = $1 AND f.filename = name)",
        source,
        filenames,
    )
    return [r["name"] for r in rows]
