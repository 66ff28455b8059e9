"""Catch-up over SFTP: a sync of old files through the running stack, next to
its limits measured in the same run on the same files.

Starts nats-server, PostgreSQL, OpenSSH's sshd (installed first when it can
be) and the fetcher, parser and storage services as processes, as `make up`
does. For 1,000, 5,000 and 20,000 new files in turn:

- the limit: a plain SFTP copy of the same files (asyncssh, each file read
  whole into memory, as many in flight as the fetcher's SYNC_CONCURRENCY),
  before and after the stack's run, the faster of the two;
- the second limit: parsing the same files in this process plus one binary
  COPY of all their player rows into PostgreSQL (also the faster of two),
  and its CPU (this process's and PostgreSQL's) per file: the stack's CPU per
  file as a multiple of it holds across machines of other speeds;
- the stack: `sync all` from the request until the result (every file in
  PostgreSQL), the CPU every stack process spent per file, and each
  process's memory after the phase (flat, or it grows with files synced).

Then one more `sync all` of the same directory, nothing new in it: memory
after it tells what grows with the files a sync reads from what it keeps.

`BENCH_SIZES=1000,5000` runs fewer phases.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import asyncssh
import psutil

from benchmarks.latency import sources_yaml
from etstats.contract import control_pb2
from etstats.contract.common_pb2 import FileRef
from etstats.contract.rounds import parsed_round
from etstats.statsfile import parse
from etstats.statsfile.generator import generate_match
from etstats_cli.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from services.common.bus import Bus, connect
from services.common.config import CommonConfig, Env
from services.common.control import Control
from services.common.reports import already_running_text
from services.storage.importer import PLAYER_COLUMNS
from tests.sshservers import SshServer, openssh

SIZES = [int(n) for n in os.environ.get("BENCH_SIZES", "1000,5000,20000").split(",")]
CONCURRENCY = 4  # the fetcher's default SYNC_CONCURRENCY


def write_files(root: Path, count: int, start: datetime, seed: int) -> list[str]:
    """`count` files of rounds played from `start` on, their files as old:
    only a sync imports them."""
    rng = random.Random(seed)
    names = []
    for i in range(count // 2):
        played = start + timedelta(minutes=20 * i)
        for generated in generate_match(rng, played, players=rng.randint(12, 20)):
            path = root / generated.filename
            path.write_bytes(generated.body)
            os.utime(path, (played.timestamp(), played.timestamp()))
            names.append(generated.filename)
    return names


async def sftp_copy(server: SshServer, names: list[str]) -> float:
    """Seconds to read every file whole over one SFTP session, CONCURRENCY in flight."""
    ssh = server.source().ssh
    assert ssh is not None
    async with (
        asyncssh.connect(
            ssh.host,
            ssh.port,
            username=ssh.user,
            client_keys=[str(ssh.key_file)],
            known_hosts=str(ssh.known_hosts_file),
        ) as conn,
        conn.start_sftp_client() as sftp,
    ):
        slots = asyncio.Semaphore(CONCURRENCY)

        async def copy(name: str) -> int:
            async with slots, sftp.open(f"{ssh.path}/{name}", "rb") as fh:
                return len(await fh.read())

        started = time.perf_counter()
        await asyncio.gather(*(copy(name) for name in names))
        return time.perf_counter() - started


async def parse_and_copy(root: Path, names: list[str], database_url: str) -> float:
    """Seconds to parse every file here and COPY all their player rows at once."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE TEMP TABLE rows (LIKE player_rounds)")
        started = time.perf_counter()
        records = []
        for round_id, name in enumerate(names):
            body = (root / name).read_bytes()
            parsed = parse(body, name)
            parsed_round(parsed, FileRef(source="main", filename=name), len(body))
            for slot, p in enumerate(parsed.players):
                records.append(
                    (round_id, slot, p.guid, p.name, p.clean_name, p.rounds, p.team, p.bot,
                     p.kills, p.deaths, p.headshots, list(p.values), None, None, None, None,
                     None)
                )  # fmt: skip
        await conn.copy_records_to_table("rows", columns=PLAYER_COLUMNS, records=records)
        return time.perf_counter() - started
    finally:
        await conn.close()


@dataclass(frozen=True)
class Measured:
    wall_s: float
    cpu_s: float


async def limit(stack: Stack, root: Path, names: list[str], database_url: str) -> Measured:
    """Parse + one COPY: its wall time, and its CPU (this process and PostgreSQL's)."""
    before = time.process_time() + stack.cpu_seconds()["postgres"]
    wall = await parse_and_copy(root, names, database_url)
    return Measured(wall, time.process_time() + stack.cpu_seconds()["postgres"] - before)


