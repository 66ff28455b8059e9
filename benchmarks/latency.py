"""Live latency: from a round file written on an SSH server to its terminal post.

Runs `etstats up` as a user would, against OpenSSH's sshd (asyncssh when sshd
is not installed) on loopback, with default poll settings: once idle, once
while a sync of 5,000 old files runs (live rounds go first).

Each figure is set beside its limit, measured in the same run: the work a
round needs when nothing waits, which is one look at the source (a directory
stat, a listing and a read of the file, timed here against the same server)
plus the pipeline from the fetcher's publication to the post. Idle, the whole
stack's CPU (every process of `etstats up`, nats-server and PostgreSQL) and
memory (PSS) are measured too, and the sshd serving the fetcher's connection.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import yaml

from etstats.statsfile.generator import generate_match
from etstats_cli.embedded import free_port
from etstats_cli.stack import free_http_port_base
from services.fetcher.sftp import SftpSource
from tests.sshservers import SshServer, openssh

ROUNDS = 20
BACKLOG = 5000  # old files a sync imports while live rounds are played
IDLE_S = 60.0  # the window idle CPU is measured over


def sources_yaml(server: SshServer, path: Path) -> None:
    ssh = server.source().ssh
    assert ssh is not None
    path.write_text(
        yaml.safe_dump(
            {
                "sources": [
                    {
                        "name": "main",
                        "ssh": {
                            "host": ssh.host,
                            "port": ssh.port,
                            "user": ssh.user,
                            "key_file": str(ssh.key_file),
                            "known_hosts_file": str(ssh.known_hosts_file),
                            "path": ssh.path,
                        },
                    }
                ]
            }
        )
    )


def footer_stamp(filename: str) -> str:
    """The round's stamp as its post's footer shows it."""
    return f"{datetime.strptime(filename[:17], '%Y-%m-%d-%H%M%S'):%Y-%m-%d %H:%M:%S}"


def write_backlog(root: Path, files: int) -> None:
    """Rounds of last month, their files as old: only a sync imports them."""
    rng = random.Random(99)
    start = datetime.now() - timedelta(days=30)
    for i in range(files // 2):
        for g in generate_match(rng, start + timedelta(minutes=5 * i), players=rng.randint(8, 16)):
            path = root / g.filename
            path.write_bytes(g.body)
            stamp = datetime.strptime(g.filename[:17], "%Y-%m-%d-%H%M%S").timestamp()
            os.utime(path, (stamp, stamp))


@dataclass(frozen=True)
class Usage:
    """CPU (share of one core) and memory of a set of processes over a window."""

    cpu: float
    pss_mb: float
    processes: int


@dataclass
class Phase:
    """One run's figures: per round, ours and the limit's."""

    latencies: list[float] = field(default_factory=list)
    limits: list[float] = field(default_factory=list)
    stack: Usage | None = None
    sshd: Usage | None = None


def cpu_seconds(p: psutil.Process) -> float:
    """User and system time, with that of its children already reaped."""
    t = p.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def family(pids: list[int]) -> list[psutil.Process]:
    """These processes and all their descendants (the ones still there)."""
    found: dict[int, psutil.Process] = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for p in (root, *root.children(recursive=True)):
                found[p.pid] = p
        except psutil.NoSuchProcess:
            continue
    return list(found.values())


def usage(pids: list[int], seconds: float) -> Usage:
    """CPU over `seconds` and PSS at the end of the processes `pids` and their
    descendants. A process that ends meanwhile counts through its parent's
    reaped-children times; one started meanwhile counts whole."""

    def times(procs: list[psutil.Process]) -> dict[int, float]:
        seen = {}
        for p in procs:
            try:
                seen[p.pid] = cpu_seconds(p)
            except psutil.NoSuchProcess:
                continue
        return seen

    before = times(family(pids))
    started = time.monotonic()
    time.sleep(seconds)
    after_procs = family(pids)
    after = times(after_procs)
    wall = time.monotonic() - started
    spent = sum(t - before.get(pid, 0.0) for pid, t in after.items())
    pss = 0
    for p in after_procs:
        try:
            pss += p.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return Usage(cpu=spent / wall, pss_mb=pss / 2**20, processes=len(after))


def stack_pids(proc: subprocess.Popen[str], var: Path) -> list[int]:
    """`etstats up` (the services and nats-server are its children) and the
    embedded PostgreSQL, which runs detached."""
    postmaster = var / "pgdata" / "postmaster.pid"
    return [proc.pid, int(postmaster.read_text().split()[0])]


async def one_look(server: SshServer, name: str) -> float:
    """Seconds for the least any poller does to find and fetch a new file over
    SFTP, on a connection already open: a directory stat, a listing, a read."""
    source = SftpSource(server.source())
    try:
        await source.stamp()  # connects
        started = time.perf_counter()
        await source.stamp()
        await source.list()
        await source.read(name, 1_000_000)
        return time.perf_counter() - started
    finally:
        await source.close()


def measure(tmp: Path, server: SshServer, backlog: int = 0) -> Phase:
    """Each live file from written to its post, and its limit; with a backlog, a
    sync of it runs meanwhile; without, the idle stack's usage afterwards."""
    sources_yaml(server, tmp / "sources.yaml")
    env = dict(
        os.environ,
        SOURCES_FILE=str(tmp / "sources.yaml"),
        ETSTATS_VAR_DIR=str(tmp / "var"),
        EMBEDDED_NATS_PORT=str(free_port()),
        ETSTATS_HTTP_PORT_BASE=str(free_http_port_base()),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "etstats_cli.cli", "up", "--json-logs"],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    seen: list[tuple[float, str]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append((time.monotonic(), line))

    def first(text: str) -> float | None:
        return next((t for t, line in seen if text in line), None)

    def logged_at(msg: str) -> float:
        """When a service logged `msg`, on this process's monotonic clock: its log
        line can reach the console after a later line of another service."""
        deadline = time.monotonic() + 10
        while not (found := [line for _, line in seen if f'"msg": "{msg}"' in line]):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no log line {msg!r}")
            time.sleep(0.01)
        ts = json.loads(found[0].split(" | ", 1)[1])["ts"]
        wall = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
        return wall - time.time() + time.monotonic()

    threading.Thread(target=read, daemon=True).start()
    phase = Phase()
    try:
        deadline = time.monotonic() + 120
        while not any("services ready" in line for _, line in seen):
            if time.monotonic() > deadline:
                raise RuntimeError("the stack did not start:\n" + "".join(text for _, text in seen))
            time.sleep(0.1)
        if backlog:
            syncing = subprocess.Popen(
                [sys.executable, "-m", "etstats_cli.cli", "sync", "all"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(2)  # the sync is under way
        for i in range(ROUNDS * (3 if backlog else 1)):
            if backlog and syncing.poll() is not None:
                break  # timed while the sync ran, and only then
            r1, _ = generate_match(random.Random(i), datetime.now() - timedelta(minutes=20))
            written = time.monotonic()
            (server.root / r1.filename).write_bytes(r1.body)
            footer = f"{footer_stamp(r1.filename)} · round #"  # the post's last line
            while (posted := first(footer)) is None:
                if time.monotonic() - written > 60:
                    raise RuntimeError(f"{r1.filename} was not posted within 60 s")
                time.sleep(0.01)
            published = logged_at(f"published {r1.filename}")
            look = asyncio.run(one_look(server, r1.filename))
            phase.latencies.append(posted - written)
            phase.limits.append(look + posted - published)
            time.sleep(random.Random(i).uniform(0.5, 2.5))  # land anywhere in the poll cycle
        if len(phase.latencies) < 5:
            raise RuntimeError(f"only {len(phase.latencies)} rounds timed during the sync")
        if not backlog:
            time.sleep(5)  # the last round's work is over
            sshd = [p.pid for p in psutil.Process().children() if p.name() == "sshd"]
            with_sshd = threading.Thread(
                target=lambda: setattr(phase, "sshd", usage(sshd, IDLE_S)), daemon=True
            )
            with_sshd.start()
            phase.stack = usage(stack_pids(proc, tmp / "var"), IDLE_S)
            with_sshd.join()
        return phase
    finally:
        if backlog:
            syncing.kill()
        proc.send_signal(2)
        proc.wait(60)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def run(backlog: int) -> tuple[str, Phase]:
    with tempfile.TemporaryDirectory(prefix="etstats-latency-") as tmp:
        server = openssh(Path(tmp))
        try:
            if backlog:
                write_backlog(server.root, backlog)
            return server.kind, measure(Path(tmp), server, backlog)
        finally:
            server.close()


def figures(phase: Phase) -> str:
    ours = statistics.median(phase.latencies), p95(phase.latencies)
    limit = statistics.median(phase.limits), p95(phase.limits)
    return (
        f"median {ours[0]:.2f} s, p95 {ours[1]:.2f} s, max {max(phase.latencies):.2f} s; "
        f"the limit (one look at the source and the pipeline): median {limit[0]:.3f} s, "
        f"p95 {limit[1]:.3f} s; ratio {ours[0] / limit[0]:.1f}x median, "
        f"{ours[1] / limit[1]:.1f}x p95"
    )


def main() -> None:
    load = os.getloadavg()
    print(f"latency: load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    kind, idle = run(0)
    print(f"latency idle: {len(idle.latencies)} rounds on {kind}: {figures(idle)}", flush=True)
    stack, sshd = idle.stack, idle.sshd
    assert stack is not None and sshd is not None
    print(
        f"idle for {IDLE_S:.0f} s: the stack ({stack.processes} processes) used "
        f"{stack.cpu:.2%} of one core, PSS {stack.pss_mb:.0f} MB; the server's sshd "
        f"{sshd.cpu:.2%} of one core",
        flush=True,
    )
    _, busy = run(BACKLOG)
    print(
        f"latency during a sync of {BACKLOG:,} old files: {len(busy.latencies)} rounds: "
        f"{figures(busy)}; p95 {p95(busy.latencies) / p95(idle.latencies):.2f}x the idle p95"
    )


if __name__ == "__main__":
    main()
