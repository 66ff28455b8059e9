"""Admin notices: grouped per kind, at most one per cooldown, with recoveries.

Shared by the poster (rejected files, refused posts) and the bot's watchdog.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

# send(title, text, nonce): the poster makes an embed of it, the bot a message.
Send = Callable[[str, str, str], Awaitable[None]]
SHOWN = 10


class Notices:
    """Collects problems per kind and sends them in groups, never more than one
    notice per kind per cooldown, so a broken source cannot flood the channel."""

    def __init__(self, send: Send, cooldown_s: float, group_s: float = 2.0) -> None:
        self.send = send
        self.cooldown_s = cooldown_s
        self.group_s = group_s  # a burst of problems becomes one notice
        self.pending: dict[str, list[str]] = {}
        self.first_at: dict[str, float] = {}
        self.last_sent: dict[str, float] = {}
        self.failing: set[str] = set()
        self._count = 0

    def add(self, kind: str, line: str) -> None:
        self.pending.setdefault(kind, []).append(line)
        self.first_at.setdefault(kind, time.monotonic())
        self.failing.add(kind)

    def recovered(self, kind: str, line: str) -> None:
        if kind in self.failing:
            self.failing.discard(kind)
            self.add(f"{kind}: recovered", line)
            self.failing.discard(f"{kind}: recovered")

    async def flush(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for kind, lines in list(self.pending.items()):
            if not lines or now - self.first_at.get(kind, now) < self.group_s:
                continue
            if now - self.last_sent.get(kind, -1e9) < self.cooldown_s:
                continue
            self.pending[kind] = []
            self.first_at.pop(kind, None)
            self.last_sent[kind] = now
            shown = "\n".join(line[:300] for line in lines[:SHOWN])
            if len(lines) > SHOWN:
                shown += f"\n+{len(lines) - SHOWN} more"
            self._count += 1
            try:
                await self.send(
                    f"{kind}: {len(lines)}",
                    shown,
                    f"etstats-n{int(time.time())}-{self._count}"[:25],
                )
            except Exception as exc:
                log.warning("could not send the admin notice about %s: %s", kind, exc)
