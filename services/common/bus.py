"""NATS connection and idempotent JetStream setup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from services.common.aio import sleep_unless
from services.common.backoff import backoff
from services.common.config import CommonConfig
from services.common.durables import PIPELINE, Durable
from services.common.errors import describe
from services.common.subjects import STREAM_SUBJECTS

log = logging.getLogger(__name__)

STREAM_MAX_AGE_S = 7 * 24 * 3600
# When the stream is full, publishing waits (publishers retry, as in an
# outage) rather than dropping messages no stage has taken yet.
STREAM_MAX_BYTES = 1 << 30
# Ids are remembered this long: every stage is idempotent on its own (storage's
# ledger, the poster's), the window only spares them repeats. nats-server's
# memory grows with the ids published within it.
DUPLICATE_WINDOW_S = 2 * 60


@dataclass
class Bus:
    """A connected client plus what the consumer loop needs to notice reconnects."""

    nc: Client
    js: JetStreamContext
    stream: str
    reconnects: int = 0
    # Set at the next reconnect (then replaced): a wait that a reconnect ends.
    reconnected: asyncio.Event = field(default_factory=asyncio.Event)
    _kv: dict[str, KeyValue] = field(default_factory=dict)
    _consumers: set[str] = field(default_factory=set)

    @property
    def connected(self) -> bool:
        return self.nc.is_connected

    async def publish(self, subject: str, payload: bytes, msg_id: str) -> bool:
        """Publish to the stream and wait for its ack (durable before we go on).

        False when the stream already held a message with this id (within its
        duplicate window): someone else published it first and this one was dropped."""
        ack = await self.js.publish(
            subject, payload, stream=self.stream, headers={"Nats-Msg-Id": msg_id}
        )
        return not ack.duplicate

    async def send(self, subject: str, payload: bytes) -> None:
        """Into the stream without waiting for its ack, and without a message id:
        for best-effort messages whose consumer drops repeats itself (pipeline
        events), where a round trip per message, or an id the stream remembers
        for its duplicate window, would cost more than the rare loss of one."""
        await self.nc.publish(subject, payload)

    async def ensure_consumer(self, durable: Durable) -> None:
        """Create a consumer, or bring it to its declared configuration; once per process."""
        if durable.name not in self._consumers:
            await self.js.add_consumer(self.stream, durable.config())
            self._consumers.add(durable.name)

    async def key_value(
        self, bucket: str, *, history: int = 1, ttl: float | None = None
    ) -> KeyValue:
        """Open a KV bucket, creating it on first use."""
        if bucket not in self._kv:
            try:
                self._kv[bucket] = await self.js.key_value(bucket)
            except BucketNotFoundError:
                self._kv[bucket] = await self.js.create_key_value(
                    KeyValueConfig(bucket=bucket, history=history, ttl=ttl)
                )
        return self._kv[bucket]

    async def close(self) -> None:
        """Drain when connected; when NATS is already gone, just close."""
        if self.nc.is_closed:
            return
        try:
            await asyncio.wait_for(self.nc.drain(), timeout=5)
        except Exception:
            with contextlib.suppress(Exception):
                await self.nc.close()


async def connect(cfg: CommonConfig, stop: asyncio.Event) -> Bus | None:
    """Connect with unlimited reconnects; retry the first connection until `stop`.

    Returns None when stopped before a connection could be made.
    """
    bus: Bus | None = None

    async def on_disconnected() -> None:
        log.warning("disconnected from NATS")

    async def on_reconnected() -> None:
        if bus is not None:
            bus.reconnects += 1
            heard, bus.reconnected = bus.reconnected, asyncio.Event()
            heard.set()
        log.info("reconnected to NATS")

    async def on_error(exc: Exception) -> None:
        log.warning("NATS error: %s", exc)

    failures = 0
    while not stop.is_set():
        try:
            nc = await nats.connect(
                cfg.nats_url,
                name=f"etstats-{cfg.service}",
                user=cfg.nats_user,
                password=cfg.nats_password,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                connect_timeout=3,
                allow_reconnect=True,
                disconnected_cb=on_disconnected,
                reconnected_cb=on_reconnected,
                error_cb=on_error,
            )
        except Exception as exc:
            failures += 1
            delay = backoff(failures, first=0.5, cap=10.0, jitter=0.2)
            log.warning(
                "cannot reach NATS at %s (%s); retrying in %.1fs",
                _safe_url(cfg.nats_url),
                describe(exc),
                delay,
            )
            await sleep_unless(stop, delay)
            continue
        bus = Bus(nc=nc, js=nc.jetstream(timeout=10), stream=cfg.stream)
        await ensure_stream(bus.js, cfg.stream)
        bus._consumers.update(d.name for d in PIPELINE)  # created just now
        log.info("connected to NATS at %s", _safe_url(cfg.nats_url))
        return bus
    return None


CONNECT_ONCE_TIMEOUT_S = 5.0


class BusUnavailable(Exception):
    """NATS could not be reached by a one-shot command; the message says where."""


async def connect_once(cfg: CommonConfig) -> Bus:
    """One attempt and no reconnects: for commands that should fail fast."""

    async def quiet(_: Exception) -> None:
        """Connection errors become one BusUnavailable, not logged tracebacks."""

    try:
        nc = await asyncio.wait_for(
            nats.connect(
                cfg.nats_url,
                name=f"etstats-{cfg.service}",
                user=cfg.nats_user,
                password=cfg.nats_password,
                connect_timeout=2,
                max_reconnect_attempts=0,
                allow_reconnect=False,
                error_cb=quiet,
            ),
            CONNECT_ONCE_TIMEOUT_S,
        )
    except Exception as exc:
        raise BusUnavailable(
            f"cannot reach NATS at {_safe_url(cfg.nats_url)} ({describe(exc)})"
        ) from None
    return Bus(nc=nc, js=nc.jetstream(timeout=10), stream=cfg.stream)


def _safe_url(url: str) -> str:
    """The URL without credentials, fit for a log line."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}"


async def ensure_stream(js: JetStreamContext, name: str) -> None:
    """Create the pipeline stream and its consumers, or bring existing ones to
    our config (an older install's stream kept every message for a week)."""
    config = StreamConfig(
        name=name,
        subjects=STREAM_SUBJECTS,
        retention=RetentionPolicy.INTEREST,
        storage=StorageType.FILE,
        max_age=STREAM_MAX_AGE_S,
        max_bytes=STREAM_MAX_BYTES,
        discard=DiscardPolicy.NEW,
        duplicate_window=DUPLICATE_WINDOW_S,
    )
    try:
        await js.stream_info(name)
    except NotFoundError:
        try:
            await js.add_stream(config)
        except Exception:
            log.debug("stream %s created concurrently", name)
    await js.update_stream(config)
    for durable in PIPELINE:
        await js.add_consumer(name, durable.config())
