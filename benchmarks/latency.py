"""Live latency: from a round file written on an SSH server to its terminal post.

Runs `etstats up` as a user would, against OpenSSH's sshd (asyncssh when sshd
is not installed) on loopback, with default poll settings: once idle (the
limit), once while a sync of 5,000 old files runs (live rounds go first).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from etstats.statsfile.generator import generate_match
from etstats_cli.embedded import free_port
from tests.sshservers import SSHD, SshServer, start_asyncssh, start_sshd

ROUNDS = 10
BACKLOG = 5000  # old files a sync imports while live rounds are played


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


def measure(tmp: Path, server: SshServer, backlog: int = 0) -> list[float]:
    """Seconds from each live file written to its post; with a backlog, a sync
    of it runs meanwhile."""
    sources_yaml(server, tmp / "sources.yaml")
    env = dict(
        os.environ,
        SOURCES_FILE=str(tmp / "sources.yaml"),
        ETSTATS_VAR_DIR=str(tmp / "var"),
        EMBEDDED_NATS_PORT=str(free_port()),
        ETSTATS_HTTP_PORT_BASE=str(free_port()),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "etstats_cli.cli", "up"],
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

    threading.Thread(target=read, daemon=True).start()
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
        latencies = []
        for i in range(ROUNDS * (3 if backlog else 1)):
            if backlog and syncing.poll() is not None:
                break  # timed while the sync ran, and only then
            r1, _ = generate_match(random.Random(i), datetime.now() - timedelta(minutes=20))
            written = time.monotonic()
            (server.root / r1.filename).write_bytes(r1.body)
            footer = f"{footer_stamp(r1.filename)} · round #"  # the post's last line
            while not (posted := [t for t, text in seen if footer in text]):
                if time.monotonic() - written > 60:
                    raise RuntimeError(f"{r1.filename} was not posted within 60 s")
                time.sleep(0.01)
            latencies.append(posted[0] - written)
            time.sleep(random.Random(i).uniform(0.5, 2.5))  # land anywhere in the poll cycle
        if len(latencies) < 5:
            raise RuntimeError(f"only {len(latencies)} rounds timed during the sync: more backlog")
        return latencies
    finally:
        if backlog:
            syncing.kill()
        proc.send_signal(2)
        proc.wait(60)


async def start(tmp: Path) -> SshServer:
    return start_sshd(tmp) if SSHD.exists() and os.geteuid() == 0 else await start_asyncssh(tmp)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def run(backlog: int) -> tuple[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="etstats-latency-") as tmp:
        server = asyncio.run(start(Path(tmp)))
        try:
            if backlog:
                write_backlog(server.root, backlog)
            return server.kind, measure(Path(tmp), server, backlog)
        finally:
            server.close()


def main() -> None:
    kind, idle = run(0)
    print(
        f"latency: {len(idle)} rounds written on {kind} to the terminal post: "
        f"median {statistics.median(idle):.2f} s, p95 {p95(idle):.2f} s, max {max(idle):.2f} s",
        flush=True,
    )
    _, busy = run(BACKLOG)
    print(
        f"latency during a sync of {BACKLOG:,} old files: {len(busy)} rounds, median "
        f"{statistics.median(busy):.2f} s, p95 {p95(busy):.2f} s, max {max(busy):.2f} s "
        f"(p95 {p95(busy) / p95(idle):.2f}x the idle p95 of this run)"
    )


if __name__ == "__main__":
    main()
