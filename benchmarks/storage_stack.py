"""Embedded NATS and PostgreSQL, and the storage service as a process beside
them: what the query benchmarks time storage's endpoints on."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from etstats_cli.embedded import EmbeddedNats, EmbeddedPostgres, die_with_parent, free_port
from services.common.bus import Bus, connect
from services.common.config import CommonConfig, Env

STARTUP_S = 3.0  # storage connects, migrates and registers its endpoints


@contextlib.asynccontextmanager
async def servers(tmp: Path) -> AsyncIterator[tuple[str, str]]:
    """(NATS URL, database URL) of servers that live in `tmp`."""
    nats = EmbeddedNats(tmp / "nats", free_port())
    nats.start()
    postgres = EmbeddedPostgres(tmp / "pg")
    try:
        yield nats.url, postgres.start()
    finally:
        postgres.stop()
        nats.stop()


@contextlib.asynccontextmanager
async def storage_service(nats_url: str, database_url: str) -> AsyncIterator[Bus]:
    """Storage running as a process; a bus connection to ask it with."""
    env = dict(
        os.environ,
        NATS_URL=nats_url,
        DATABASE_URL=database_url,
        HTTP_PORT="0",
        LOG_LEVEL="WARNING",
        BACKUP_INTERVAL="0",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.storage", env=env, preexec_fn=die_with_parent
    )
    bus = await connect(
        CommonConfig.from_env("storage", Env({"NATS_URL": nats_url, "HTTP_PORT": "0"})),
        asyncio.Event(),
    )
    assert bus is not None
    try:
        await asyncio.sleep(STARTUP_S)
        yield bus
    finally:
        await bus.close()
        proc.terminate()
        await proc.wait()
