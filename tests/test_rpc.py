"""Errors travel on nats.micro's error channel, both ways, for every endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import nats.micro
import pytest
from google.protobuf.message import Message
from nats.micro.request import ServiceError
from nats.micro.service import Service

from services.common.bus import Bus
from services.common.endpoints import ALL
from services.common.rpc import Endpoint, NotAnswering, ServiceFailed, ask, serve

pytestmark = pytest.mark.service

ENDPOINTS = pytest.mark.parametrize("endpoint", ALL, ids=str)


@pytest.fixture
async def micro(bus: Bus) -> AsyncIterator[Service]:
    service = await nats.micro.add_service(bus.nc, name="etstats-test", version="0.0.0")
    yield service
    await service.stop()


@ENDPOINTS
async def test_a_handler_that_raises_is_an_error_naming_service_and_endpoint(
    bus: Bus, micro: Service, endpoint: Endpoint[Any, Any]
) -> None:
    async def broken(_: Message) -> Message:
        raise RuntimeError("the pool is closing\nsecond line")

    await serve(micro, endpoint, broken)
    with pytest.raises(ServiceFailed) as failed:
        await ask(bus, endpoint, endpoint.request(), timeout_s=5)
    assert failed.value.code == "500"
    message = str(failed.value)
    assert f"({endpoint.service} {endpoint.name}, error 500)" in message
    assert "RuntimeError: the pool is closing second line" in message
    assert "\n" not in message


@ENDPOINTS
async def test_a_service_error_reaches_the_caller_with_its_code(
    bus: Bus, micro: Service, endpoint: Endpoint[Any, Any]
) -> None:
    async def refuses(_: Message) -> Message:
        raise ServiceError("404", "unknown source 'x'; sources: main")

    await serve(micro, endpoint, refuses)
    with pytest.raises(ServiceFailed) as failed:
        await ask(bus, endpoint, endpoint.request(), timeout_s=5)
    assert (failed.value.code, failed.value.description) == (
        "404",
        "unknown source 'x'; sources: main",
    )


@ENDPOINTS
async def test_an_empty_reply_is_never_a_success(bus: Bus, endpoint: Endpoint[Any, Any]) -> None:
    """A responder that is not an etstats endpoint (or an old one) answers b""."""

    async def empty(msg: Any) -> None:
        await msg.respond(b"")

    sub = await bus.nc.subscribe(endpoint.subject, cb=empty)
    try:
        with pytest.raises(ServiceFailed) as failed:
            await ask(bus, endpoint, endpoint.request(), timeout_s=5)
    finally:
        await sub.unsubscribe()
    assert failed.value.code == "502"


@ENDPOINTS
async def test_a_good_reply_comes_back_typed(
    bus: Bus, micro: Service, endpoint: Endpoint[Any, Any]
) -> None:
    async def answers(_: Message) -> Message:
        return endpoint.reply()

    await serve(micro, endpoint, answers)
    reply = await ask(bus, endpoint, endpoint.request(), timeout_s=5)
    assert isinstance(reply, endpoint.reply)


async def test_a_request_that_does_not_decode_is_a_400(bus: Bus, micro: Service) -> None:
    endpoint: Endpoint[Any, Any] = ALL[0]

    async def never(_: Message) -> Message:
        raise AssertionError("not called for an undecodable request")

    await serve(micro, endpoint, never)
    msg = await bus.nc.request(endpoint.subject, b"\xff\xff\xff", timeout=5)
    assert msg.headers is not None
    assert msg.headers["Nats-Service-Error-Code"] == "400"


async def test_nobody_serving_is_not_answering_within_the_deadline(bus: Bus) -> None:
    with pytest.raises(NotAnswering) as failed:
        await asyncio.wait_for(ask(bus, ALL[0], ALL[0].request(), timeout_s=1), 5)
    assert str(failed.value) == f"the {ALL[0].service} service is not answering"
