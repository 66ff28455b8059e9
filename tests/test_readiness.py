"""A service is ready only when it can do its work: /readyz says why not."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from services.common.config import CommonConfig, Env
from services.common.runtime import close, launch, open_probes, start
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.waiting import wait_until

pytestmark = pytest.mark.service


async def test_storage_is_not_ready_while_postgresql_is_unreachable(nats_server) -> None:
    cfg = CommonConfig.from_env("storage", Env({"NATS_URL": nats_server.url, "HTTP_PORT": "0"}))
    health = await open_probes(cfg)
    assert health is not None
    rt = await start(cfg, health, asyncio.Event())
    assert rt is not None
    nowhere = "postgresql://etstats@127.0.0.1:9/etstats"  # discard port: nothing listens
    task = launch(rt, storage_main, StorageConfig(nowhere, 1))
    probe: dict[str, Any] = {}

    async def probed() -> bool:
        url = f"http://127.0.0.1:{health.port}/readyz"
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            probe.update(status=resp.status, **await resp.json())
        return "postgres" in probe["checks"]

    try:
        await wait_until(probed, what="storage's readiness probe naming postgres")
        assert probe["status"] == 503 and probe["checks"] == {"nats": True, "postgres": False}
    finally:
        rt.stop.set()
        await asyncio.wait_for(task, 20)
        await close(rt)
