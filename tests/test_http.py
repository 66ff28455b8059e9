import asyncio
import os
import sys

import aiohttp
import pytest

from services.common.http import HealthServer
from services.common.metrics import mark_success

pytestmark = pytest.mark.service


async def test_probes_and_metrics() -> None:
    server = HealthServer("parser", "127.0.0.1", 0)
    ready = {"nats": False}
    server.add_check("nats", lambda: ready["nats"])
    await server.start()
    base = f"http://127.0.0.1:{server.port}"
    mark_success("parser", "main")
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as resp:
                assert resp.status == 200
            async with http.get(f"{base}/readyz") as resp:
                assert resp.status == 503
                assert (await resp.json())["checks"] == {"nats": False}
            ready["nats"] = True
            async with http.get(f"{base}/readyz") as resp:
                assert resp.status == 200
            async with http.get(f"{base}/metrics") as resp:
                assert resp.status == 200
                text = await resp.text()
                assert (
                    'etstats_last_success_timestamp_seconds{source="main",stage="parser"}' in text
                )
    finally:
        await server.stop()


async def healthcheck(port: int, *args: str) -> tuple[int, str]:
    """The container's HEALTHCHECK command, run as Docker runs it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.common.healthcheck",
        *args,
        env=dict(os.environ, HTTP_PORT=str(port)),
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    return proc.returncode or 0, err.decode().strip()


async def test_container_healthcheck_follows_the_probes() -> None:
    server = HealthServer("storage", "127.0.0.1", 0)
    ready = {"postgres": False}
    server.add_check("postgres", lambda: ready["postgres"])
    await server.start()
    port = server.port
    try:
        assert await healthcheck(port) == (0, "")
        code, err = await healthcheck(port, "/readyz")
        assert code == 1 and err.endswith("/readyz answered 503"), err
        ready["postgres"] = True
        assert await healthcheck(port, "/readyz") == (0, "")
        server.alive = lambda: False
        code, err = await healthcheck(port)
        assert code == 1 and err.endswith("/healthz answered 503"), err
    finally:
        await server.stop()
    code, err = await healthcheck(port)
    assert code == 1 and "unreachable" in err, err
