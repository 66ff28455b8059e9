"""Live latency: from a round file written on an SSH server to its terminal post.

Runs `etstats up` as a user would, against OpenSSH's sshd (asyncssh when sshd
is not installed) on loopback, with default poll settings.
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


def measure(tmp: Path, server: SshServer) -> list[float]:
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
        latencies = []
        for i in range(ROUNDS):
            r1, _ = generate_match(random.Random(i), datetime.now() - timedelta(minutes=20))
            written = time.monotonic()
            (server.root / r1.filename).write_bytes(r1.body)
            while not (
                posted := [t for t, text in seen if "round #" in text and r1.filename in text]
            ):
                time.sleep(0.01)
            latencies.append(posted[0] - written)
            time.sleep(random.Random(i).uniform(0.5, 2.5))  # land anywhere in the poll cycle
        return latencies
    finally:
        proc.send_signal(2)
        proc.wait(60)


async def start(tmp: Path) -> SshServer:
    return start_sshd(tmp) if SSHD.exists() and os.geteuid() == 0 else await start_asyncssh(tmp)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="etstats-latency-") as tmp:
        server = asyncio.run(start(Path(tmp)))
        try:
            latencies = measure(Path(tmp), server)
        finally:
            server.close()
    print(
        f"latency: {ROUNDS} rounds written on {server.kind} to the terminal post: "
        f"median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s"
    )


if __name__ == "__main__":
    main()
