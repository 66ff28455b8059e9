"""The one consumer loop: durable pull consumer with the bus's ack discipline.

- ack only after the handler returned, i.e. after its effect is durable;
- a handler raising :class:`Reject` is a permanent failure: a rejection is
  published and the message terminated, never retried;
- an exception of a type the consumer calls `permanent` (data the database
  refuses, say) is a rejection too;
- an outage (the bus or, for storage, the database away) is no fault of the
  message: nak with a growing delay, for as long as it lasts;
- any other exception is transient: nak with a growing delay, until the handler
  has failed `MAX_DELIVERIES` times on the message: then it is rejected, so
  nothing is retried forever (a message that crashes or hangs its handler is
  rejected once delivered `MAX_SILENT_DELIVERIES` times, before the handler runs);
- fetches are bounded by timeouts and the subscription is recreated after a
  reconnect, because pull subscriptions can stall silently otherwise; a stop or
  a reconnect ends a fetch at once, so an idle consumer asks only every
  FETCH_TIMEOUT_S (each ask is a request to nats-server, which idles on them);
- with a `batch_handler`, the messages of one fetch seen for the first time are
  handled together (one transaction for storage) and acked once it returned;
  when it raises, they are handled one by one with the rules above, so a bad
  message costs its batch a retry and nothing else. A redelivered message is
  always handled alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from google.protobuf.message import DecodeError, Message
from nats import errors as nats_errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js import errors as js_errors

from etstats.contract import common_pb2, files_pb2
from etstats.text import one_line
from services.common.aio import sleep_unless
from services.common.backoff import backoff
from services.common.bus import Bus
from services.common.durables import Durable
from services.common.errors import describe
from services.common.events import report
from services.common.metrics import (
    CONSUMER_PENDING,
    HANDLE_SECONDS,
    MESSAGES,
    REJECTIONS,
    zero_stage,
)
from services.common.subjects import REJECTED, source_of, stage_msg_id, stage_subject

log = logging.getLogger(__name__)

Handler = Callable[[Msg], Awaitable[None]]
BatchHandler = Callable[[list[Msg]], Awaitable[None]]
FileOf = Callable[[bytes], common_pb2.FileRef]
M = TypeVar("M", bound=Message)

MAX_NAK_DELAY_S = 60.0
# A message whose handler fails this many times in one process is rejected.
MAX_DELIVERIES = 20
# Outages (the database or the bus away) are not the message's fault and are not
# counted: it is naked with backoff until they end. Only a message delivered more
# often than this with no answer at all (it crashes or hangs its handler) is
# rejected before the handler runs; naked at most once a minute, that is also
# what an outage of about 16 hours costs the files waiting on it.
MAX_SILENT_DELIVERIES = 1000
OUTAGES: tuple[type[Exception], ...] = (
    ConnectionError,
    TimeoutError,
    nats_errors.ConnectionClosedError,
    nats_errors.ConnectionDrainingError,
    nats_errors.ConnectionReconnectingError,
    nats_errors.NoRespondersError,
    nats_errors.NoServersError,
    nats_errors.OutboundBufferLimitError,
    nats_errors.StaleConnectionError,
    # JetStream unavailable, or the stream full (STREAM_MAX_BYTES): wait for room.
    js_errors.ServiceUnavailableError,
)
MAX_REASON_CHARS = 1000
LAG_EVERY_S = 5.0
FETCH_TIMEOUT_S = 10.0


class Reject(Exception):
    """A message that can never succeed (a bad file): terminate and report it."""

    def __init__(self, code: str, reason: str, file: common_pb2.FileRef | None = None) -> None:
        # One short line: it is logged, published, and stored in files.error.
        reason = one_line(reason, MAX_REASON_CHARS)
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.file = file


def decode(message_type: type[M], data: bytes) -> M:
    """A bus message, or a permanent Reject when it is not one."""
    try:
        return message_type.FromString(data)
    except DecodeError:
        raise Reject("bad_message", f"message is not a valid {message_type.__name__}") from None


def nak_delay(num_delivered: int) -> float:
    """Exponential backoff for redeliveries: 1 s, 2 s, 4 s ... capped at a minute."""
    return backoff(num_delivered, cap=MAX_NAK_DELAY_S)


async def consume(
    bus: Bus,
    *,
    stage: str,
    consumer: Durable,
    handler: Handler,
    stop: asyncio.Event,
    batch_handler: BatchHandler | None = None,
    batch: int = 16,
    fetch_timeout: float = FETCH_TIMEOUT_S,
    permanent: Sequence[type[Exception]] = (),
    outages: Sequence[type[Exception]] = (),
    file_of: FileOf | None = None,
    publish_rejections: bool = True,
    acks_later: bool = False,
) -> None:
    """Run `handler` on every message of the `consumer` until `stop` is set.

    An ordered consumer keeps one message in flight across all replicas, so
    messages are handled strictly in stream order even when some are redelivered.
    `permanent`: exception types that retrying cannot cure, rejected at once.
    `outages`: exception types of the world around (beyond OUTAGES), retried
    without a bound.
    `file_of`: the file a message is about, so rejections the consumer makes
    itself name it (and storage can record it in the ledger).
    `publish_rejections=False` for the consumers of rejections and events:
    a rejection they published would come back to them; they log and count.
    `batch_handler`: handles the first deliveries of a fetch at once (see above);
    `handler` stays the rule for each message.
    `acks_later`: a handler that returns has taken the message but its effect is
    not durable yet (a notice sent later, in a group): it acks the message itself
    once it is; until then JetStream redelivers it after the consumer's ack wait.
    """
    policy = _Policy(
        tuple(permanent), OUTAGES + tuple(outages), file_of, publish_rejections, acks_later
    )
    durable = consumer.name
    zero_stage(stage)
    sub: JetStreamContext.PullSubscription | None = None
    seen_reconnects = bus.reconnects
    failures = 0
    lag_at = 0.0
    while not stop.is_set():
        if sub is not None and time.monotonic() - lag_at >= LAG_EVERY_S:
            lag_at = time.monotonic()
            await _record_lag(sub, stage, durable)
        try:
            if sub is None or seen_reconnects != bus.reconnects:
                if sub is not None:
                    await _quietly_unsubscribe(sub)
                seen_reconnects = bus.reconnects
                await bus.ensure_consumer(consumer)
                sub = await bus.js.pull_subscribe(
                    consumer.subject, durable=durable, stream=bus.stream, config=consumer.config()
                )
            fetched = await _fetch_unless(
                bus, stop, sub, 1 if consumer.ordered else batch, fetch_timeout
            )
            failures = 0
        except TimeoutError:
            continue
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures += 1
            delay = backoff(failures, cap=10.0)
            log.warning(
                "%s consumer: fetch failed (%s); resubscribing in %.1fs",
                stage,
                describe(exc),
                delay,
                extra={"stage": stage},
            )
            sub = None
            await sleep_unless(stop, delay)
            continue
        if fetched is None:
            continue  # stopped, or reconnected: the loop's top tells which
        msgs = fetched
        if batch_handler is not None and not stop.is_set():
            msgs = await _handle_batch(stage, batch_handler, msgs)
        for index, msg in enumerate(msgs):
            if stop.is_set():
                # Stop taking work: hand the rest back for another replica.
                for rest in msgs[index:]:
                    await _quietly(rest.nak())
                break
            await handle(bus, stage, handler, msg, policy)
    if sub is not None:
        await _quietly_unsubscribe(sub)


@dataclass(frozen=True)
class _Policy:
    """How one consumer tells permanent failures from transient ones."""

    permanent: tuple[type[Exception], ...] = ()
    outages: tuple[type[Exception], ...] = OUTAGES
    file_of: FileOf | None = None
    publish_rejections: bool = True
    acks_later: bool = False
    # Failures of the handler (not outages) per stream sequence, in this process:
    # JetStream's delivery count also counts outages, so it cannot bound these.
    failures: dict[int, int] = field(default_factory=dict)


async def handle(
    bus: Bus, stage: str, handler: Handler, msg: Msg, policy: _Policy | None = None
) -> str:
    """Handle one message with the ack discipline; returns the outcome."""
    policy = policy or _Policy()
    started = time.perf_counter()
    delivered = msg.metadata.num_delivered or 1
    sequence = msg.metadata.sequence.stream if msg.metadata.sequence else 0
    try:
        if delivered > MAX_SILENT_DELIVERIES:
            raise Reject(
                "retries_exhausted",
                f"not handled in {MAX_SILENT_DELIVERIES} deliveries"
                " (the handler crashed or timed out)",
            )
        await handler(msg)
    except Reject as rejection:
        outcome = await _reject(bus, stage, msg, rejection, policy)
    except asyncio.CancelledError:
        await _quietly(msg.nak())
        raise
    except Exception as exc:
        what = f"{type(exc).__name__}: {describe(exc)}"
        failed = policy.failures.get(sequence, 0) + (not isinstance(exc, policy.outages))
        policy.failures[sequence] = failed
        if isinstance(exc, policy.permanent):
            outcome = await _reject(bus, stage, msg, Reject("invalid_data", what), policy)
        elif isinstance(exc, policy.outages):
            delay = nak_delay(delivered)
            log.warning("%s: %s; redelivery in %.0fs", stage, what, delay, extra={"stage": stage})
            await _quietly(msg.nak(delay=delay))
            outcome = "nak"
        elif failed >= MAX_DELIVERIES:
            log.exception("%s: failed on every delivery", stage, extra={"stage": stage})
            reason = f"failed on {failed} deliveries, last: {what}"
            outcome = await _reject(bus, stage, msg, Reject("retries_exhausted", reason), policy)
        else:
            delay = nak_delay(failed)
            log.exception(
                "%s: transient failure (%d of %d), redelivery in %.0fs",
                stage,
                failed,
                MAX_DELIVERIES,
                delay,
                extra={"stage": stage, "msg_id": _msg_id(msg)},
            )
            await _quietly(msg.nak(delay=delay))
            outcome = "nak"
    else:
        if policy.acks_later:
            outcome = "held"
        else:
            await _quietly(msg.ack())
            outcome = "ack"
    if outcome != "nak":
        policy.failures.pop(sequence, None)
    MESSAGES.labels(stage=stage, outcome=outcome).inc()
    HANDLE_SECONDS.labels(stage=stage).observe(time.perf_counter() - started)
    return outcome


async def _handle_batch(stage: str, batch_handler: BatchHandler, msgs: list[Msg]) -> list[Msg]:
    """Handle the first deliveries together; returns the messages left to handle alone."""
    first = [m for m in msgs if (m.metadata.num_delivered or 1) == 1]
    if len(first) < 2:
        return msgs
    started = time.perf_counter()
    try:
        await batch_handler(first)
    except asyncio.CancelledError:
        for msg in msgs:
            await _quietly(msg.nak())
        raise
    except Exception as exc:
        log.info(
            "%s: a batch of %d failed (%s); handling them one by one",
            stage,
            len(first),
            describe(exc),
            extra={"stage": stage},
        )
        return msgs
    seconds = (time.perf_counter() - started) / len(first)
    for msg in first:
        await _quietly(msg.ack())
        MESSAGES.labels(stage=stage, outcome="ack").inc()
        HANDLE_SECONDS.labels(stage=stage).observe(seconds)
    return [m for m in msgs if (m.metadata.num_delivered or 1) != 1]


async def _reject(bus: Bus, stage: str, msg: Msg, rejection: Reject, policy: _Policy) -> str:
    if not policy.publish_rejections:
        REJECTIONS.labels(stage=stage, reason=rejection.code).inc()
        log.error("%s: dropped %s: %s", stage, _msg_id(msg), rejection.reason)
        await _quietly(msg.term())
        return "term"
    file = (
        rejection.file
        or _file_of(msg, policy.file_of)
        or common_pb2.FileRef(source=source_of(msg.subject), msg_id=_msg_id(msg))
    )
    event = files_pb2.Rejection(
        file=file,
        stage=stage,
        reason=rejection.reason,
        reason_code=rejection.code,
        rejected_at_ms=int(time.time() * 1000),
    )
    try:
        await bus.publish(
            stage_subject(REJECTED, file.source or "unknown"),
            event.SerializeToString(),
            msg_id=stage_msg_id(f"{REJECTED}-{stage}", file.msg_id or _msg_id(msg)),
        )
    except Exception as exc:
        # The rejection must not be lost: retry the whole message later.
        log.warning("%s: could not publish rejection (%s)", stage, exc)
        await _quietly(msg.nak(delay=nak_delay(msg.metadata.num_delivered or 1)))
        return "nak"
    REJECTIONS.labels(stage=stage, reason=rejection.code).inc()
    await report(bus, file, stage, "rejected", detail=rejection.reason)
    log.warning(
        "%s: rejected %s: %s",
        stage,
        file.filename or file.msg_id,
        rejection.reason,
        extra={
            "stage": stage,
            "source": file.source,
            "file": file.filename,
            "reason": rejection.code,
        },
    )
    await _quietly(msg.term())
    return "term"


async def _fetch_unless(
    bus: Bus,
    stop: asyncio.Event,
    sub: JetStreamContext.PullSubscription,
    batch: int,
    expires_s: float,
) -> list[Msg] | None:
    """A fetch of up to `batch` messages, or None as soon as `stop` is set or the
    bus reconnects (a pull request the server lost would wait out its time)."""
    fetching = asyncio.ensure_future(
        asyncio.wait_for(sub.fetch(batch, timeout=expires_s), timeout=expires_s + 5)
    )
    waking = [asyncio.ensure_future(e.wait()) for e in (stop, bus.reconnected)]
    try:
        await asyncio.wait([fetching, *waking], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waking:
            task.cancel()
        if not fetching.done():
            fetching.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fetching
    return None if fetching.cancelled() else fetching.result()


async def _record_lag(sub: JetStreamContext.PullSubscription, stage: str, durable: str) -> None:
    """Consumer lag for dashboards and the lag alert; a failed look is skipped."""
    try:
        info = await asyncio.wait_for(sub.consumer_info(), timeout=2.0)
    except Exception:
        return
    CONSUMER_PENDING.labels(stage=stage, consumer=durable).set(
        (info.num_pending or 0) + (info.num_ack_pending or 0)
    )


def _file_of(msg: Msg, file_of: FileOf | None) -> common_pb2.FileRef | None:
    """The message's file, if the consumer can tell (a message that does not
    decode is rejected all the same, just without a file name)."""
    if file_of is None:
        return None
    try:
        return file_of(msg.data)
    except Exception:
        return None


def _msg_id(msg: Msg) -> str:
    return (msg.headers or {}).get("Nats-Msg-Id", "")


async def _quietly(awaitable: Awaitable[object]) -> None:
    """Acks are best effort: a lost ack means a redelivery, which handlers tolerate."""
    try:
        await awaitable
    except Exception as exc:
        log.warning("ack/nak failed: %s", describe(exc))


async def _quietly_unsubscribe(sub: JetStreamContext.PullSubscription) -> None:
    await _quietly(sub.unsubscribe())
