"""The pipeline event log: what became of every file, kept for a while."""

from __future__ import annotations

from datetime import UTC, datetime

from etstats.contract import control_pb2
from services.storage.db import Conn


async def record(conn: Conn, event: control_pb2.PipelineEvent) -> None:
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


async def stalled(conn: Conn, older_than_s: float) -> list[tuple[str, str]]:
    """Files detected by monitoring longer ago than that with no outcome since:
    not posted, not rejected, not a duplicate. (Looks back one day.)"""
    rows = await conn.fetch(
        "SELECT d.source, d.filename FROM pipeline_events d"
        " WHERE d.stage = 'fetcher' AND d.outcome = 'detected'"
        " AND d.at < now() - make_interval(secs => $1) AND d.at > now() - interval '1 day'"
        " AND NOT EXISTS (SELECT 1 FROM pipeline_events e WHERE e.source = d.source"
        "   AND e.filename = d.filename AND (e.outcome IN ('posted', 'rejected')"
        "   OR (e.outcome = 'stored' AND e.detail = 'duplicate')))"
        " ORDER BY d.at",
        older_than_s,
    )
    return [(r["source"], r["filename"]) for r in rows]


async def prune(conn: Conn, retention_s: float) -> int:
    """Drop events older than the retention; returns how many went."""
    status = await conn.execute(
        "DELETE FROM pipeline_events WHERE at < now() - make_interval(secs => $1)", retention_s
    )
    return int(status.split()[-1])
