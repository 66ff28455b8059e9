"""Operator commands for people without Discord: the same bus requests the bot makes."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from etstats.contract import control_pb2
from etstats_cli.stack import StackConfig
from services.common.bus import Bus, BusUnavailable, connect_once
from services.common.config import CommonConfig, ConfigError, Env
from services.common.control import Control, RequestFailed, UnknownSource
from services.common.reports import (
    already_running_text,
    backup_text,
    health_text,
    progress_text,
    result_text,
    status_text,
    sync_text,
)
from services.common.rpc import ServiceFailed


async def _connect() -> Bus:
    """The stack's NATS: NATS_URL, or the embedded server of `etstats up`."""
    try:
        local = StackConfig.from_env(Env())
        cfg = CommonConfig.from_env("cli", Env({**os.environ, "NATS_URL": local.bus_url}))
        return await connect_once(cfg)
    except (ConfigError, BusUnavailable) as exc:
        raise SystemExit(
            f"etstats: {exc}: is the stack running (make up)? Set NATS_URL otherwise."
        ) from None


USAGE_ERROR = 2  # as argparse exits for a bad argument


def refused_as_asked(exc: Exception) -> bool:
    """The request itself was wrong (a bad period, an unknown source): exit 2, not 1."""
    return isinstance(exc, UnknownSource) or (
        isinstance(exc, ServiceFailed) and exc.code.startswith("4")
    )


async def with_control(work: Callable[[Control], Awaitable[int]]) -> int:
    bus = await _connect()
    try:
        return await work(Control(bus))
    except RequestFailed as exc:
        print(f"etstats: {exc}", file=sys.stderr)
        return USAGE_ERROR if refused_as_asked(exc) else 1
    finally:
        await bus.close()


def who() -> str:
    return f"{getpass.getuser()} (cli)"


def run(command: str, args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout

    async def sync(control: Control) -> int:
        if args.cancel is not None:
            return await cancel(control, args.cancel)
        requester = control_pb2.Requester(user_name=who(), via="cli")
        accepted, events = await control.sync_and_follow(
            args.period, [args.source] if args.source else None, requester
        )
        if events is None:  # refused: another sync holds the source
            print(
                f"etstats: not started: {already_running_text(accepted)}; cancel it with"
                f" `etstats sync --cancel {accepted.sync_id}` or wait for it",
                file=sys.stderr,
            )
            return 1
        try:
            async for item in events:
                if isinstance(item, control_pb2.SyncProgress):
                    print("\r" + progress_text(item), end="", file=sys.stderr, flush=True)
                else:
                    print("", file=sys.stderr)
                    print(result_text(item), file=out)
                    return 1 if item.rejected or item.missing_total or item.error else 0
        except RequestFailed:
            print("", file=sys.stderr)  # end the progress line before the error
            raise
        return 1

    async def cancel(control: Control, sync_id: str) -> int:
        """One sync, or with no id every running one (read from the fetcher's locks)."""
        cancelled = await control.cancel_syncs(sync_id)
        if not cancelled:
            print("no sync is running", file=out)
        missing = 0
        for target, found in cancelled:
            if found:
                print(f"cancelling {sync_text(target)}; rounds already imported stay", file=out)
            else:
                print(f"etstats: no running sync {target.sync_id}", file=sys.stderr)
                missing += 1
        return 1 if missing else 0

    async def status(control: Control) -> int:
        fetcher, storage = await control.statuses()
        print(status_text(fetcher, storage), file=out)
        return 0 if fetcher and storage else 1

    async def monitor(control: Control) -> int:
        for source in await control.switch_monitoring(args.source, args.state == "on", who()):
            print(f"monitoring {args.state} for {source}", file=out)
        return 0

    async def health(control: Control) -> int:
        result = await control.health()
        print(health_text(result), file=out)
        return 1 if result.missing else 0

    async def backup(control: Control) -> int:
        reply = await control.backup(who())
        print(backup_text(reply), file=out)
        return 0

    async def reimport(control: Control) -> int:
        reply = await control.reimport(args.source or "", who())
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
    return asyncio.run(with_control(commands[command]))
