"""The shared bus plumbing against a real nats-server."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import ConsumerConfig

from etstats.contract import common_pb2, files_pb2
from etstats_cli.embedded import EmbeddedNats
from services.common import consumer
from services.common.bus import Bus, ensure_stream
from services.common.consumer import Reject, consume, nak_delay
from services.common.durables import Durable
from services.common.subjects import raw_msg_id
from tests.waiting import wait_until


@pytest.mark.service
async def test_stream_setup_is_idempotent(bus: Bus) -> None:
    await ensure_stream(bus.js, bus.stream)
    await ensure_stream(bus.js, bus.stream)
    info = await bus.js.stream_info(bus.stream)
    assert info.config.subjects == ["stats.>"]
    assert info.config.duplicate_window == 120


@pytest.mark.service
async def test_publish_deduplicates_by_msg_id(bus: Bus) -> None:
    for _ in range(3):
        await bus.publish("stats.raw.main", b"x", msg_id=raw_msg_id("main", "a.txt", "00"))
    info = await bus.js.stream_info(bus.stream)
    assert info.state.messages == 1


@pytest.mark.service
async def test_key_value_bucket_is_created_once(bus: Bus) -> None:
    kv = await bus.key_value("monitoring")
    await kv.put("main", b"on")
    again = await bus.key_value("monitoring")
    assert (await again.get("main")).value == b"on"


@pytest.mark.unit
def test_nak_delay_grows_and_is_capped() -> None:
    assert [nak_delay(n) for n in (1, 2, 3)] == [1, 2, 4]
    assert nak_delay(50) == 60


async def _run_until(
    bus: Bus, handler, done: asyncio.Event, *, stage: str = "t", within: float = 20
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(
        consume(
            bus,
            stage=stage,
            consumer=Durable(stage, "stats.raw.>"),
            handler=handler,
            stop=stop,
            fetch_timeout=0.5,
        )
    )
    try:
        await asyncio.wait_for(done.wait(), within)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@pytest.mark.service
async def test_transient_failure_is_redelivered_then_acked(bus: Bus) -> None:
    await bus.publish("stats.raw.main", b"1", msg_id="m1")
    calls: list[int] = []
    done = asyncio.Event()

    async def flaky(msg: Msg) -> None:
        calls.append(msg.metadata.num_delivered)
        if len(calls) == 1:
            raise ConnectionError("database went away")
        done.set()

    await _run_until(bus, flaky, done)
    assert calls == [1, 2]
    info = await bus.js.consumer_info(bus.stream, "t")
    assert info.num_ack_pending == 0
    assert info.num_pending == 0


@pytest.mark.service
async def test_permanent_failure_is_terminated_and_reported(bus: Bus) -> None:
    file = common_pb2.FileRef(source="main", filename="bad.txt", msg_id="main/bad.txt/00")
    await bus.publish("stats.raw.main", b"bad", msg_id=file.msg_id)
    await bus.publish("stats.raw.main", b"good", msg_id="good")
    seen: list[bytes] = []
    done = asyncio.Event()

    async def handler(msg: Msg) -> None:
        seen.append(msg.data)
        if msg.data == b"bad":
            raise Reject("header", "line 1: header has 3 fields, expected 8 or 9", file)
        done.set()

    await _run_until(bus, handler, done)

    async def settled() -> bool:
        """Nothing awaits (re)delivery: the bad message was terminated, not nak'ed."""
        info = await bus.js.consumer_info(bus.stream, "t")
        return info.num_ack_pending == 0 and info.num_pending == 0

    await wait_until(settled, what="both messages done with")
    assert seen == [b"bad", b"good"]
    sub = await bus.js.pull_subscribe("stats.rejected.>", durable="check", stream=bus.stream)
    (msg,) = await sub.fetch(1, timeout=2)
    rejection = files_pb2.Rejection.FromString(msg.data)
    assert msg.subject == "stats.rejected.main"
    assert rejection.stage == "t"
    assert rejection.reason_code == "header"
    assert rejection.file.filename == "bad.txt"
    assert "line 1" in rejection.reason


@pytest.mark.service
async def test_consumer_survives_a_nats_restart(nats_server: EmbeddedNats, bus: Bus) -> None:
    received: list[bytes] = []
    first, second = asyncio.Event(), asyncio.Event()

    async def handler(msg: Msg) -> None:
        received.append(msg.data)
        (first if msg.data == b"before" else second).set()

    stop = asyncio.Event()
    task = asyncio.create_task(
        consume(
            bus,
            stage="t",
            consumer=Durable("t", "stats.raw.>"),
            handler=handler,
            stop=stop,
            # Longer than every wait below: the reconnect and the stop end the
            # fetch that waits (the restarted server forgot its pull request).
            fetch_timeout=60,
        )
    )
    try:
        await bus.publish("stats.raw.main", b"before", msg_id="before")
        await asyncio.wait_for(first.wait(), 10)
        nats_server.stop()
        await wait_until(lambda: not bus.connected, what="the client to notice")
        nats_server.start()
        await wait_until(lambda: bus.connected, what="the client to reconnect")
        await bus.publish("stats.raw.main", b"after", msg_id="after")
        await asyncio.wait_for(second.wait(), 20)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert received == [b"before", b"after"]
    assert bus.reconnects >= 1


