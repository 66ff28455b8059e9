"""`etstats up`: the whole stack on one machine, as supervised child processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from etstats_cli.embedded import (
    EmbeddedError,
    EmbeddedNats,
    EmbeddedPostgres,
    die_with_parent,
    free_port_run,
)
from services.common.aio import sleep_unless
from services.common.backoff import backoff
from services.common.config import DEFAULT_HTTP_PORTS, ConfigError, Env

# Storage first: the fetcher asks it which files are known.
SERVICES = ("storage", "parser", "poster", "fetcher", "bot")
CONFIG_ERROR_EXIT = 2
MAX_BACKOFF_S = 30.0
STABLE_RUN_S = 30.0
READY_TIMEOUT_S = 60.0
# Ctrl-C ends everything within 10 s: services get this long (whatever their
# SHUTDOWN_GRACE), NATS and PostgreSQL the rest. A service killed mid-work loses
# nothing: the bus redelivers what it had not acknowledged.
CHILDREN_STOP_S = 6.0
EMBEDDED_HOST = "127.0.0.1"
LINE_LIMIT = 1024 * 1024  # bytes of one log line the console shows
READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class StackConfig:
    var_dir: Path
    nats_url: str | None
    embedded_nats_port: int
    database_url: str | None
    http_port_base: int
    with_bot: bool
    json_logs: bool

    @classmethod
    def from_env(cls, env: Env, json_logs: bool = False) -> StackConfig:
        return cls(
            var_dir=Path(env.str("ETSTATS_VAR_DIR", "./var")),
            nats_url=env.optional("NATS_URL"),
            embedded_nats_port=env.int("EMBEDDED_NATS_PORT", 4222, minimum=1, maximum=65535),
            database_url=env.optional("DATABASE_URL"),
            http_port_base=env.int("ETSTATS_HTTP_PORT_BASE", 8080, minimum=1, maximum=65000),
            with_bot=env.optional("DISCORD_TOKEN") is not None,
            json_logs=json_logs,
        )

    @property
    def bus_url(self) -> str:
        """NATS_URL, or the embedded server `etstats up` starts."""
        return self.nats_url or f"nats://{EMBEDDED_HOST}:{self.embedded_nats_port}"

    def http_port(self, service: str) -> int:
        return self.http_port_base + DEFAULT_HTTP_PORTS[service] - 8080


def free_http_port_base() -> int:
    """An ETSTATS_HTTP_PORT_BASE whose services' ports are all free (tests, benchmarks)."""
    return free_port_run(max(DEFAULT_HTTP_PORTS.values()) - 8080 + 1)


class Console:
    """Prefixes every line with its service; renders JSON log lines for people."""

    def __init__(self, json_logs: bool) -> None:
        self.json_logs = json_logs
        self.width = max(len(s) for s in (*SERVICES, "etstats"))

    def say(self, who: str, text: str) -> None:
        for line in text.splitlines() or [""]:
            print(f"{who:<{self.width}} | {line}", flush=True)

    def log_line(self, who: str, line: str) -> None:
        if not self.json_logs and line.startswith("{"):
            try:
                entry = json.loads(line)
                context = " ".join(
                    f"{k}={entry[k]}" for k in ("source", "file", "round_id") if k in entry
                )
                line = f"{entry.get('level', '').upper():<7} {entry.get('msg', '')}"
                line += f"  ({context})" if context else ""
                if "error" in entry:
                    line += "\n" + str(entry["error"])
            except (ValueError, AttributeError):
                pass
        self.say(who, line)


async def bounded_lines(stream: asyncio.StreamReader, limit: int) -> AsyncIterator[bytes | None]:
    """The stream's lines without their newline; None stands for a line over `limit`
    bytes, whose bytes are dropped as they come rather than held."""
    pending = b""
    dropping = False
    while chunk := await stream.read(READ_CHUNK):
        *complete, pending = (pending + chunk).split(b"\n")
        for line in complete:
            yield None if dropping or len(line) > limit else line
            dropping = False
        if len(pending) > limit:
            pending, dropping = b"", True
    if pending or dropping:
        yield None if dropping else pending


