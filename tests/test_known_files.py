"""The fetcher skips a file only on storage's word: a failed lookup is never "known"."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from nats.aio.msg import Msg

from services.common.bus import Bus
from services.common.sources import SourceConfig
from services.fetcher.service import main as fetcher_main
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.inprocess import running
from tests.test_fetcher import Raw, conf, dated_file
from tests.waiting import wait_until

pytestmark = pytest.mark.service


async def test_catch_up_retries_when_storage_fails_and_then_fetches(
    nats_server, bus, database_url: str, tmp_path: Path
) -> None:
    box = tmp_path / "box"
    box.mkdir()
    name, body = dated_file(31, 0)
    (box / name).write_bytes(body)
    raw = await Raw().start(bus)
    async with running("storage", storage_main, StorageConfig(database_url, 2), nats_server.url):
        db = await asyncpg.connect(database_url)
        try:
            await wait_until(lambda: db.fetchval("SELECT to_regclass('files') IS NOT NULL"))
            # Storage's lookup now raises inside its handler, as it does while a
            # replica's pool closes or the schema is being changed under it.
            await db.execute("ALTER TABLE files RENAME TO files_away")
            errors = await error_answers(bus)
            async with running(
                "fetcher", fetcher_main, conf(SourceConfig("box", dir=box)), nats_server.url
            ):
                await wait_until(
                    lambda: len(errors) >= 2,
                    what="the fetcher asking storage again after a failed lookup",
                )
                assert raw.names() == []
                await db.execute("ALTER TABLE files_away RENAME TO files")
                await wait_until(lambda: raw.names() == [name], what="the file fetched")
        finally:
            await db.close()


async def error_answers(bus: Bus) -> list[bytes]:
    """Every error answer on the bus (storage's to the fetcher's lookups, here)."""
    seen: list[bytes] = []

    async def on_reply(msg: Msg) -> None:
        if msg.headers and "Nats-Service-Error" in msg.headers:
            seen.append(msg.data)

    await bus.nc.subscribe("_INBOX.>", cb=on_reply)
    return seen
