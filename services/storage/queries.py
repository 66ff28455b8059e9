"""Read side: stored-round events rebuilt from the database, status, lookups."""

from __future__ import annotations

import time

import asyncpg

from etstats.statsfile.differential import match_totals
from proto import common_pb2, control_pb2, rounds_pb2
from services.common.rounds import player_message
from services.storage.importer import ORIGIN_NAMES
from services.storage.pairing import load_players

ORIGINS = {name: value for value, name in ORIGIN_NAMES.items()}


async def stored_round(
    conn: asyncpg.Connection,
    round_id: int,
    file: common_pb2.FileRef | None = None,
    *,
    redelivered: bool = False,
    duplicate: bool = False,
) -> rounds_pb2.StoredRound | None:
    """Everything the poster needs to render a round, without another query."""
    row = await conn.fetchrow(
        "SELECT r.*, f.filename, f.sha256, f.msg_id, f.origin, f.sync_id"
        " FROM rounds r JOIN files f ON f.id = r.file_id WHERE r.id = $1",
        round_id,
    )
    if row is None:
        return None
    if file is None:
        file = common_pb2.FileRef(
            source=row["source"],
            filename=row["filename"],
            sha256=row["sha256"],
            msg_id=row["msg_id"],
            origin=ORIGINS.get(row["origin"], 0),
            sync_id=row["sync_id"] or "",
        )
    bases = {
        r["slot"]: r["basis"]
        for r in await conn.fetch(
            "SELECT slot, basis FROM player_rounds WHERE round_id = $1", round_id
        )
    }
    known = all(bases.values()) and bool(bases)
    players = await load_players(conn, round_id, computed=known)
    stored = rounds_pb2.StoredRound(
        file=file,
        round_id=round_id,
        stamp=row["stamp"].strftime("%Y-%m-%d %H:%M:%S"),
        header=rounds_pb2.RoundHeader(
            server_name=row["server_name"],
            map=row["map"],
            config=row["config"],
            round=row["round"],
            defender_team=row["defender_team"],
            winner_team=row["winner_team"],
            time_limit_s=row["time_limit_s"],
            next_time_limit_s=row["next_time_limit_s"],
            playtime_ms=row["playtime_ms"] or 0,
            header_fields=row["header_fields"],
            teams_low_confidence=row["teams_low_confidence"],
        ),
        flags=rounds_pb2.RoundFlags(
            partial=row["partial"], short=row["short"], bot=row["bot"], orphan=row["orphan"]
        ),
        players=[player_message(p, bases[slot] if known else "") for slot, p in enumerate(players)],
        redelivered=redelivered,
        duplicate=duplicate,
        stored_at_ms=int(time.time() * 1000),
    )
    match = await conn.fetchrow(
        "SELECT m.*, f.filename AS r1_filename FROM matches m JOIN rounds r ON r.id = m.r1_round_id"
        " JOIN files f ON f.id = r.file_id WHERE m.r2_round_id = $1",
        round_id,
    )
    if match is not None:
        stored.paired_round_id = match["r1_round_id"]
        stored.paired_filename = match["r1_filename"]
        stored.map_result.CopyFrom(
            rounds_pb2.MapResult(
                outcome=match["outcome"],
                time_to_beat_s=match["time_to_beat_s"],
                round2_time_s=match["round2_time_s"],
                fullhold=match["fullhold"],
            )
        )
        r1_players = await load_players(conn, match["r1_round_id"], computed=True)
        stored.match_totals.extend(player_message(p) for p in match_totals(r1_players, players))
    return stored


async def last_round_id(conn: asyncpg.Connection, source: str) -> int | None:
    return await conn.fetchval(
        "SELECT id FROM rounds WHERE source = $1 ORDER BY stamp DESC, id DESC LIMIT 1", source
    )


async def status(conn: asyncpg.Connection) -> control_pb2.StatusReply:
    """Counters for `!health` and the CLI: files, rounds, and the event log's summary."""
    counts = await conn.fetchrow(
        "SELECT"
        " (SELECT count(*) FROM files WHERE status = 'imported') AS files_imported,"
        " (SELECT count(*) FROM files WHERE status = 'rejected') AS files_rejected,"
        " (SELECT count(*) FROM files WHERE status = 'duplicate') AS files_duplicate,"
        " (SELECT count(*) FROM files WHERE created_at >= date_trunc('day', now())) AS files_today,"
        " (SELECT count(*) FROM rounds) AS rounds,"
        " (SELECT count(*) FROM rounds WHERE orphan) AS orphan_rounds,"
        " (SELECT count(*) FROM players) AS players,"
        " (SELECT count(*) FROM pipeline_events WHERE outcome IN ('rejected', 'failed')"
        "   AND at >= now() - interval '1 hour') AS errors_last_hour"
    )
    last = await conn.fetchrow(
        "SELECT stage, outcome, filename, detail, at FROM pipeline_events"
        " WHERE outcome IN ('rejected', 'failed') ORDER BY at DESC LIMIT 1"
    )
    last_error = ""
    if last is not None:
        last_error = (
            f"{last['at']:%Y-%m-%d %H:%M:%S} {last['stage']} {last['outcome']} "
            f"{last['filename']}: {last['detail']}"
        )
    return control_pb2.StatusReply(service="storage", counters=dict(counts), last_error=last_error)
