"""Wires PostgreSQL to the bus: import parsed rounds, answer storage queries."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import asyncpg
from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.micro.request import Request
from prometheus_client import Counter

from proto import control_pb2, rounds_pb2
from services.common.aio import sleep_unless
from services.common.config import Env
from services.common.consumer import Reject, consume
from services.common.metrics import mark_success
from services.common.runtime import Runtime
from services.common.subjects import (
    PARSED,
    STORAGE_UNKNOWN_FILES,
    STORED,
    all_sources,
    stage_msg_id,
    stage_subject,
)
from services.storage.importer import Outcome, import_round, unknown_files
from services.storage.migrations import migrate

log = logging.getLogger(__name__)

IMPORTS = Counter(
    "etstats_storage_files_total", "Files handled by storage, by outcome.", ["source", "outcome"]
)


@dataclass(frozen=True)
class StorageConfig:
    database_url: str
    pool_size: int

    @classmethod
    def from_env(cls, env: Env) -> StorageConfig:
        return cls(
            database_url=env.str("DATABASE_URL", pattern=r"postgres(ql)?://\S*"),
            pool_size=env.int("DATABASE_POOL_SIZE", 5, minimum=1, maximum=100),
        )


async def open_pool(conf: StorageConfig, rt: Runtime) -> asyncpg.Pool | None:
    """Connect (retrying while PostgreSQL is down) and migrate; None if stopped first."""
    delay = 0.5
    while not rt.stop.is_set():
        try:
            pool = await asyncpg.create_pool(conf.database_url, min_size=1, max_size=conf.pool_size)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("cannot reach PostgreSQL (%s); retrying in %.1fs", exc, delay)
            await sleep_unless(rt.stop, delay)
            delay = min(delay * 2, 10)
            continue
        async with pool.acquire() as conn:
            await migrate(conn)
        return pool
    return None


async def main(rt: Runtime, conf: StorageConfig) -> None:
    pool = await open_pool(conf, rt)
    if pool is None:
        return
    rt.health.add_check("postgres", lambda: not pool.is_closing())

    async def handle(msg: Msg) -> None:
        try:
            parsed = rounds_pb2.ParsedRound.FromString(msg.data)
        except DecodeError:
            raise Reject("bad_message", "parsed round message is not a valid ParsedRound") from None
        async with pool.acquire() as conn:
            result = await import_round(conn, parsed)
        IMPORTS.labels(source=parsed.file.source, outcome=result.outcome.value).inc()
        if result.outcome is Outcome.DUPLICATE:
            log.info(
                "%s is a duplicate of an imported file",
                parsed.file.filename,
                extra={"source": parsed.file.source, "file": parsed.file.filename},
            )
        stored = rounds_pb2.StoredRound(
            file=parsed.file,
            round_id=result.round_id or 0,
            stamp=parsed.stamp,
            header=parsed.header,
            flags=parsed.flags,
            players=parsed.players,
            redelivered=result.outcome is Outcome.REDELIVERED,
            duplicate=result.outcome is Outcome.DUPLICATE,
            stored_at_ms=int(time.time() * 1000),
        )
        await rt.bus.publish(
            stage_subject(STORED, parsed.file.source),
            stored.SerializeToString(),
            msg_id=stage_msg_id(STORED, parsed.file.msg_id),
        )
        mark_success("storage", parsed.file.source)

    async def answer_unknown(req: Request) -> None:
        try:
            query = control_pb2.KnownFilesRequest.FromString(req.data)
            async with pool.acquire() as conn:
                unknown = await unknown_files(conn, query.source, list(query.filenames))
            reply = control_pb2.KnownFilesReply(unknown=unknown)
        except DecodeError:
            reply = control_pb2.KnownFilesReply(error="request is not a KnownFilesRequest")
        except (OSError, asyncpg.PostgresError) as exc:
            reply = control_pb2.KnownFilesReply(error=f"database unavailable: {exc}")
        await req.respond(reply.SerializeToString())

    await rt.micro.add_endpoint(
        name="unknown_files", subject=STORAGE_UNKNOWN_FILES, handler=answer_unknown
    )
    try:
        await consume(
            rt.bus, stage="storage", subject=all_sources(PARSED), handler=handle, stop=rt.stop
        )
    finally:
        await pool.close()
