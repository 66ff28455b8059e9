"""Admin notices: grouped per kind, at most one per cooldown, with recoveries.

Shared by the poster (rejected files, refused posts) and the bot's watchdog.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from services.common.backoff import backoff

log = logging.getLogger(__name__)

# send(title, text, nonce): the poster makes an embed of it, the bot a message.
Send = Callable[[str, str, str], Awaitable[None]]
# Called once the line is in a notice that was sent: the poster acks the bus message.
Done = Callable[[], Awaitable[object]]
SHOWN = 10
REMEMBERED = 10_000  # keys of lines sent, so a redelivered message is not sent again
RETRY_CAP_S = 300.0


@dataclass
class Line:
    text: str
    key: str  # the bus message's, or a random one: the notice's nonce is made of these
    done: Done | None = None


class Notices:
    """Collects problems per kind and sends them in groups, never more than one
    notice per kind per cooldown, so a broken source cannot flood the channel.

    A line is kept until the notice that carries it was sent (a failed send is
    tried again with backoff); only then is its `done` called. The nonce of a
    notice derives from the keys of its lines: unique across replicas, and the
    same when a restarted poster sends the same messages again, so Discord keeps
    the first of the two."""

    def __init__(self, send: Send, cooldown_s: float, group_s: float = 2.0) -> None:
        self.send = send
        self.cooldown_s = cooldown_s
        self.group_s = group_s  # a burst of problems becomes one notice
        self.pending: dict[str, list[Line]] = {}
        self.first_at: dict[str, float] = {}
        self.last_sent: dict[str, float] = {}
        self.failing: set[str] = set()
        self.failures: dict[str, int] = {}
        self.retry_at: dict[str, float] = {}
        self.sent_keys: OrderedDict[str, None] = OrderedDict()

    def add(self, kind: str, line: str, key: str = "", done: Done | None = None) -> bool:
        """Add a line; a key already pending (a redelivery) only takes the newer
        `done`. False for a key already sent: the caller is done with it at once."""
        if key in self.sent_keys:
            return False
        lines = self.pending.setdefault(kind, [])
        for known in lines if key else ():
            if known.key == key:
                known.done = done or known.done
                return True
        lines.append(Line(line, key or uuid.uuid4().hex, done))
        self.first_at.setdefault(kind, time.monotonic())
        self.failing.add(kind)
        return True

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
            if now < self.retry_at.get(kind, 0.0):
                continue
            batch = list(lines)
            shown = "\n".join(line.text[:300] for line in batch[:SHOWN])
            if len(batch) > SHOWN:
                shown += f"\n+{len(batch) - SHOWN} more"
            try:
                await self.send(f"{kind}: {len(batch)}", shown, nonce(kind, batch))
            except Exception as exc:
                failures = self.failures[kind] = self.failures.get(kind, 0) + 1
                delay = backoff(failures, cap=RETRY_CAP_S)
                self.retry_at[kind] = now + delay
                log.warning(
                    "could not send the admin notice about %s (%s); trying again in %.0fs",
                    kind,
                    exc,
                    delay,
                )
                continue
            self.failures.pop(kind, None)
            self.retry_at.pop(kind, None)
            self.last_sent[kind] = now
            self.pending[kind] = lines[len(batch) :]  # lines added while it was sent stay
            if self.pending[kind]:
                self.first_at[kind] = now
            else:
                self.first_at.pop(kind, None)
            for line in batch:
                self._remember(line.key)
                if line.done is not None:
                    try:
                        await line.done()
                    except Exception as exc:  # redelivered, then known as sent
                        log.warning("admin notice sent, but not acknowledged: %s", exc)

    def _remember(self, key: str) -> None:
        self.sent_keys[key] = None
        while len(self.sent_keys) > REMEMBERED:
            self.sent_keys.popitem(last=False)


def nonce(kind: str, lines: list[Line]) -> str:
    """Discord's nonce (25 characters at most) for a notice of these lines."""
    digest = hashlib.sha256("\n".join([kind, *(line.key for line in lines)]).encode())
    return f"etstats-n{digest.hexdigest()[:16]}"
