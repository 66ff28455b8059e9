"""Sync throughput over SFTP on loopback: 2,000 files through the running stack.

Starts nats-server, PostgreSQL, an SSH server (OpenSSH's sshd when installed,
else asyncssh) and the fetcher, parser and storage services as processes,
then asks for a sync of everything and times it: until every file is fetched
and published (fetch throughput), and until storage has committed them all.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import yaml
from nats.aio.msg import Msg

from etstats.contract import control_pb2
from etstats.statsfile.generator import generate_match
from etstats_cli.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from services.common.bus import connect
from services.common.config import CommonConfig, Env
from services.common.control import Control
from services.common.subjects import sync_progress_subject, sync_result_subject
from tests.sshservers import SSHD, start_asyncssh, start_sshd

FILES = 2000


def write_corpus(root: Path) -> None:
    rng = random.Random(7)
    start = datetime.now() - timedelta(days=30)
    for i in range(FILES // 2):
        for generated in generate_match(
            rng, start + timedelta(minutes=20 * i), players=rng.randint(12, 20)
        ):
            path = root / generated.filename
            path.write_bytes(generated.body)
            played = (start + timedelta(minutes=20 * i)).timestamp()
            os.utime(path, (played, played))  # old files: the sync's, not the catch-up's


async def import_seconds(port: int) -> float:
    """Storage's own time: the sum of its per-file import histogram."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as resp,
    ):
        text = await resp.text()
    match = re.search(r"^etstats_storage_import_seconds_sum ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(match[1]) if match else float("nan")


async def run(tmp: Path) -> None:
    nats = EmbeddedNats(tmp / "nats", free_port())
    nats.start()
    postgres = EmbeddedPostgres(tmp / "pg")
    database_url = postgres.start()
    server = start_sshd(tmp) if SSHD.exists() and os.geteuid() == 0 else await start_asyncssh(tmp)
    write_corpus(server.root)
    source = server.source()
    assert source.ssh is not None
    (tmp / "sources.yaml").write_text(
        yaml.safe_dump(
            {
                "sources": [
                    {
                        "name": "main",
                        "ssh": {
                            "host": source.ssh.host,
                            "port": source.ssh.port,
                            "user": source.ssh.user,
                            "key_file": str(source.ssh.key_file),
                            "known_hosts_file": str(source.ssh.known_hosts_file),
                            "path": source.ssh.path,
                        },
                    }
                ]
            }
        )
    )
    env = dict(
        os.environ,
        NATS_URL=nats.url,
        DATABASE_URL=database_url,
        HTTP_PORT="0",
        SOURCES_FILE=str(tmp / "sources.yaml"),
        MONITOR_CATCHUP="1s",
        LOG_LEVEL="WARNING",
    )
    storage_port = free_port()
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            f"services.{name}",
            env={**env, "HTTP_PORT": str(storage_port if name == "storage" else 0)},
        )
        for name in ("storage", "parser", "fetcher")
    ]
    bus = await connect(
        CommonConfig.from_env("fetcher", Env({"NATS_URL": nats.url, "HTTP_PORT": "0"})),
        asyncio.Event(),
    )
    assert bus is not None
    try:
        fetched_at: list[float] = []
        done = asyncio.Event()

        async def on_progress(msg: Msg) -> None:
            progress = control_pb2.SyncProgress.FromString(msg.data)
            if progress.fetched >= FILES and not fetched_at:
                fetched_at.append(time.perf_counter())

        async def on_result(msg: Msg) -> None:
            done.set()

        await asyncio.sleep(3)  # services start
        started = time.perf_counter()
        sync_id = (await Control(bus).sync("all")).sync_id
        await bus.nc.subscribe(sync_progress_subject(sync_id), cb=on_progress)
        await bus.nc.subscribe(sync_result_subject(sync_id), cb=on_result)
        await asyncio.wait_for(done.wait(), timeout=600)
        finished = time.perf_counter()
        fetch_s = (fetched_at[0] if fetched_at else finished) - started
        print(
            f"fetch: {FILES} files over SFTP ({server.kind} on loopback): "
            f"{FILES / fetch_s:,.0f} files/s fetched and published ({fetch_s:.1f} s)"
        )
        storage_s = await import_seconds(storage_port)
        print(
            f"storage: {FILES} files imported in {storage_s:.2f} s of storage time "
            f"({FILES / storage_s:,.0f} files/s, one transaction per file)"
        )
        print(
            f"fetch: sync until storage committed all: {FILES / (finished - started):,.0f} "
            f"files/s ({finished - started:.1f} s)"
        )
    finally:
        await bus.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            await proc.wait()
        server.close()
        postgres.stop()
        nats.stop()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="etstats-bench-") as tmp:
        asyncio.run(run(Path(tmp)))


if __name__ == "__main__":
    main()
