"""Operator commands for people without Discord: the same bus requests the bot makes."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from etstats.contract import control_pb2
from services.common.bus import Bus, BusUnavailable, connect_once
from services.common.config import CommonConfig, ConfigError, Env
from services.common.control import Control, NotAnswering
from services.common.reports import health_text, progress_text, result_text, status_text


async def _connect() -> Bus:
    try:
        return await connect_once(CommonConfig.from_env("cli", Env()))
    except (ConfigError, BusUnavailable) as exc:
        raise SystemExit(
            f"etstats: {exc}: is the stack running (make up)? Set NATS_URL otherwise."
        ) from None


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
        accepted, events = await control.sync_and_follow(
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
        async for item in events:
            if isinstance(item, control_pb2.SyncProgress):
                print("\r" + progress_text(item), end="", file=sys.stderr, flush=True)
            else:
                print("", file=sys.stderr)
                print(result_text(item), file=out)
                return 0 if not item.rejected else 1
        return 1

    async def status(control: Control) -> int:
        fetcher, storage = await control.statuses()
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
