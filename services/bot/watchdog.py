"""Tells the admin channel when a service instance disappears or rounds stall."""

from __future__ import annotations

import asyncio
import logging

from services.common.aio import sleep_unless
from services.common.control import Control, RequestFailed
from services.common.notices import Notices

log = logging.getLogger(__name__)


class Watchdog:
    """Each check compares with the last: gone instances, missing services and
    files detected but not posted become notices; their return, recoveries."""

    def __init__(self, control: Control, notices: Notices, stall_after_s: int) -> None:
        self.control = control
        self.notices = notices
        self.stall_after_s = stall_after_s
        self.instances: dict[str, str] = {}  # instance id -> service
        self.stalled: set[tuple[str, str]] = set()
        self.missing: set[str] = set()

    async def check(self) -> None:
        health = await self.control.health()
        now = {r.instance: r.service for r in health.instances}
        for instance, service in self.instances.items():
            if instance not in now:
                self.notices.add(
                    f"{service} instance gone", f"{service} {instance} stopped answering"
                )
        missing = set(health.missing)
        for service in sorted(missing - self.missing):  # news only: not every check
            self.notices.add(f"{service} not answering", f"no {service} instance answers")
        for service in sorted(self.missing - missing):
            self.notices.recovered(f"{service} not answering", f"{service} answers again")
        self.instances, self.missing = now, missing
        try:
            files = await self.control.stalled(self.stall_after_s)
        except RequestFailed:
            return
        stalled = {(f.source, f.filename) for f in files}
        for source, filename in sorted(stalled - self.stalled):
            self.notices.add(
                "Pipeline stalled",
                f"{source} {filename} was detected over "
                f"{self.stall_after_s}s ago and is not posted",
            )
        if self.stalled and not stalled:
            self.notices.recovered("Pipeline stalled", "every detected file has been posted")
        self.stalled = stalled

    async def run(self, stop: asyncio.Event, every_s: float) -> None:
        while not await sleep_unless(stop, every_s):
            try:
                await self.check()
                await self.notices.flush()
            except Exception as exc:
                log.warning("watchdog check failed: %s", exc)
