"""Service lifecycle: config, logging, bus, probes, discovery and graceful stop.

A service's `__main__` calls :func:`run` with a config loader and its main
coroutine; everything else a service needs to be a good citizen lives here.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NoReturn, TypeVar

import nats.micro
from nats.micro.request import Request
from nats.micro.service import Service as MicroService

from etstats.contract import control_pb2
from services.common.bus import Bus, connect
from services.common.config import CommonConfig, ConfigError, Env
from services.common.http import HealthServer
from services.common.logs import setup_logging
from services.common.metrics import BUS_CONNECTED, LAST_SUCCESS
from services.common.subjects import HEALTH

log = logging.getLogger(__name__)

C = TypeVar("C")

try:
    VERSION = version("etstats")
except PackageNotFoundError:  # running from a source tree that is not installed
    VERSION = "0.0.0"


@dataclass
class Runtime:
    """What a running service is handed: its settings and its connections."""

    cfg: CommonConfig
    bus: Bus
    stop: asyncio.Event
    health: HealthServer
    micro: MicroService


ServiceMain = Callable[[Runtime, C], Coroutine[Any, Any, None]]


def health_handler(
    service: str, instance: str, health: HealthServer
) -> Callable[[Request], Awaitable[None]]:
    """Answers `!health`: readiness and the last success of each stage and source."""
    started = time.monotonic()

    async def answer(req: Request) -> None:
        checks = {name: bool(check()) for name, check in health.checks.items()}
        last = {}
        for metric in LAST_SUCCESS.collect():
            for sample in metric.samples:
                last[f"{sample.labels['stage']}/{sample.labels['source']}"] = int(
                    sample.value * 1000
                )
        reply = control_pb2.HealthReply(
            service=service,
            instance=instance,
            version=VERSION,
            uptime_s=time.monotonic() - started,
            ready=all(checks.values()),
            checks=checks,
            last_success_ms=last,
        )
        await req.respond(reply.SerializeToString())

    return answer


async def add_health_endpoint(rt: Runtime) -> None:
    """Every instance answers on its own queue group, so a request reaches all."""
    await rt.micro.add_endpoint(
        name="health",
        subject=HEALTH,
        queue_group=rt.micro.id,
        handler=health_handler(rt.cfg.service, rt.micro.id, rt.health),
    )


def run(service: str, load: Callable[[Env], C], main: ServiceMain[C]) -> NoReturn:
    """Validate config, then serve until SIGTERM/SIGINT; exit 0 on a clean stop."""
    env = Env()
    try:
        common = CommonConfig.from_env(service, env)
        conf = load(env)
    except ConfigError as exc:
        print(f"etstats {service}: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    setup_logging(service, common.log_level)
    sys.exit(asyncio.run(_serve(common, conf, main, grace=env.float("SHUTDOWN_GRACE", 10.0))))


async def open_probes(cfg: CommonConfig) -> HealthServer | None:
    """The HTTP side first, so a liveness probe answers while NATS is still being reached.

    None (logged) when the port cannot be bound.
    """
    health = HealthServer(cfg.service, cfg.http_host, cfg.http_port)
    try:
        await health.start()
    except OSError as exc:
        log.error(
            "cannot serve HTTP on %s:%s: %s (set HTTP_PORT)",
            cfg.http_host,
            cfg.http_port,
            exc.strerror,
        )
        return None
    log.info("serving /healthz /readyz /metrics on %s:%s", cfg.http_host, health.port)
    return health


async def start(cfg: CommonConfig, health: HealthServer, stop: asyncio.Event) -> Runtime | None:
    """Bus, readiness check and discovery: what every main is handed.

    Shared by :func:`run` and the tests, so both start a service the same way.
    None when `stop` was set before NATS answered (the probes are then stopped).
    """
    bus = await connect(cfg, stop)
    if bus is None:
        await health.stop()
        return None
    health.add_check("nats", lambda: bus.connected)
    BUS_CONNECTED.set_function(lambda: bus.connected)
    micro = await nats.micro.add_service(
        bus.nc,
        name=f"etstats-{cfg.service}",
        version=VERSION,
        description=f"etstats {cfg.service} service",
    )
    runtime = Runtime(cfg=cfg, bus=bus, stop=stop, health=health, micro=micro)
    await add_health_endpoint(runtime)
    return runtime


def launch(rt: Runtime, main: ServiceMain[C], conf: C) -> asyncio.Task[None]:
    """Run `main` as a task; the service is alive (/healthz) while it runs."""
    task = asyncio.create_task(main(rt, conf), name=f"{rt.cfg.service}-main")
    rt.health.alive = lambda: not task.done()
    return task


async def close(rt: Runtime) -> None:
    """Leave discovery, then the bus, then stop the probes."""
    rt.stop.set()
    await rt.micro.stop()
    await rt.bus.close()
    await rt.health.stop()


async def _serve(cfg: CommonConfig, conf: C, main: ServiceMain[C], grace: float) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    health = await open_probes(cfg)
    if health is None:
        return 1
    runtime = await start(cfg, health, stop)
    if runtime is None:
        return 0

    main_task = launch(runtime, main, conf)
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({main_task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if main_task.done():
        exc = None if main_task.cancelled() else main_task.exception()
        if exc is not None:
            log.error("%s stopped on an error", cfg.service, exc_info=exc)
            code = 1
    else:
        log.info("stopping: finishing in-flight work (up to %.0fs)", grace)
        try:
            await asyncio.wait_for(main_task, timeout=grace)
        except TimeoutError:
            log.warning("in-flight work did not finish within %.0fs; abandoning it", grace)
        except Exception as exc:
            log.error("%s failed while stopping", cfg.service, exc_info=exc)
    stopping.cancel()
    await close(runtime)
    log.info("stopped")
    return code
