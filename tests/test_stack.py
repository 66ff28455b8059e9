"""End to end: `etstats up` exactly as a user runs it, with every hop real."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import asyncpg
import psutil
import pytest

from etstats.statsfile.generator import generate_match
from etstats_cli.embedded import free_port
from etstats_cli.stack import free_http_port_base
from services.common.config import DEFAULT_HTTP_PORTS
from tests.deploy_files import unexported
from tests.waiting import wait_until_sync

pytestmark = pytest.mark.e2e

SERVICES = ("fetcher", "parser", "storage", "poster")
STOP_WITHIN_S = 10


class Output:
    """Collects a process's output lines in a thread so the pipe never fills."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        regex = re.compile(pattern)
        found: list[re.Match[str]] = []

        def seen() -> bool:
            found[:] = [m for line in list(self.lines) if (m := regex.search(line))][:1]
            return bool(found)

        try:
            wait_until_sync(seen, timeout, what=f"a line matching {pattern!r}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; output:\n" + "\n".join(self.lines)) from None
        return found[0]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@contextlib.contextmanager
def launched(
    tmp_path: Path, **extra: str
) -> Iterator[tuple[subprocess.Popen[str], Output, Path, int]]:
    """`etstats up` in its own process group, as in a terminal; killed if still running."""
    base = free_http_port_base()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NATS_URL", "DATABASE_URL", "DISCORD_TOKEN", "LOCAL_SOURCE_DIR")
    }
    env.update(
        ETSTATS_VAR_DIR=str(tmp_path / "var"),
        EMBEDDED_NATS_PORT=str(free_port()),
        ETSTATS_HTTP_PORT_BASE=str(base),
        POLL_INTERVAL="0.5",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "etstats_cli.cli", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Output(proc)
    try:
        yield proc, output, tmp_path / "var", base
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def stack(tmp_path: Path):
    with launched(tmp_path) as started:
        yield started


def stops_everything(proc: subprocess.Popen[str], output: Output, var: Path, sig: int) -> None:
    """`sig` to the stack's process group (a terminal's Ctrl-C, a service manager's
    SIGTERM) ends every process of it, the embedded PostgreSQL included, within 10 s."""
    family = psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, sig)
    try:
        assert proc.wait(timeout=STOP_WITHIN_S) == 0
    except subprocess.TimeoutExpired:
        raise AssertionError("not stopped within 10 s:\n" + "\n".join(output.lines)) from None
    output.wait_for(r"etstats +\| stopped", timeout=5)

    def leftovers() -> list[psutil.Process]:
        alive = []
        for p in family:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.NoSuchProcess:  # gone between the two questions
                pass
        return alive

    try:
        wait_until_sync(lambda: not leftovers(), within=5, what="every process of the stack gone")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {leftovers()}") from None
    pgdata = str(var / "pgdata")
    assert not [
        p
        for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"] and pgdata in " ".join(p.info["cmdline"])
    ]


async def check_rows(database_url: str, filename: str, map_name: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT r.id, r.map, r.round, f.status, f.origin FROM rounds r"
            " JOIN files f ON f.id = r.file_id WHERE f.filename = $1",
            filename,
        )
        assert row is not None
        assert (row["map"], row["round"], row["status"], row["origin"]) == (
            map_name,
            1,
            "imported",
            "monitor",
        )
        players = await conn.fetchval(
            "SELECT count(*) FROM player_rounds WHERE round_id = $1", row["id"]
        )
        assert players == 8
        assert await conn.fetchval("SELECT count(*) FROM files") == 1
    finally:
        await conn.close()


