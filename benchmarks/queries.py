"""Storage queries on a database of 10,000 rounds: each should answer within 100 ms.

Fills a fresh database through the importer (5,000 R1/R2 pairs, 12 to 20
players), starts the storage service as a process and times its endpoints
over NATS, as the fetcher and the bot call them.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from google.protobuf.empty_pb2 import Empty
from google.protobuf.message import Message

from benchmarks.storage_stack import servers, storage_service
from etstats.contract import common_pb2, control_pb2
from etstats.contract.rounds import parsed_round
from etstats.statsfile import parse
from etstats.statsfile.generator import generate_match
from services.common.endpoints import STORAGE_ROUND, STORAGE_STATUS, STORAGE_UNKNOWN_FILES
from services.common.rpc import Endpoint, ask
from services.storage.importer import import_round
from services.storage.migrations import migrate

ROUNDS = 10_000
REPEATS = 20


async def fill(database_url: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    await migrate(conn)
    rng = random.Random(11)
    names = []
    start = datetime(2025, 1, 1)
    for i in range(ROUNDS // 2):
        for g in generate_match(
            rng, start + timedelta(minutes=40 * i), players=rng.randint(12, 20)
        ):
            ref = common_pb2.FileRef(
                source="main",
                filename=g.filename,
                sha256="00",
                msg_id=f"main/{g.filename}/00",
                origin=common_pb2.ORIGIN_SYNC,
            )
            await import_round(conn, parsed_round(parse(g.body, g.filename), ref, len(g.body)))
            names.append(g.filename)
    await conn.execute("ANALYZE")
    await conn.close()
    return names


async def run(tmp: Path) -> None:
    async with servers(tmp) as (nats_url, database_url):
        started = time.perf_counter()
        names = await fill(database_url)
        print(f"queries: filled {ROUNDS:,} rounds in {time.perf_counter() - started:.0f} s")
        async with storage_service(nats_url, database_url) as bus:
            probe = names[:5000] + [f"2030-01-01-{i:06d}-x-round-1.txt" for i in range(5000)]
            requests: dict[str, tuple[Endpoint[Any, Any], Message]] = {
                "unknown files (10,000 names)": (
                    STORAGE_UNKNOWN_FILES,
                    control_pb2.KnownFilesRequest(source="main", filenames=probe),
                ),
                "status": (STORAGE_STATUS, Empty()),
                "last round of a source": (STORAGE_ROUND, control_pb2.RoundQuery(source="main")),
                "round by id": (STORAGE_ROUND, control_pb2.RoundQuery(round_id=ROUNDS // 2)),
            }
            for label, (endpoint, request) in requests.items():
                times = []
                for _ in range(REPEATS):
                    t = time.perf_counter()
                    await ask(bus, endpoint, request)
                    times.append((time.perf_counter() - t) * 1000)
                print(
                    f"queries: {label}: median {statistics.median(times):.1f} ms, "
                    f"max {max(times):.1f} ms over {REPEATS} requests"
                )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="etstats-queries-") as tmp:
        asyncio.run(run(Path(tmp)))


if __name__ == "__main__":
    main()
