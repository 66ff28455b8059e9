"""The pipeline event log: what became of every file, kept for a while."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from proto import control_pb2


async def record(conn: asyncpg.Connection, event: control_pb2.PipelineEvent) -> None:
    f = event.file
    await conn.execute(
        "INSERT INTO pipeline_events"
        " (at, stage, outcome, source, filename, msg_id, seconds, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        datetime.fromtimestamp(event.at_ms / 1000, UTC),
        event.stage,
        event.outcome,
        f.source,
        f.filename,
        f.msg_id or f.filename,
        event.seconds,
        event.detail[:2000],
    )


async def prune(conn: asyncpg.Connection, retention_s: float) -> int:
    """Drop events older than the retention; returns how many went."""
    status = await conn.execute(
        "DELETE FROM pipeline_events WHERE at < now() - make_interval(secs => $1)", retention_s
    )
    return int(status.split()[-1])