def test_a_dropped_file_becomes_rows_and_a_post(stack) -> None:
    proc, output, var, base = stack
    output.wait_for(r"all 4 services ready", timeout=90)
    database_url = output.wait_for(r"embedded PostgreSQL at (\S+)", timeout=1)[1]
    family = psutil.Process(proc.pid).children(recursive=True)

    for service in SERVICES:
        port = base + DEFAULT_HTTP_PORTS[service] - 8080
        status, body = get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200, (service, body)
        status, body = get(f"http://127.0.0.1:{port}/readyz")
        assert status == 200 and json.loads(body)["ready"], (service, body)
        status, body = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and "etstats_messages_total" in body, service

    # A crashed service is restarted and the pipeline carries on.
    parser = next(p for p in family if "services.parser" in " ".join(p.cmdline()))
    parser.kill()
    output.wait_for(r"parser +\| exited with status -9; restarting in 1s", timeout=10)
    output.wait_for(r"parser +\| INFO +connected to NATS", timeout=1)
    wait_until_sync(
        lambda: len(psutil.Process(proc.pid).children()) == len(family) - 1,
        within=10,
        what="the parser restarted",
    )

    r1, _ = generate_match(random.Random(5), datetime(2026, 11, 24, 20, 0), players=8)
    (var / "gamestats" / r1.filename).write_bytes(r1.body)
    (var / "gamestats" / "2026-11-24-201443-supply-round-1_ws.txt").write_bytes(b"ignored")

    stamp = datetime.strptime(r1.filename[:17], "%Y-%m-%d-%H%M%S")
    output.wait_for(rf"poster +\| +local · {stamp} · round #\d+", timeout=30)
    title = re.escape(r1.header.map)
    output.wait_for(rf"poster +\| == {title} · round 1 ==", timeout=1)
    asyncio.run(check_rows(database_url, r1.filename, r1.header.map))

    # Every metric a dashboard panel or alert rule queries is exported.
    pages = [
        get(f"http://127.0.0.1:{base + DEFAULT_HTTP_PORTS[s] - 8080}/metrics")[1] for s in SERVICES
    ]
    assert unexported(pages) == {}

    # Ctrl-C: the terminal signals the whole foreground process group.
    stops_everything(proc, output, var, signal.SIGINT)
    for bad in ("Traceback", "unexpected EOF"):
        assert not any(bad in line for line in output.lines), "\n".join(output.lines)
    for service in SERVICES:
        output.wait_for(rf"{service} +\| INFO +stopped", timeout=1)


def run_up(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
    env.update(
        ETSTATS_VAR_DIR=str(tmp_path / "var"), ETSTATS_HTTP_PORT_BASE=str(free_http_port_base())
    )
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-m", "etstats_cli.cli", "up"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_up_fails_clearly_when_the_nats_port_is_taken(tmp_path: Path, nats_server) -> None:
    done = run_up(tmp_path, EMBEDDED_NATS_PORT=str(nats_server.port))
    assert done.returncode == 1
    assert f"could not start: port {nats_server.port} is already in use" in done.stdout


def test_up_stops_on_a_service_configuration_error(tmp_path: Path) -> None:
    done = run_up(tmp_path, EMBEDDED_NATS_PORT=str(free_port()), POLL_INTERVAL="fast")
    assert done.returncode == 2
    assert "fetcher | etstats fetcher: configuration error: POLL_INTERVAL='fast'" in done.stdout
    assert "fetcher | configuration error: stopping the stack" in done.stdout


# Loaded by every Python process of the stack (PYTHONPATH). The parser writes a
# log line of 3 MB and then never hears a signal: as the parser stuck on a full
# pipe once did, when a log line broke the console's reader.
STUCK_PARSER = """
import signal, sys
if b"services.parser" in open("/proc/self/cmdline", "rb").read():
    sys.stderr.write("x" * 3_000_000 + "\\n")
    sys.stderr.flush()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
"""


def test_sigterm_stops_everything_even_a_stuck_service(tmp_path: Path) -> None:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(STUCK_PARSER)
    with launched(tmp_path, PYTHONPATH=str(hook)) as (proc, output, var, _):
        output.wait_for(r"parser +\| \(a log line over [\d,]+ bytes was cut\)", timeout=60)
        output.wait_for(r"all 4 services ready", timeout=90)
        stops_everything(proc, output, var, signal.SIGTERM)
    output.wait_for(r"parser +\| did not stop within \d+s: killing it", timeout=1)
