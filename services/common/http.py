"""Each service's HTTP side: /healthz (alive), /readyz (dependencies up), /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

ReadyCheck = Callable[[], bool]


class HealthServer:
    """Serves the probes; readiness is the AND of named checks services register."""

    def __init__(self, service: str, host: str, port: int) -> None:
        self.service = service
        self.host = host
        self.port = port
        self.checks: dict[str, ReadyCheck] = {}
        self.alive: ReadyCheck = lambda: True
        self._runner: web.AppRunner | None = None

    def add_check(self, name: str, check: ReadyCheck) -> None:
        self.checks[name] = check

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        # Port 0 asks the OS for a free port; report the real one.
        server = site._server  # typed as AbstractServer; the default loop makes an asyncio.Server
        if isinstance(server, asyncio.Server) and server.sockets:
            self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _healthz(self, _: web.Request) -> web.Response:
        alive = self.alive()
        return web.json_response(
            {"service": self.service, "alive": alive}, status=200 if alive else 503
        )

    async def _readyz(self, _: web.Request) -> web.Response:
        results = {name: bool(check()) for name, check in self.checks.items()}
        ready = all(results.values())
        return web.json_response(
            {"service": self.service, "ready": ready, "checks": results},
            status=200 if ready else 503,
        )

    async def _metrics(self, _: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
