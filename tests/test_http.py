import aiohttp

from services.common.http import HealthServer
from services.common.metrics import mark_success


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
