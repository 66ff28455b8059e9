"""Operator commands for people without Discord: the same bus requests the bot makes."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TextIO

import nats

from proto import control_pb2
from services.common.bus import Bus
from services.common.control import Control, NotAnswering

CONNECT_TIMEOUT_S = 5.0


def ago(ms: int, now: float | None = None) -> str:
    if not ms:
        return "never"
    seconds = max((now or time.time()) - ms / 1000, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def status_text(
    fetcher: control_pb2.StatusReply | None, storage: control_pb2.StatusReply | None
) -> str:
    lines = []
    if fetcher is None:
        lines.append("fetcher: not answering")
    for s in fetcher.sources if fetcher else []:
        lines.append(
            f"{s.source}: {'connected' if s.connected else 'NOT connected'}, monitoring "
            f"{'on' if s.monitoring else 'off'}, polled by {s.lease_holder or 'nobody'}, "
            f"last poll {ago(s.last_poll_ms)}, last new file {ago(s.last_new_file_ms)}"
        )
        lines.append(
            f"  files today {s.files_today}, total {s.files_total}, errors {s.errors}"
            + (f" (last: {s.last_error})" if s.last_error else "")
        )
        lines.append(
            f"  average poll {s.avg_poll_seconds * 1000:.0f} ms, download "
            f"{s.avg_download_seconds * 1000:.0f} ms"
        )
        if s.older_unimported:
            lines.append(f"  {s.older_unimported} older files not imported: run a sync")
    if storage is None:
        lines.append("storage: not answering")
    else:
        c = storage.counters
        lines.append(
            f"storage: {c['rounds']} rounds, {c['files_imported']} files imported, "
            f"{c['files_rejected']} rejected, {c['files_duplicate']} duplicates; "
            f"{c['files_today']} files today, {c['errors_last_hour']} errors in the last hour"
        )
        if storage.last_error:
            lines.append(f"  last error: {storage.last_error}")
    return "\n".join(lines)


def health_text(health) -> str:  # type: ignore[no-untyped-def]
    lines = []
    for r in health.instances:
        last = max(r.last_success_ms.values(), default=0)
        lines.append(
            f"{r.service:<8} {r.instance[:12]:<12} v{r.version} up {r.uptime_s / 60:.0f} min,"
            f" {'ready' if r.ready else 'NOT ready'}, last success {ago(last)}"
        )
    for name in health.missing:
        lines.append(f"{name:<8} NOT ANSWERING")
    return "\n".join(lines)


def progress_text(p: control_pb2.SyncProgress) -> str:
    total = max(p.unknown, 1)
    bar = "#" * int(20 * p.stored / total) + "." * (20 - int(20 * p.stored / total))
    return (
        f"{p.source}: [{bar}] listed {p.listed}, to import {p.unknown}, fetched {p.fetched}, "
        f"stored {p.stored}" + (f", failed {p.failed}" if p.failed else "")
    )


def result_text(r: control_pb2.SyncResult) -> str:
    seconds = max((r.finished_at_ms - r.started_at_ms) / 1000, 0)
    lines = [
        f"sync {r.sync_id} {'cancelled' if r.cancelled else 'done'} in {seconds:.0f}s: "
        f"{r.imported} imported, {r.duplicates} duplicates, {r.rejected} rejected"
    ]
    lines += [f"  {name}: {count} rounds" for name, count in sorted(r.rounds_per_map.items())]
    lines += [f"  rejected {line}" for line in r.rejections]
    lines += [f"  {p.source}: {p.error}" for p in r.sources if p.error]
    return "\n".join(lines)


async def _connect() -> Bus:
    url = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")

    async def quiet(_: Exception) -> None:
        """Connection errors become one message below, not tracebacks."""

    try:
        nc = await asyncio.wait_for(
            nats.connect(
                url,
                connect_timeout=2,
                max_reconnect_attempts=0,
                allow_reconnect=False,
                error_cb=quiet,
                user=os.environ.get("NATS_USER"),
                password=os.environ.get("NATS_PASSWORD"),
            ),
            CONNECT_TIMEOUT_S,
        )
    except Exception:
        raise SystemExit(
            f"etstats: cannot reach NATS at {url.rsplit('@', 1)[-1]}: "
            "is the stack running (make up)? Set NATS_URL otherwise."
        ) from None
    return Bus(nc=nc, js=nc.jetstream(), stream=os.environ.get("NATS_STREAM", "STATS"))


async def _with_control(work: Callable[[Control], Awaitable[int]]) -> int:
    bus = await _connect()
    try:
        return await work(Control(bus))
    except NotAnswering as exc:
        print(f"etstats: {exc}", file=sys.stderr)
        return 1
    finally:
        await bus.close()


def who() -> str:
    return f"{getpass.getuser()} (cli)"


def run(command: str, args, out: TextIO | None = None) -> int:  # type: ignore[no-untyped-def]
    out = out or sys.stdout

    async def sync(control: Control) -> int:
        requester = control_pb2.Requester(user_name=who(), via="cli")
        accepted = await control.sync(
            args.period, [args.source] if args.source else None, requester
        )
        if accepted.error:
            print(f"etstats: {accepted.error}", file=sys.stderr)
            return 2
        if accepted.already_running:
            print(
                f"a sync is already running for {', '.join(accepted.sources)} "
                f"(sync {accepted.sync_id}); following it",
                file=out,
            )
        async for item in control.follow_sync(accepted.sync_id):
            if isinstance(item, control_pb2.SyncProgress):
                print("\r" + progress_text(item), end="", file=sys.stderr, flush=True)
            else:
                print("", file=sys.stderr)
                print(result_text(item), file=out)
                return 0 if not item.rejected else 1
        return 1

    async def status(control: Control) -> int:
        try:
            fetcher = await control.fetcher_status()
        except NotAnswering:
            fetcher = None
        try:
            storage = await control.storage_status()
        except NotAnswering:
            storage = None
        print(status_text(fetcher, storage), file=out)
        return 0 if fetcher and storage else 1

    async def monitor(control: Control) -> int:
        sources = (
            [args.source]
            if args.source
            else [s.source for s in (await control.fetcher_status()).sources]
        )
        for source in sources:
            await control.set_monitoring(source, args.state == "on", who())
            print(f"monitoring {args.state} for {source}", file=out)
        return 0

    async def health(control: Control) -> int:
        result = await control.health()
        print(health_text(result), file=out)
        return 1 if result.missing else 0

    async def backup(control: Control) -> int:
        reply = await control.backup(who())
        if reply.error:
            print(f"etstats: {reply.error}", file=sys.stderr)
            return 1
        print(f"backup written: {reply.filename} ({reply.size:,} bytes)", file=out)
        return 0

    async def reimport(control: Control) -> int:
        reply = await control.reimport(args.source or "", who())
        if reply.error:
            print(f"etstats: {reply.error}", file=sys.stderr)
            return 1
        print(
            f"{reply.files} rejected files requested again "
            f"(syncs: {', '.join(reply.sync_ids) or 'none'})",
            file=out,
        )
        return 0

    commands = {
        "sync": sync,
        "status": status,
        "monitor": monitor,
        "health": health,
        "backup": backup,
        "reimport": reimport,
    }
    return asyncio.run(_with_control(commands[command]))