@dataclass
class Stack:
    """The processes whose CPU and memory count: services, nats-server, PostgreSQL."""

    processes: dict[str, psutil.Process]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds of each process with its children, exited ones included."""
        spent = {}
        for name, proc in self.processes.items():
            total = 0.0
            for p in (proc, *proc.children(recursive=True)):
                try:
                    t = p.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                total += t.user + t.system + t.children_user + t.children_system
            spent[name] = total
        return spent

    def memory_mb(self) -> dict[str, float]:
        """Proportional set size of each process with its children (PostgreSQL's backends)."""
        sizes = {}
        for name, proc in self.processes.items():
            pss = 0
            for p in (proc, *proc.children(recursive=True)):
                try:
                    pss += p.memory_full_info().pss
                except psutil.NoSuchProcess:
                    continue
            sizes[name] = pss / 2**20
        return sizes


async def sync_all(bus: Bus) -> control_pb2.SyncResult:
    """`sync all` as the CLI asks for it, followed to its result."""
    accepted, events = await Control(bus).sync_and_follow("all")
    if events is None:
        raise SystemExit(f"the sync was refused: {already_running_text(accepted)}")
    async for event in events:
        if isinstance(event, control_pb2.SyncResult):
            return event
    raise SystemExit("the sync ended without a result")


async def watch_stream(bus: Bus, peak: list[int]) -> None:
    """The most messages and bytes the stream held, looked at twice a second."""
    while True:
        state = (await bus.js.stream_info(bus.stream)).state
        peak[:] = max(peak[0], state.messages), max(peak[1], state.bytes)
        await asyncio.sleep(0.5)


def postmaster(data_dir: Path) -> psutil.Process:
    pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    return psutil.Process(pid)


async def run(tmp: Path) -> None:
    server = openssh(tmp)
    nats = EmbeddedNats(tmp / "nats", free_port())
    nats.start()
    postgres = EmbeddedPostgres(tmp / "pg")
    database_url = postgres.start()
    sources_yaml(server, tmp / "sources.yaml")
    env = dict(
        os.environ,
        NATS_URL=nats.url,
        DATABASE_URL=database_url,
        HTTP_PORT="0",
        SOURCES_FILE=str(tmp / "sources.yaml"),
        LOG_LEVEL="WARNING",
    )
    services = {
        name: await asyncio.create_subprocess_exec(
            sys.executable, "-m", f"services.{name}", env=env
        )
        for name in ("storage", "parser", "fetcher")
    }
    assert nats.proc is not None
    stack = Stack(
        {
            **{name: psutil.Process(proc.pid) for name, proc in services.items()},
            "nats-server": psutil.Process(nats.proc.pid),
            "postgres": postmaster(tmp / "pg"),
        }
    )
    bus = await connect(
        CommonConfig.from_env("fetcher", Env({"NATS_URL": nats.url, "HTTP_PORT": "0"})),
        asyncio.Event(),
    )
    assert bus is not None
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} before the run")
    try:
        await asyncio.sleep(3)  # services start
        # Files appear while the stack runs: only the sync may fetch them.
        await Control(bus).set_monitoring("main", False, "benchmark")
        memory = {"start": stack.memory_mb()}
        start = datetime.now() - timedelta(days=400)
        for phase, size in enumerate(SIZES):
            names = write_files(server.root, size, start, seed=phase)
            start += timedelta(minutes=20 * size)
            copy_s = await sftp_copy(server, names)
            bare = await limit(stack, server.root, names, database_url)
            cpu = stack.cpu_seconds()
            peak = [0, 0]
            watcher = asyncio.create_task(watch_stream(bus, peak))
            started = time.perf_counter()
            result = await sync_all(bus)
            stack_s = time.perf_counter() - started
            watcher.cancel()
            spent = {n: s - cpu[n] for n, s in stack.cpu_seconds().items()}
            cpu_ms = sum(spent.values()) * 1000 / size
            if result.imported != size or result.error:
                raise SystemExit(
                    f"the sync imported {result.imported} of {size} files"
                    f" ({result.duplicates} duplicates, {result.rejected} rejected,"
                    f" {result.missing_total} missing: {list(result.missing)[:3]}) {result.error}"
                )
            # The limits again after the stack's run, the faster counts: load that
            # came and went must not flatter the ratio.
            copy_s = min(copy_s, await sftp_copy(server, names))
            again = await limit(stack, server.root, names, database_url)
            parse_s = min(bare.wall_s, again.wall_s)
            bare_cpu_ms = min(bare.cpu_s, again.cpu_s) * 1000 / size
            await asyncio.sleep(2)  # the services settle before memory is read
            memory[f"after {size:,}"] = stack.memory_mb()
            print(
                f"  the stream at most {peak[0]:,} messages, {peak[1] / 2**20:.1f} MB"
                " during the sync (what the stages had yet to take)"
            )
            print(
                f"catch-up of {size:,} files: stack {stack_s:.2f} s"
                f" ({size / stack_s:,.0f} files/s),"
                f" SFTP copy {copy_s:.2f} s ({size / copy_s:,.0f} files/s):"
                f" {copy_s / stack_s:.0%} of the wire;"
                f" parse + one COPY {parse_s:.2f} s: {parse_s / stack_s:.0%};"
                f" stack CPU {cpu_ms:.1f} ms per file, {cpu_ms / bare_cpu_ms:.1f} times"
                f" parse + one COPY's {bare_cpu_ms:.2f} ms"
            )
            print(
                "  CPU per file (ms): "
                + ", ".join(f"{n} {1000 * t / size:.2f}" for n, t in spent.items())
            )
        started = time.perf_counter()
        result = await sync_all(bus)
        if result.error:
            raise SystemExit(f"the sync again failed: {result.error}")
        await asyncio.sleep(2)
        memory["synced again"] = stack.memory_mb()
        print(
            f"sync all again, nothing new: {time.perf_counter() - started:.2f} s,"
            f" {result.imported} imported"
        )
        print("memory (PSS, MB):")
        for when, sizes in memory.items():
            print(f"  {when:>14}: " + ", ".join(f"{n} {mb:.0f}" for n, mb in sizes.items()))
    finally:
        await bus.close()
        for proc in services.values():
            proc.terminate()
        for proc in services.values():
            await proc.wait()
        server.close()
        postgres.stop()
        nats.stop()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="etstats-bench-") as tmp:
        asyncio.run(run(Path(tmp)))


if __name__ == "__main__":
    main()
