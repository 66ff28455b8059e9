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
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

APP_ID = "900000000000000001"
GUILD_ID = "800000000000000001"
ADMIN_ROLE_ID = "800000000000000002"
TEXT_CHANNEL_ID = "700000000000000001"
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
    gateways: list[Gateway] = field(default_factory=list)
    identified: asyncio.Event = field(default_factory=asyncio.Event)
    ready_intents: int | None = None
    app_commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    interaction_replies: list[dict[str, Any]] = field(default_factory=list)
    strict_message_content: bool = True

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    def fail(self, path_regex: str, status: int, times: int = 1, retry_after: float = 0.0) -> None:
        self.faults.append(Fault(re.compile(path_regex), status, times, retry_after))

    def posts(self, channel: str) -> list[dict[str, Any]]:
        return self.messages.get(channel, [])

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/ws", self._gateway)
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
        if request.method == "GET" and path == "/oauth2/applications/@me":
            return _json(
                {
                    "id": APP_ID,
                    "name": "etstats",
                    "icon": None,
                    "description": "",
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "verify_key": "",
                    "owner": {**BOT_USER, "id": "600000000000000009", "bot": False},
                    "flags": 0,
                    "team": None,
                    "summary": "",
                }
            )
        if request.method == "GET" and path in ("/gateway", "/gateway/bot"):
            return _json(
                {
                    "url": f"ws://127.0.0.1:{self.port}/ws",
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 1000,
                        "reset_after": 0,
                        "max_concurrency": 1,
                    },
                }
            )
        if cmds := re.fullmatch(r"/applications/\d+(?:/guilds/(\d+))?/commands", path):
            key = cmds[1] or "global"
            if request.method == "PUT":
                self.app_commands[key] = [
                    {
                        **c,
                        "id": str(next(self._ids)),
                        "application_id": APP_ID,
                        "version": "1",
                        **({"guild_id": cmds[1]} if cmds[1] else {}),
                    }
                    for c in body or []
                ]
            return _json(self.app_commands.get(key, []))
        if re.fullmatch(r"/applications/\d+/guilds/\d+/commands/permissions", path):
            return _json([])
        if re.fullmatch(r"/interactions/\d+/[^/]+/callback", path):
            self.interaction_replies.append(body or {})
            return web.Response(status=204)
        if hook := re.fullmatch(r"/webhooks/\d+/([^/]+)(?:/messages/(@original|\d+))?", path):
            message = self._create(TEXT_CHANNEL_ID, (body or {}) | {"webhook": hook[1]})
            self.interaction_replies.append(body or {})
            return message if isinstance(message, web.Response) else _json(message)
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

    # --- gateway -----------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        gateway = Gateway(ws, request.query.get("compress") == "zlib-stream")
        self.gateways.append(gateway)
        await gateway.send({"op": 10, "d": {"heartbeat_interval": 41250}})
        async for msg in ws:
            payload = json.loads(msg.data)
            op = payload.get("op")
            if op == 1:
                await gateway.send({"op": 11})
            elif op == 2:
                self.ready_intents = payload["d"].get("intents")
                await gateway.dispatch(
                    "READY",
                    {
                        "v": 10,
                        "user": BOT_USER,
                        "session_id": "session-1",
                        "resume_gateway_url": f"ws://127.0.0.1:{self.port}/ws",
                        "guilds": [{"id": GUILD_ID, "unavailable": True}],
                        "application": {"id": APP_ID, "flags": 0},
                        "shard": [0, 1],
                    },
                )
                await gateway.dispatch("GUILD_CREATE", guild())
                self.identified.set()
            elif op == 6:
                await gateway.dispatch("RESUMED", {})
        self.gateways.remove(gateway)
        return ws

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        blank = self.strict_message_content and not (self.ready_intents or 0) & (1 << 15)
        if event == "MESSAGE_CREATE" and blank:
            # Without the privileged message-content intent Discord blanks the content.
            data = {**data, "content": ""}
        for gateway in list(self.gateways):
            await gateway.dispatch(event, data)

    async def message(
        self, content: str, *, user_id: str = "600000000000000001", admin: bool = False
    ) -> None:
        """A member types `content` in the text channel."""
        author = {
            "id": user_id,
            "username": f"user{user_id[-3:]}",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
        }
        await self.dispatch(
            "MESSAGE_CREATE",
            {
                "id": str(next(self._ids)),
                "channel_id": TEXT_CHANNEL_ID,
                "guild_id": GUILD_ID,
                "author": author,
                "member": member(user_id, admin, with_user=False),
                "content": content,
                "timestamp": "2026-11-24T00:00:00+00:00",
                "edited_timestamp": None,
                "tts": False,
                "mention_everyone": False,
                "mentions": [],
                "mention_roles": [],
                "attachments": [],
                "embeds": [],
                "pinned": False,
                "type": 0,
            },
        )

    async def slash(
        self,
        name: str,
        options: list[dict[str, Any]],
        *,
        user_id: str = "600000000000000001",
        admin: bool = False,
    ) -> str:
        """A member runs a slash command; returns the interaction token."""
        command = next(c for cs in self.app_commands.values() for c in cs if c["name"] == name)
        token = f"token{next(self._ids)}"
        await self.dispatch(
            "INTERACTION_CREATE",
            {
                "id": str(next(self._ids)),
                "application_id": APP_ID,
                "type": 2,
                "token": token,
                "version": 1,
                "guild_id": GUILD_ID,
                "channel_id": TEXT_CHANNEL_ID,
                "channel": {
                    "id": TEXT_CHANNEL_ID,
                    "type": 0,
                    "guild_id": GUILD_ID,
                    "name": "stats",
                    "position": 0,
                    "permission_overwrites": [],
                },
                "member": member(user_id, admin) | {"permissions": "1024"},
                "data": {"id": command["id"], "name": name, "type": 1, "options": options},
                "locale": "en-US",
                "guild_locale": "en-US",
                "app_permissions": "1024",
                "entitlements": [],
                "authorizing_integration_owners": {},
                "context": 0,
                "attachment_size_limit": 10485760,
            },
        )
        return token

    def replies(self) -> list[dict[str, Any]]:
        return self.posts(TEXT_CHANNEL_ID)