class Child:
    """One service process, restarted with backoff when it crashes."""

    def __init__(self, name: str, env: dict[str, str], console: Console) -> None:
        self.name = name
        self.env = env
        self.console = console
        self.proc: asyncio.subprocess.Process | None = None

    async def supervise(self, stop: asyncio.Event, fatal: asyncio.Future[int]) -> None:
        crashes = 0
        while not stop.is_set():
            started = time.monotonic()
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                f"services.{self.name}",
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
            assert self.proc.stdout is not None and self.proc.stderr is not None
            await asyncio.gather(
                self._pump(self.proc.stdout, self.console.say),
                self._pump(self.proc.stderr, self.console.log_line),
            )
            code = await self.proc.wait()
            if stop.is_set():
                return
            if code == CONFIG_ERROR_EXIT:
                self.console.say(self.name, "configuration error: stopping the stack")
                if not fatal.done():
                    fatal.set_result(CONFIG_ERROR_EXIT)
                return
            crashes = 1 if time.monotonic() - started > STABLE_RUN_S else crashes + 1
            delay = backoff(crashes, cap=MAX_BACKOFF_S)
            self.console.say(self.name, f"exited with status {code}; restarting in {delay:.0f}s")
            await sleep_unless(stop, delay)

    async def _pump(self, stream: asyncio.StreamReader, emit: Callable[[str, str], None]) -> None:
        """Every line to the console; one over LINE_LIMIT becomes a note. Reading never
        stops, so a service never blocks on a full pipe."""
        async for line in bounded_lines(stream, LINE_LIMIT):
            if line is None:
                self.console.say(self.name, f"(a log line over {LINE_LIMIT:,} bytes was cut)")
            else:
                emit(self.name, line.decode("utf-8", "replace"))

    async def terminate(self, grace: float) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=grace)
        except TimeoutError:
            self.console.say(self.name, f"did not stop within {grace:.0f}s: killing it")
            proc.kill()
            await proc.wait()


async def _wait_ready(ports: dict[str, int], within: float) -> list[str]:
    """Names of the services not ready within `within` seconds."""
    pending = dict(ports)
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as http:
        while pending and time.monotonic() < deadline:
            for name, port in list(pending.items()):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                        if resp.status == 200:
                            del pending[name]
                except (aiohttp.ClientError, TimeoutError):
                    pass
            await asyncio.sleep(0.25)
    return sorted(pending)


async def _run_children(conf: StackConfig, env: dict[str, str], console: Console) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    fatal: asyncio.Future[int] = loop.create_future()
    names = [s for s in SERVICES if s != "bot" or conf.with_bot]
    children = [
        Child(name, {**env, "HTTP_PORT": str(conf.http_port(name))}, console) for name in names
    ]
    if not conf.with_bot:
        console.say(
            "etstats", "no DISCORD_TOKEN: the bot is not started, posts go to this terminal"
        )
    tasks = [asyncio.create_task(child.supervise(stop, fatal)) for child in children]
    ports = {name: conf.http_port(name) for name in names}
    stopping = asyncio.create_task(stop.wait())
    ready = asyncio.create_task(_wait_ready(ports, within=READY_TIMEOUT_S))
    first: set[asyncio.Future[Any]] = {ready, fatal, stopping}
    await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
    if ready.done() and not stop.is_set() and not fatal.done():
        if not_ready := ready.result():
            console.say(
                "etstats", f"not ready after {READY_TIMEOUT_S:.0f}s: {', '.join(not_ready)}"
            )
        else:
            watched = env.get("LOCAL_SOURCE_DIR", str(conf.var_dir / "gamestats"))
            console.say(
                "etstats",
                f"all {len(names)} services ready. Drop stats files into "
                f"{watched} or run `make demo`; Ctrl-C stops everything.",
            )
        then: set[asyncio.Future[Any]] = {fatal, stopping}
        await asyncio.wait(then, return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    stop.set()
    console.say("etstats", "stopping...")
    await asyncio.gather(*(child.terminate(CHILDREN_STOP_S) for child in children))
    await asyncio.gather(*tasks, return_exceptions=True)
    stopping.cancel()
    return fatal.result() if fatal.done() else 0


def up(json_logs: bool = False) -> int:
    """Start NATS and PostgreSQL unless configured, then the services; returns exit status."""
    console = Console(json_logs)
    try:
        conf = StackConfig.from_env(Env(), json_logs)
    except ConfigError as exc:
        console.say("etstats", f"configuration error: {exc}")
        return CONFIG_ERROR_EXIT
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if "LOCAL_SOURCE_DIR" not in env:  # the stack's own directory; a named one must exist
        env["LOCAL_SOURCE_DIR"] = str(conf.var_dir / "gamestats")
        Path(env["LOCAL_SOURCE_DIR"]).mkdir(parents=True, exist_ok=True)
    env.setdefault("BACKUP_DIR", str(conf.var_dir / "backups"))
    nats = postgres = None
    try:
        if conf.nats_url is None:
            nats = EmbeddedNats(conf.var_dir / "nats", conf.embedded_nats_port, EMBEDDED_HOST)
            nats.start()
            env["NATS_URL"] = nats.url
            console.say("etstats", f"embedded NATS with JetStream at {nats.url}")
        if conf.database_url is None:
            postgres = EmbeddedPostgres((conf.var_dir / "pgdata").resolve())
            env["DATABASE_URL"] = postgres.start()
            console.say("etstats", f"embedded PostgreSQL at {env['DATABASE_URL']}")
        return asyncio.run(_run_children(conf, env, console))
    except EmbeddedError as exc:
        console.say("etstats", f"could not start: {exc}")
        return 1
    finally:
        if postgres is not None:
            postgres.stop()
        if nats is not None:
            nats.stop()
        console.say("etstats", "stopped")
