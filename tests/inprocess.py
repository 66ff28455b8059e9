"""Run a service's real main coroutine inside the test's event loop.

The service starts through production's own startup code (probes, bus,
discovery: :func:`services.common.runtime.start`), and `running` yields only
once the service is ready, so a test never races a service that is still
opening its database or registering its endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from nats.micro.service import ServiceInfo, ServiceVerb, control_subject

from services.common import endpoints
from services.common.config import CommonConfig, Env
from services.common.runtime import Runtime, ServiceMain, close, launch, open_probes, start
from services.common.subjects import HEALTH
from tests.waiting import wait_until

READY_WITHIN_S = 30.0

# Readiness checks each service registers once its main has set up, beyond
# "nats". Checks that depend on the outside world (the fetcher's catch-up, the
# bot's Discord login) are left to the tests that exercise them; the endpoints
# a service must answer come from the contract (services.common.endpoints).
READY_CHECKS: dict[str, set[str]] = {"storage": {"postgres"}}


class Running:
    def __init__(self, runtime: Runtime, task: asyncio.Task[None]) -> None:
        self.runtime = runtime
        self.task = task
        self.killed = False

    async def kill(self) -> None:
        """Die without cleaning up, as a crashed process would."""
        self.killed = True
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task
        await self.runtime.bus.nc.close()


async def _checks(rt: Runtime) -> dict[str, bool]:
    """The readiness checks as the probe reports them, over HTTP."""
    url = f"http://127.0.0.1:{rt.health.port}/readyz"
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return dict((await resp.json())["checks"])


async def _endpoint_subjects(rt: Runtime) -> set[str]:
    """Subjects the instance lists in discovery: each is subscribed once listed."""
    subject = control_subject(ServiceVerb.INFO, name=rt.micro.info().name, id=rt.micro.id)
    msg = await rt.bus.nc.request(subject, b"", timeout=2)
    return {e.subject for e in ServiceInfo.from_dict(json.loads(msg.data)).endpoints}


async def wait_ready(rt: Runtime, task: asyncio.Task[None]) -> None:
    """Until the service's checks pass and its endpoints answer; fail if main ends first."""
    service = rt.cfg.service
    checks = {"nats", *READY_CHECKS.get(service, ())}
    subjects = {HEALTH} | {e.subject for e in endpoints.ALL if e.service == service}
    missing: list[str] = []

    async def ready() -> bool:
        if task.done():
            task.result()  # its error, if any, is the failure
            raise AssertionError(f"{service} stopped before it was ready")
        passing = {name for name, ok in (await _checks(rt)).items() if ok}
        missing[:] = sorted(checks - passing) + sorted(subjects - await _endpoint_subjects(rt))
        return not missing

    try:
        await wait_until(ready, READY_WITHIN_S, what=f"{service} ready")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still missing: {', '.join(missing)}") from None


@contextlib.asynccontextmanager
async def running(
    service: str,
    main: ServiceMain[Any],
    conf: Any,
    nats_url: str,
    **env: str,
) -> AsyncIterator[Running]:
    """The service started as in production, yielded once ready, stopped gracefully."""
    cfg = CommonConfig.from_env(service, Env({"NATS_URL": nats_url, "HTTP_PORT": "0", **env}))
    health = await open_probes(cfg)
    assert health is not None, "the probes could not be served"
    runtime = await start(cfg, health, asyncio.Event())
    assert runtime is not None
    task = launch(runtime, main, conf)
    handle = Running(runtime, task)
    try:
        await wait_ready(runtime, task)
        yield handle
    finally:
        if not task.done():
            runtime.stop.set()
            await asyncio.wait_for(task, 20)
        if handle.killed:
            await runtime.health.stop()
        else:
            await close(runtime)
            if not task.cancelled() and (error := task.exception()) is not None:
                raise error  # a service that crashed mid-test is a failure, not a detail
