"""Where posts go: Discord's REST API through disnake, or the terminal."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import disnake
from disnake.http import HTTPClient, Route, to_multipart
from prometheus_client import Counter, Histogram

from services.common.errors import describe
from services.common.render import as_text

log = logging.getLogger(__name__)

RATE_LIMITS = Counter(
    "etstats_poster_rate_limited_total", "429 answers from Discord that were waited out."
)
POST_SECONDS = Histogram(
    "etstats_poster_post_seconds",
    "Time to create one Discord message.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
NO_MENTIONS: dict[str, list[str]] = {"parse": []}


class PermanentPostError(Exception):
    """Discord refused for good (missing access, unknown channel): do not retry."""


IMAGE_MAX_BYTES = 8 * 1024 * 1024  # under Discord's 10 MiB a message, whatever the renderer does


@dataclass(frozen=True)
class Upload:
    """A file sent with a message; an embed shows it as `attachment://<filename>`."""

    filename: str
    data: bytes


class Sink(Protocol):
    async def send(
        self,
        channel_id: str | None,
        embeds: Sequence[disnake.Embed],
        nonce: str,
        files: Sequence[Upload] = (),
    ) -> str:
        """Post and return the message id."""

    async def edit(
        self,
        channel_id: str | None,
        message_id: str,
        embeds: Sequence[disnake.Embed],
        files: Sequence[Upload] = (),
    ) -> None:
        """Replace the embeds and the files of a message posted before."""

    async def close(self) -> None: ...


class ConsoleSink:
    """Local mode: the same content as text on stdout."""

    async def send(
        self,
        channel_id: str | None,
        embeds: Sequence[disnake.Embed],
        nonce: str,
        files: Sequence[Upload] = (),
    ) -> str:
        print(as_text(embeds) + "\n", file=sys.stdout, flush=True)
        return f"console-{nonce}"

    async def edit(
        self,
        channel_id: str | None,
        message_id: str,
        embeds: Sequence[disnake.Embed],
        files: Sequence[Upload] = (),
    ) -> None:
        print("(updated)\n" + as_text(embeds) + "\n", file=sys.stdout, flush=True)

    async def close(self) -> None:
        """Nothing to release."""


class _RateLimitCounter(logging.Handler):
    """disnake waits 429s out by itself and says so in its log; count those."""

    def emit(self, record: logging.LogRecord) -> None:
        if "rate limited" in record.getMessage():
            RATE_LIMITS.inc()


RATE_LIMIT_COUNTER = _RateLimitCounter()


class DiscordSink:
    """disnake's HTTP client, logged in with the bot token and no gateway."""

    def __init__(self, token: str, api_base: str | None) -> None:
        if api_base:
            Route.BASE = api_base.rstrip("/")
        self.token = token
        self.http = HTTPClient(loop=asyncio.get_running_loop())
        disnake_http = logging.getLogger("disnake.http")
        if RATE_LIMIT_COUNTER not in disnake_http.handlers:
            disnake_http.addHandler(RATE_LIMIT_COUNTER)

    async def login(self) -> str:
        user = await self.http.static_login(self.token)
        return str(user.get("username", "?"))

    async def send(
        self,
        channel_id: str | None,
        embeds: Sequence[disnake.Embed],
        nonce: str,
        files: Sequence[Upload] = (),
    ) -> str:
        if channel_id is None:
            raise PermanentPostError("no Discord channel is configured for this post")
        payload = {
            "embeds": [e.to_dict() for e in embeds],
            "allowed_mentions": NO_MENTIONS,  # never ping anyone, whatever the text says
            "nonce": nonce,
            "enforce_nonce": True,  # a retry after a crash returns the first message
        }
        if files:
            payload["attachments"] = attachments(files)
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
        data = await self._request(route, payload, channel_id, files)
        return str(data["id"])

    async def edit(
        self,
        channel_id: str | None,
        message_id: str,
        embeds: Sequence[disnake.Embed],
        files: Sequence[Upload] = (),
    ) -> None:
        if channel_id is None:
            raise PermanentPostError("no Discord channel is configured for this post")
        payload = {
            "embeds": [e.to_dict() for e in embeds],
            "allowed_mentions": NO_MENTIONS,
            # The files the message keeps: the new ones only, so an old image goes.
            "attachments": attachments(files),
        }
        route = Route(
            "PATCH",
            "/channels/{channel_id}/messages/{message_id}",
            channel_id=channel_id,
            message_id=message_id,
        )
        await self._request(route, payload, channel_id, files)

    async def _request(
        self,
        route: Route,
        payload: dict[str, Any],
        channel_id: str,
        files: Sequence[Upload] = (),
    ) -> dict[str, Any]:
        """One REST call, multipart with files; refusals become PermanentPostError,
        outages ConnectionError."""
        started = time.perf_counter()
        try:
            if files:
                # disnake rewinds these itself before each retry
                parts = [disnake.File(io.BytesIO(f.data), f.filename) for f in files]
                data = await self.http.request(
                    route, form=to_multipart(payload, parts), files=parts
                )
            else:
                data = await self.http.request(route, json=payload)
        except (disnake.Forbidden, disnake.NotFound) as exc:
            raise PermanentPostError(
                f"Discord refused a post in channel {channel_id}: "
                f"{exc.text or exc.status} (code {exc.code})"
            ) from None
        except disnake.HTTPException as exc:
            if 400 <= exc.status < 500 and exc.status != 429:
                raise PermanentPostError(
                    f"Discord rejected a post in channel {channel_id}: {exc.text} (code {exc.code})"
                ) from None
            raise
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ConnectionError(f"Discord is not reachable: {describe(exc)}") from None
        POST_SECONDS.observe(time.perf_counter() - started)
        return data

    async def close(self) -> None:
        await self.http.close()


def attachments(files: Sequence[Upload]) -> list[dict[str, Any]]:
    """The payload's list of the message's files: `files[n]` is attachment n."""
    return [{"id": i, "filename": f.filename} for i, f in enumerate(files)]
