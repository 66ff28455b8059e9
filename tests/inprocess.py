"""Run a service's real main coroutine inside the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats.micro

from services.common.bus import connect
from services.common.config import CommonConfig, Env
from services.common.http import HealthServer
from services.common.runtime import Runtime, add_health_endpoint


class Running:
    def __init__(self, runtime: Runtime, task: asyncio.Task[None]) -> None:
        self.runtime = runtime
        self.task = task

    async def kill(self) -> None:
        """Die without cleaning up, as a crashed process would."""
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task
        await self.runtime.bus.nc.close()


@contextlib.asynccontextmanager
async def running(
    service: str,
    main: Callable[[Runtime, Any], Awaitable[None]],
    conf: Any,
    nats_url: str,
    **env: str,
) -> AsyncIterator[Running]:
    cfg = CommonConfig.from_env(service, Env({"NATS_URL": nats_url, "HTTP_PORT": "0", **env}))
    stop = asyncio.Event()
    bus = await connect(cfg, stop)
    assert bus is not None
    micro = await nats.micro.add_service(bus.nc, name=f"etstats-{service}", version="0.0.0")
    runtime = Runtime(cfg, bus, stop, HealthServer(service, "127.0.0.1", 0), micro)
    await add_health_endpoint(runtime)
    task = asyncio.create_task(main(runtime, conf))
    handle = Running(runtime, task)
    try:
        yield handle
    finally:
        if not task.done():
            stop.set()
            await asyncio.wait_for(task, 20)
            await micro.stop()
            await bus.close()
