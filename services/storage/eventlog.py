"""The pipeline event log: what became of every file, kept for a while."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from etstats.contract import control_pb2
from services.storage.db import Conn


async def record(conn: Conn, events: Sequence[control_pb2.PipelineEvent]) -> None:
    """Events in one statement; one already logged (a redelivery) is skipped."""
    await conn.execute(
        "INSERT INTO pipeline_events (at, stage, outcome, source, filename, msg_id, seconds,"
        " detail) SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[],"
        " $5::text[], $6::text[], $7::float8[], $8::text[]) ON CONFLICT DO NOTHING",
        [datetime.fromtimestamp(e.at_ms / 1000, UTC) for e in events],
        [e.stage for e in events],
        [e.outcome for e in events],
        [e.file.source for e in events],
        [e.file.filename for e in events],
        [e.file.msg_id or e.file.filename for e in events],
        [e.seconds for e in events],
        [e.detail[:2000] for e in events],
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