def member(user_id: str, admin: bool, with_user: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "roles": [ADMIN_ROLE_ID] if admin else [],
        "joined_at": "2026-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
    }
    if with_user:
        data["user"] = {
            "id": user_id,
            "username": f"user{user_id[-3:]}",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
        }
    return data


def guild() -> dict[str, Any]:
    return {
        "id": GUILD_ID,
        "name": "ET community",
        "icon": None,
        "owner_id": "600000000000000009",
        "roles": [
            {
                "id": GUILD_ID,
                "name": "@everyone",
                "permissions": "1024",
                "position": 0,
                "color": 0,
                "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
                "flags": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
            },
            {
                "id": ADMIN_ROLE_ID,
                "name": "admins",
                "permissions": "32",
                "position": 1,
                "color": 0,
                "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
                "flags": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
            },
        ],
        "channels": [
            {
                "id": TEXT_CHANNEL_ID,
                "type": 0,
                "name": "stats",
                "position": 0,
                "permission_overwrites": [],
                "guild_id": GUILD_ID,
            }
        ],
        "members": [member(BOT_USER["id"], False) | {"user": BOT_USER}],
        "member_count": 3,
        "features": [],
        "emojis": [],
        "stickers": [],
        "voice_states": [],
        "presences": [],
        "threads": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "large": False,
        "unavailable": False,
        "joined_at": "2026-01-01T00:00:00+00:00",
        "premium_tier": 0,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "preferred_locale": "en-US",
        "system_channel_flags": 0,
        "afk_timeout": 300,
    }


class Gateway:
    """One websocket client; zlib-stream compressed when the client asks for it."""

    def __init__(self, ws: web.WebSocketResponse, compressed: bool) -> None:
        self.ws = ws
        self.deflate = zlib.compressobj() if compressed else None
        self.seq = 0

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        if self.deflate is None:
            await self.ws.send_str(text)
        else:
            data = self.deflate.compress(text.encode()) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
            await self.ws.send_bytes(data)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        self.seq += 1
        await self.send({"op": 0, "t": event, "s": self.seq, "d": data})
