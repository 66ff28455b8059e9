"""Shared state in KV: monitoring switches, per-source leases, one sync per source."""

from __future__ import annotations

import contextlib
import logging
import time

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from etstats.contract import control_pb2
from services.common.subjects import MONITORING_BUCKET

log = logging.getLogger(__name__)


def switch_subject(source: str) -> str:
    """Where NATS publishes every write of `source`'s monitoring switch (a KV
    bucket is a stream of subjects `$KV.<bucket>.<key>`): a subscriber hears of
    a switch at once, without reading the bucket at every poll."""
    return f"$KV.{MONITORING_BUCKET}.{source}"


async def monitoring_enabled(kv: KeyValue, source: str) -> bool:
    """On unless someone switched it off; the state survives restarts in KV."""
    try:
        entry = await kv.get(source)
    except (KeyNotFoundError, NotFoundError):
        return True
    if not entry.value:
        return True
    return control_pb2.MonitoringState.FromString(entry.value).enabled


class Lease:
    """Exactly one holder per key. The bucket's TTL ends a dead holder's lease;
    the live holder renews well within it."""

    def __init__(self, kv: KeyValue, key: str, holder: str, ttl_s: float) -> None:
        self.kv = kv
        self.key = key
        self.holder = holder
        self.ttl_s = ttl_s
        self._revision: int | None = None
        self._renewed = 0.0

    @property
    def held(self) -> bool:
        return self._revision is not None

    async def hold(self) -> bool:
        """Take or renew the lease; False while another holder has it."""
        now = time.monotonic()
        try:
            if self._revision is None:
                self._revision = await self.kv.create(self.key, self.holder.encode())
                log.info("took the lease of %s", self.key, extra={"source": self.key})
            elif now - self._renewed > self.ttl_s / 3:
                self._revision = await self.kv.update(
                    self.key, self.holder.encode(), last=self._revision
                )
            else:
                return True
        except (KeyWrongLastSequenceError, KeyNotFoundError, NotFoundError):
            if self._revision is not None:
                log.warning("lost the lease of %s", self.key, extra={"source": self.key})
            self._revision = None
            return False
        self._renewed = now
        return True

    async def current_holder(self) -> str:
        try:
            entry = await self.kv.get(self.key)
        except (KeyNotFoundError, NotFoundError):
            return ""
        return (entry.value or b"").decode()

    async def release(self) -> None:
        if self._revision is not None:
            with contextlib.suppress(Exception):
                await self.kv.delete(self.key, last=self._revision)
            self._revision = None
