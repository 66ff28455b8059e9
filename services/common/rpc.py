"""Request/reply over nats.micro, with errors on nats.micro's own channel both ways.

A handler takes the decoded request and returns the reply message. For an
expected failure it raises :class:`ServiceError` (a code and one sentence for
people); any other exception is logged and answered as a 500 with a short
message. A caller's :func:`ask` raises :class:`ServiceFailed` on such an
answer, and on a reply that is empty or not of the endpoint's reply type: an
answer that is not clearly a success is never taken for one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import DecodeError, Message
from nats import errors as nats_errors
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.micro.request import ERROR_CODE_HEADER, ERROR_HEADER, Request, ServiceError
from nats.micro.service import Service as MicroService

from etstats.text import one_line
from services.common.bus import Bus

__all__ = [
    "Endpoint",
    "NotAnswering",
    "ServiceError",
    "ServiceFailed",
    "ask",
    "serve",
]

log = logging.getLogger(__name__)

# The reply's message type travels with it, so that an empty or foreign body
# can never pass for a reply whose fields are all defaults.
REPLY_TYPE_HEADER = "Etstats-Reply-Type"
DESCRIPTION_MAX = 300
DEFAULT_TIMEOUT_S = 5.0
# Our own connection is down or going: no service can answer it either.
DISCONNECTED = (
    nats_errors.ConnectionClosedError,
    nats_errors.ConnectionDrainingError,
    nats_errors.ConnectionReconnectingError,
    nats_errors.NoServersError,
    nats_errors.StaleConnectionError,
)

Req = TypeVar("Req", bound=Message)
Rep = TypeVar("Rep", bound=Message)


@dataclass(frozen=True)
class Endpoint(Generic[Req, Rep]):
    """One request/reply endpoint of a service: `etstats.<service>.<name>`."""

    service: str
    name: str
    request: type[Req]
    reply: type[Rep]
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def subject(self) -> str:
        return f"etstats.{self.service}.{self.name}"

    def __str__(self) -> str:
        return f"{self.service} {self.name}"


class NotAnswering(Exception):
    """No instance of a service answered in time; the message names it."""

    def __init__(self, service: str) -> None:
        super().__init__(f"the {service} service is not answering")
        self.service = service


class ServiceFailed(Exception):
    """A service answered with an error (or with something that is not a reply)."""

    def __init__(self, endpoint: Endpoint[Any, Any], code: str, description: str) -> None:
        super().__init__(f"{description} ({endpoint}, error {code})")
        self.endpoint = endpoint
        self.code = code
        self.description = description


Handler = Callable[[Req], Awaitable[Rep]]


def wrap(
    endpoint: Endpoint[Req, Rep], handler: Handler[Req, Rep]
) -> Callable[[Request], Awaitable[None]]:
    """The nats.micro handler: decode, call, answer; every failure as a service error."""

    async def handle(req: Request) -> None:
        try:
            request = endpoint.request.FromString(req.data)
        except DecodeError:
            raise ServiceError(
                "400", f"the request is not a {endpoint.request.DESCRIPTOR.name}"
            ) from None
        try:
            reply = await handler(request)
        except ServiceError as exc:
            raise ServiceError(exc.code, one_line(exc.description, DESCRIPTION_MAX)) from exc
        except Exception as exc:
            log.error("%s failed", endpoint, exc_info=exc)
            raise ServiceError(
                "500", one_line(f"{endpoint} failed: {type(exc).__name__}: {exc}", DESCRIPTION_MAX)
            ) from exc
        await req.respond(
            reply.SerializeToString(), headers={REPLY_TYPE_HEADER: reply.DESCRIPTOR.full_name}
        )

    return handle


async def serve(
    micro: MicroService,
    endpoint: Endpoint[Req, Rep],
    handler: Handler[Req, Rep],
    queue_group: str | None = None,
) -> None:
    """Register `handler` for `endpoint` on this instance's nats.micro service."""
    await micro.add_endpoint(
        name=endpoint.name,
        subject=endpoint.subject,
        handler=wrap(endpoint, handler),
        queue_group=queue_group,
    )


def reply_of(endpoint: Endpoint[Req, Rep], headers: dict[str, str] | None, data: bytes) -> Rep:
    """The reply a raw answer carries, or ServiceFailed."""
    headers = headers or {}
    if ERROR_HEADER in headers:
        raise ServiceFailed(
            endpoint,
            headers.get(ERROR_CODE_HEADER, "500"),
            headers[ERROR_HEADER] or "no description",
        )
    expected = endpoint.reply.DESCRIPTOR.full_name
    if headers.get(REPLY_TYPE_HEADER) != expected:
        raise ServiceFailed(
            endpoint,
            "502",
            f"the answer is not a {endpoint.reply.DESCRIPTOR.name}",
        )
    try:
        return endpoint.reply.FromString(data)
    except DecodeError:
        raise ServiceFailed(
            endpoint,
            "502",
            f"the answer does not decode as a {endpoint.reply.DESCRIPTOR.name}",
        ) from None


async def ask(
    bus: Bus, endpoint: Endpoint[Req, Rep], request: Req, timeout_s: float | None = None
) -> Rep:
    """Send a request and return its reply; raises NotAnswering or ServiceFailed."""
    try:
        msg = await bus.nc.request(
            endpoint.subject,
            request.SerializeToString(),
            timeout=timeout_s or endpoint.timeout_s,
        )
    except (NoRespondersError, NatsTimeout, TimeoutError, *DISCONNECTED):
        raise NotAnswering(endpoint.service) from None
    return reply_of(endpoint, msg.headers, msg.data)
