"""A fake Discord REST API on 127.0.0.1 for disnake to talk to (DISCORD_API_BASE).

It records every call with its JSON body, keeps channel messages, honours
`enforce_nonce` as Discord does, and can answer a route with 429 or 500.
Written against disnake 2.12 (pinned in constraints.txt).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {
    "id": "900000000000000001",
    "username": "etstats",
    "discriminator": "0",
    "global_name": "etstats",
    "avatar": None,
    "bot": True,
}


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Exactly `application/json`, no charset, as Discord answers (disnake checks)."""
    response = web.Response(body=json.dumps(data).encode(), status=status, headers=headers)
    response.content_type = "application/json"
    response.charset = None
    return response


@dataclass
class Call:
    method: str
    path: str
    json: Any


@dataclass
class Fault:
    pattern: re.Pattern[str]
    status: int
    times: int
    retry_after: float = 0.0


@dataclass
class FakeDiscord:
    calls: list[Call] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel -> messages
    known_channels: set[str] | None = None  # None: every channel exists
    forbidden_channels: set[str] = field(default_factory=set)
    faults: list[Fault] = field(default_factory=list)
    # When set, a created message is stored but the answer waits for it: the
    # poster can be killed between Discord creating a message and hearing so.
    hold_answers: asyncio.Event | None = None
    _ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(1_000_000_000_000_000_000)
    )
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    def fail(self, path_regex: str, status: int, times: int = 1, retry_after: float = 0.0) -> None:
        self.faults.append(Fault(re.compile(path_regex), status, times, retry_after))

    def posts(self, channel: str) -> list[dict[str, Any]]:
        return self.messages.get(channel, [])

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_route("*", "/api/v10/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body = await request.json() if request.can_read_body else None
        self.calls.append(Call(request.method, path, body))
        for fault in self.faults:
            if fault.times > 0 and fault.pattern.search(f"{request.method} {path}"):
                fault.times -= 1
                if fault.status == 429:
                    return _json(
                        {
                            "message": "You are being rate limited.",
                            "retry_after": fault.retry_after,
                            "global": False,
                        },
                        status=429,
                        headers={"Via": "1.1 google"},
                    )
                return _json({"message": "Internal Server Error", "code": 0}, status=fault.status)
        if request.method == "GET" and path == "/users/@me":
            return _json(BOT_USER)
        match = re.fullmatch(r"/channels/(\d+)/messages(?:/(\d+))?", path)
        if match and request.method == "POST" and match[2] is None:
            created = self._create(match[1], body or {})
            if isinstance(created, web.Response):
                return created
            if self.hold_answers is not None:
                await self.hold_answers.wait()
            return _json(created)
        if match and request.method == "PATCH" and match[2] is not None:
            return self._edit(match[1], match[2], body or {})
        return _json({"message": "404: Not Found", "code": 0}, status=404)

    def _create(self, channel: str, body: dict[str, Any]) -> web.Response | dict[str, Any]:
        if channel in self.forbidden_channels:
            return _json({"message": "Missing Access", "code": 50001}, status=403)
        if self.known_channels is not None and channel not in self.known_channels:
            return _json({"message": "Unknown Channel", "code": 10003}, status=404)
        existing = self.messages.setdefault(channel, [])
        nonce = body.get("nonce")
        if body.get("enforce_nonce") and nonce is not None:
            for message in existing:
                if message.get("nonce") == nonce:
                    return _json(message)  # Discord returns the first message
        message = {
            "id": str(next(self._ids)),
            "channel_id": channel,
            "type": 0,
            "content": body.get("content", ""),
            "embeds": body.get("embeds", []),
            "nonce": nonce,
            "allowed_mentions": body.get("allowed_mentions"),
            "author": BOT_USER,
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": "2026-11-24T00:00:00+00:00",
            "edited_timestamp": None,
        }
        existing.append(message)
        return message

    def _edit(self, channel: str, message_id: str, body: dict[str, Any]) -> web.Response:
        for message in self.messages.get(channel, []):
            if message["id"] == message_id:
                message.update({k: v for k, v in body.items() if k in ("content", "embeds")})
                message["edited_timestamp"] = "2026-11-24T00:00:01+00:00"
                return _json(message)
        return _json({"message": "Unknown Message", "code": 10008}, status=404)
