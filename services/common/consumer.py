"""The one consumer loop: durable pull consumer with the bus's ack discipline.

- ack only after the handler returned, i.e. after its effect is durable;
- a handler raising :class:`Reject` is a permanent failure: a rejection is
  published and the message terminated, never retried;
- any other exception is transient: nak with a growing delay;
- fetches are bounded by timeouts and the subscription is recreated after a
  reconnect, because pull subscriptions can stall silently otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from google.protobuf.message import DecodeError, Message
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from etstats.contract import common_pb2, files_pb2
from services.common.aio import sleep_unless
from services.common.backoff import backoff
from services.common.bus import Bus, pull_consumer_config
from services.common.errors import describe
from services.common.events import report
from services.common.metrics import CONSUMER_PENDING, HANDLE_SECONDS, MESSAGES, REJECTIONS
from services.common.subjects import REJECTED, source_of, stage_msg_id, stage_subject

log = logging.getLogger(__name__)

Handler = Callable[[Msg], Awaitable[None]]
M = TypeVar("M", bound=Message)

MAX_NAK_DELAY_S = 60.0
LAG_EVERY_S = 5.0


class Reject(Exception):
    """A message that can never succeed (a bad file): terminate and report it."""

    def __init__(self, code: str, reason: str, file: common_pb2.FileRef | None = None) -> None:
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
    subject: str,
    handler: Handler,
    stop: asyncio.Event,
    durable: str | None = None,
    batch: int = 16,
    fetch_timeout: float = 2.0,
    ack_wait: float = 30.0,
    ordered: bool = False,
) -> None:
    """Run `handler` on every message of `subject` until `stop` is set.

    `ordered` keeps one message in flight across all replicas, so messages are
    handled strictly in stream order even when some are redelivered.
    """
    durable = durable or stage
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
                sub = await bus.js.pull_subscribe(
                    subject,
                    durable=durable,
                    stream=bus.stream,
                    config=pull_consumer_config(
                        durable, subject, ack_wait, max_ack_pending=1 if ordered else 1000
                    ),
                )
            msgs = await asyncio.wait_for(
                sub.fetch(1 if ordered else batch, timeout=fetch_timeout),
                timeout=fetch_timeout + 5,
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
        for index, msg in enumerate(msgs):
            if stop.is_set():
                # Stop taking work: hand the rest back for another replica.
                for rest in msgs[index:]:
                    await _quietly(rest.nak())
                break
            await handle(bus, stage, handler, msg)
    if sub is not None:
        await _quietly_unsubscribe(sub)


async def handle(bus: Bus, stage: str, handler: Handler, msg: Msg) -> str:
    """Handle one message with the ack discipline; returns the outcome."""
    started = time.perf_counter()
    try:
        await handler(msg)
    except Reject as rejection:
        outcome = await _reject(bus, stage, msg, rejection)
    except asyncio.CancelledError:
        await _quietly(msg.nak())
        raise
    except Exception:
        delay = nak_delay(msg.metadata.num_delivered or 1)
        log.exception(
            "%s: transient failure, redelivery in %.0fs",
            stage,
            delay,
            extra={"stage": stage, "msg_id": _msg_id(msg)},
        )
        await _quietly(msg.nak(delay=delay))
        outcome = "nak"
    else:
        await _quietly(msg.ack())
        outcome = "ack"
    MESSAGES.labels(stage=stage, outcome=outcome).inc()
    HANDLE_SECONDS.labels(stage=stage).observe(time.perf_counter() - started)
    return outcome


async def _reject(bus: Bus, stage: str, msg: Msg, rejection: Reject) -> str:
    file = rejection.file or common_pb2.FileRef(source=source_of(msg.subject), msg_id=_msg_id(msg))
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


async def _record_lag(sub: JetStreamContext.PullSubscription, stage: str, durable: str) -> None:
    """Consumer lag for dashboards and the lag alert; a failed look is skipped."""
    try:
        info = await asyncio.wait_for(sub.consumer_info(), timeout=2.0)
    except Exception:
        return
    CONSUMER_PENDING.labels(stage=stage, consumer=durable).set(
        (info.num_pending or 0) + (info.num_ack_pending or 0)
    )


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
