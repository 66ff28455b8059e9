"""Read side: stored-round events rebuilt from the database, status, lookups."""

from __future__ import annotations

from etstats.contract import common_pb2, control_pb2, rounds_pb2
from etstats.contract.rounds import header_to_message
from services.storage.db import Conn, found
from services.storage.importer import ORIGIN_NAMES
from services.storage.pairing import header_of, load_pairing, load_players
from services.storage.stored import build_stored

ORIGINS = {name: value for value, name in ORIGIN_NAMES.items()}


async def stored_round(
    conn: Conn,
    round_id: int,
    file: common_pb2.FileRef | None = None,
    *,
    redelivered: bool = False,
    duplicate: bool = False,
) -> rounds_pb2.StoredRound | None:
    """The stored-round event of a round, read back from the database."""
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
            origin=ORIGINS.get(row["origin"], common_pb2.ORIGIN_UNSPECIFIED),
            sync_id=row["sync_id"] or "",
        )
    bases = [
        r["basis"]
        for r in await conn.fetch(
            "SELECT basis FROM player_rounds WHERE round_id = $1 ORDER BY slot", round_id
        )
    ]
    known = bool(bases) and all(bases)
    players = await load_players(conn, round_id, computed=known)
    header = header_of(row)
    return build_stored(
        file,
        round_id,
        row["stamp"].strftime("%Y-%m-%d %H:%M:%S"),
        header_to_message(header),
        rounds_pb2.RoundFlags(
            partial=row["partial"], short=row["short"], bot=row["bot"], orphan=row["orphan"]
        ),
        players,
        bases if known else None,
        await load_pairing(conn, round_id, header) if header.round == 2 else None,
        redelivered=redelivered,
        duplicate=duplicate,
    )


async def last_round_id(conn: Conn, source: str) -> int | None:
    """The last round played on a source, or on any source for ''."""
    return await conn.fetchval(
        "SELECT id FROM rounds WHERE ($1 = '' OR source = $1) ORDER BY stamp DESC, id DESC LIMIT 1",
        source,
    )


async def status(conn: Conn) -> control_pb2.StatusReply:
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
    return control_pb2.StatusReply(
        service="storage", counters=dict(found(counts, "the counters")), last_error=last_error
    )