async def _rejections(bus: Bus, durable: str = "check") -> list[files_pb2.Rejection]:
    sub = await bus.js.pull_subscribe("stats.rejected.>", durable=durable, stream=bus.stream)
    msgs = await sub.fetch(10, timeout=2)
    return [files_pb2.Rejection.FromString(m.data) for m in msgs]


@pytest.mark.service
async def test_a_message_failing_on_every_delivery_is_rejected_after_the_bound(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumer, "MAX_DELIVERIES", 3)
    file = common_pb2.FileRef(source="main", filename="f.txt", msg_id="main/f.txt/00")
    await bus.publish("stats.raw.main", files_pb2.RawFile(file=file).SerializeToString(), "f")
    deliveries: list[int] = []

    async def always_fails(msg: Msg) -> None:
        deliveries.append(msg.metadata.num_delivered)
        raise RuntimeError("x" * 5000)

    stop = asyncio.Event()
    task = asyncio.create_task(
        consume(
            bus,
            stage="t",
            consumer=Durable("t", "stats.raw.>"),
            handler=always_fails,
            stop=stop,
            fetch_timeout=0.5,
            file_of=lambda data: files_pb2.RawFile.FromString(data).file,
        )
    )
    try:

        async def settled() -> bool:
            if len(deliveries) < 3:
                return False
            info = await bus.js.consumer_info(bus.stream, "t")
            return info.num_ack_pending == 0

        await wait_until(settled, what="three deliveries, then termination")
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert deliveries == [1, 2, 3]
    (rejection,) = await _rejections(bus)
    assert rejection.reason_code == "retries_exhausted"
    assert rejection.file.filename == "f.txt"  # from file_of: the ledger can record it
    assert rejection.reason.startswith("failed on 3 deliveries, last: RuntimeError: xxx")
    assert len(rejection.reason) <= consumer.MAX_REASON_CHARS


@pytest.mark.service
async def test_a_redelivered_message_beyond_the_bound_is_rejected_before_handling(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handler that crashes its process or hangs never naks: JetStream redelivers
    after ack_wait, and the delivery past the bound is rejected unhandled."""
    monkeypatch.setattr(consumer, "MAX_SILENT_DELIVERIES", 1)
    await bus.publish("stats.raw.main", b"hangs", msg_id="h")
    sub = await bus.js.pull_subscribe(
        "stats.raw.>", durable="t", stream=bus.stream, config=ConsumerConfig(ack_wait=0.5)
    )
    (first,) = await sub.fetch(1, timeout=2)  # delivery 1: taken, never answered
    seen: list[bytes] = []

    async def handler(msg: Msg) -> None:
        seen.append(msg.data)

    (again,) = await sub.fetch(1, timeout=5)  # redelivered once ack_wait is over
    assert again.metadata.num_delivered == 2
    assert await consumer.handle(bus, "t", handler, again) == "term"
    assert seen == []
    (rejection,) = await _rejections(bus)
    assert rejection.reason_code == "retries_exhausted"
    del first


@pytest.mark.service
async def test_permanent_exception_types_are_rejected_at_once(bus: Bus) -> None:
    await bus.publish("stats.raw.main", b"bad", msg_id="bad")
    calls: list[int] = []

    async def refused(msg: Msg) -> None:
        calls.append(msg.metadata.num_delivered)
        raise OverflowError("value out of int16 range")

    stop = asyncio.Event()
    task = asyncio.create_task(
        consume(
            bus,
            stage="t",
            consumer=Durable("t", "stats.raw.>"),
            handler=refused,
            stop=stop,
            fetch_timeout=0.5,
            permanent=(OverflowError,),
        )
    )
    try:
        await wait_until(lambda: calls == [1], what="one delivery")

        async def settled() -> bool:
            info = await bus.js.consumer_info(bus.stream, "t")
            return info.num_ack_pending == 0 and info.num_pending == 0

        await wait_until(settled, what="the message terminated")
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    (rejection,) = await _rejections(bus)
    assert (rejection.reason_code, rejection.reason) == (
        "invalid_data",
        "OverflowError: value out of int16 range",
    )
    assert calls == [1]


@pytest.mark.service
async def test_an_outage_never_uses_up_a_message_s_deliveries(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database or the bus being away is not the file's fault: however many
    deliveries an outage takes, the handler's own failures are counted apart."""
    monkeypatch.setattr(consumer, "MAX_DELIVERIES", 2)
    monkeypatch.setattr(consumer, "nak_delay", lambda _: 0)
    await bus.publish("stats.raw.main", b"good", msg_id="g")
    sub = await bus.js.pull_subscribe("stats.raw.>", durable="o", stream=bus.stream)
    policy = consumer._Policy()
    failures = iter([ConnectionRefusedError("refused")] * 4 + [RuntimeError("deadlock")])
    outcomes = []

    async def flaky(_: Msg) -> None:
        raise next(failures)

    for _ in range(5):
        (msg,) = await sub.fetch(1, timeout=5)
        outcomes.append(await consumer.handle(bus, "o", flaky, msg, policy))
    assert msg.metadata.num_delivered == 5
    assert outcomes == ["nak"] * 5  # one failure of its own: below the bound of 2
    with pytest.raises(NatsTimeout):  # no rejection was published
        await _rejections(bus)
