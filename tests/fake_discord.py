"""A fake Discord (REST + gateway) on 127.0.0.1 for disnake to talk to (DISCORD_API_BASE).

It is at least as strict as Discord where the project can go wrong:

- an interaction must be acknowledged within `ack_within_s` (3 s) of being
  sent, else the callback is refused (404, code 10062) and stays unanswered;
- interaction tokens live `token_lifetime_s` (15 min); webhook calls with an
  expired token answer 401 (code 50027);
- PATCH .../messages/@original edits the original response, POST
  /webhooks/{app}/{token} creates a followup, PATCH /channels/.../messages/{id}
  edits a channel message;
- messages over Discord's length limits answer 400 "Invalid Form Body" (code
  50035) with Discord's nested `errors`; empty messages answer 400 (code 50006);
- files come as Discord takes them, multipart/form-data with a `payload_json`
  part and `files[n]` parts: at most 10 a message and 10 MiB together (a server
  without boosts; over that 413, code 40005); an `attachments` entry without
  its `files[n]`, or an embed showing `attachment://name` that the message does
  not have, answers 400 (code 50035, ATTACHMENT_NOT_FOUND). An edit's
  `attachments` lists what the message keeps: an attachment left out is gone.
  Messages keep their attachments (`attachments`, with CDN-like URLs that the
  embeds' `attachment://` URLs become) and `uploads` their bytes;
- message components obey Discord's limits (5 rows, 5 buttons a row or one
  select menu, 25 options, label and custom id lengths); `click()` presses a
  button or chooses in a select menu, and the bot answers with an update of
  that message (callback 7, or 6 and then an edit of @original);
- `rate_limit()` makes the next requests to a route answer 429 with the body
  and X-RateLimit headers disnake reads; `fail()` answers 5xx.

It records every call with its JSON body and answer status, keeps channel
messages and honours `enforce_nonce` as Discord does.
Written against disnake 2.12 (pinned in constraints.txt).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

APP_ID = "900000000000000001"
GUILD_ID = "800000000000000001"
ADMIN_ROLE_ID = "800000000000000002"
TEXT_CHANNEL_ID = "700000000000000001"
HOME_OWNER_ID = "600000000000000009"
# A second server the bot was added to: its owner is no etstats admin.
OTHER_GUILD_ID = "800000000000000005"
OTHER_CHANNEL_ID = "700000000000000005"
OTHER_ADMIN_ROLE_ID = "800000000000000006"
OTHER_OWNER_ID = "600000000000000005"
DM_CHANNEL_ID = "700000000000000009"
ALL_PERMISSIONS = str((1 << 50) - 1)
BOT_USER: dict[str, Any] = {
    "id": "900000000000000001",
    "username": "etstats",
    "discriminator": "0",
    "global_name": "etstats",
    "avatar": None,
    "bot": True,
}

ACK_WITHIN_S = 3.0
TOKEN_LIFETIME_S = 15 * 60.0
MESSAGE_CONTENT_INTENT = 1 << 15
GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19  # application flag: the intent is on (unverified app)

CONTENT_MAX = 2000
FILES_MAX = 10  # attachments of one message
UPLOAD_MAX_BYTES = 10 * 1024 * 1024  # a message's files together, without server boosts
# Embed URLs that may name a file sent with the message.
ATTACHMENT_URLS = (("image", "url"), ("thumbnail", "url"), ("author", "icon_url"))
ATTACHMENT_SCHEME = "attachment://"
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
ROWS_MAX = 5  # action rows of a message
BUTTONS_MAX = 5  # per row; a select menu fills its row alone
CUSTOM_ID_MAX = 100
LABEL_MAX = 80
PLACEHOLDER_MAX = 150
OPTIONS_MAX = 25
OPTION_TEXT_MAX = 100  # an option's label, value and description
SELECT_TYPES = (3, 5, 6, 7, 8)
# (path inside an embed, limit) for the embed's text parts other than fields
EMBED_TEXT_LIMITS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("title",), 256),
    (("description",), 4096),
    (("footer", "text"), 2048),
    (("author", "name"), 256),
)

EPHEMERAL = 1 << 6
LOADING = 1 << 7  # a deferred response: "etstats is thinking…"
CALLBACK_MESSAGE = 4  # CHANNEL_MESSAGE_WITH_SOURCE
CALLBACK_DEFERRED = 5  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
CALLBACK_CHOICES = 8  # APPLICATION_COMMAND_AUTOCOMPLETE_RESULT
CALLBACK_DEFERRED_UPDATE = 6  # a component's message is edited later (@original)
CALLBACK_UPDATE = 7  # a component's message is edited now
CALLBACK_OTHER = (9,)  # modal

ErrorTree = dict[str, Any]


# --- answers -----------------------------------------------------------------


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """Exactly `application/json`, no charset, as Discord answers (disnake checks)."""
    response = web.Response(body=json.dumps(data).encode(), status=status, headers=headers)
    response.content_type = "application/json"
    response.charset = None
    return response


def _error(status: int, message: str, code: int) -> web.Response:
    return _json({"message": message, "code": code}, status=status)


def _invalid_form(errors: ErrorTree) -> web.Response:
    return _json({"message": "Invalid Form Body", "code": 50035, "errors": errors}, status=400)


def _rate_limited(retry_after: float, bucket: str) -> web.Response:
    """Discord's 429: disnake only trusts it with a `Via` header (else: Cloudflare ban)."""
    headers = {
        "Via": "1.1 google",
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{retry_after:.3f}",
        "X-RateLimit-Bucket": bucket,
        "X-RateLimit-Scope": "user",
    }
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
    return _json(body, status=429, headers=headers)


def _unknown_interaction() -> web.Response:
    return _error(404, "Unknown interaction", 10062)


def _invalid_webhook_token() -> web.Response:
    return _error(401, "Invalid Webhook Token", 50027)


def _unknown_webhook() -> web.Response:
    return _error(404, "Unknown Webhook", 10015)


def _unknown_message() -> web.Response:
    return _error(404, "Unknown Message", 10008)


# --- message validation --------------------------------------------------------


def _add_error(tree: ErrorTree, path: tuple[str, ...], code: str, message: str) -> None:
    """Discord nests errors by the path of the bad value: {"embeds": {"0": {...}}}."""
    node = tree
    for key in path:
        node = node.setdefault(key, {})
    node.setdefault("_errors", []).append({"code": code, "message": message})


def _check_length(tree: ErrorTree, path: tuple[str, ...], value: Any, limit: int) -> None:
    if isinstance(value, str | list) and len(value) > limit:
        _add_error(tree, path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _text(embed: dict[str, Any], path: tuple[str, ...]) -> str:
    value: Any = embed
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else ""


def embed_size(embed: dict[str, Any]) -> int:
    """The characters Discord counts towards the 6,000 of a message."""
    fields = embed.get("fields") or []
    parts = sum(len(_text(embed, path)) for path, _ in EMBED_TEXT_LIMITS)
    return parts + sum(len(f.get("name", "")) + len(f.get("value", "")) for f in fields)


def _embed_errors(tree: ErrorTree, index: int, embed: dict[str, Any]) -> None:
    at = ("embeds", str(index))
    for path, limit in EMBED_TEXT_LIMITS:
        _check_length(tree, (*at, *path), _text(embed, path), limit)
    fields = embed.get("fields") or []
    _check_length(tree, (*at, "fields"), fields, FIELDS_MAX)
    for i, f in enumerate(fields):
        _check_length(tree, (*at, "fields", str(i), "name"), f.get("name"), FIELD_NAME_MAX)
        _check_length(tree, (*at, "fields", str(i), "value"), f.get("value"), FIELD_VALUE_MAX)


def _component_errors(tree: ErrorTree, rows: Any) -> None:
    """Discord's limits on message components: rows, buttons, select menus."""
    _check_length(tree, ("components",), rows, ROWS_MAX)
    for i, row in enumerate(rows if isinstance(rows, list) else []):
        at = ("components", str(i), "components")
        kids = row.get("components") or []
        selects = any(c.get("type") in SELECT_TYPES for c in kids)
        _check_length(tree, at, kids, 1 if selects else BUTTONS_MAX)
        for j, c in enumerate(kids):
            here = (*at, str(j))
            _check_length(tree, (*here, "custom_id"), c.get("custom_id"), CUSTOM_ID_MAX)
            _check_length(tree, (*here, "label"), c.get("label"), LABEL_MAX)
            _check_length(tree, (*here, "placeholder"), c.get("placeholder"), PLACEHOLDER_MAX)
            options = c.get("options")
            if options is None:
                continue
            _check_length(tree, (*here, "options"), options, OPTIONS_MAX)
            for k, o in enumerate(options):
                for key in ("label", "value", "description"):
                    _check_length(
                        tree, (*here, "options", str(k), key), o.get(key), OPTION_TEXT_MAX
                    )


def message_errors(body: dict[str, Any]) -> ErrorTree:
    """What Discord would refuse in a message body (create or edit); {} when it is fine."""
    tree: ErrorTree = {}
    _component_errors(tree, body.get("components") or [])
    _check_length(tree, ("content",), body.get("content"), CONTENT_MAX)
    embeds = body.get("embeds") or []
    _check_length(tree, ("embeds",), embeds, EMBEDS_MAX)
    for i, embed in enumerate(embeds):
        _embed_errors(tree, i, embed)
    if sum(embed_size(e) for e in embeds) > EMBED_TOTAL_MAX:
        _add_error(
            tree,
            ("embeds",),
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
        )
    return tree


@dataclass(frozen=True)
class SentFile:
    """One `files[n]` part of a multipart message."""

    field: str
    filename: str
    data: bytes
    content_type: str


FILES = web.RequestKey("files", list[SentFile])  # a request's files, for its handler


def attachment_errors(
    tree: ErrorTree,
    body: dict[str, Any],
    files: list[SentFile],
    existing: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[SentFile]]:
    """The attachments a message has after `body` (kept ones, new files), and into
    `tree` what Discord would refuse about them.

    Without an `attachments` list a create has the files sent and an edit keeps
    what it had besides; with one, only what it lists (an old attachment by its
    id, a new file by the `n` of `files[n]`).
    """
    listed = body.get("attachments")
    if listed is None:
        kept, new = list(existing), list(files)
    else:
        kept, new = [], []
        by_field = {f.field: f for f in files}
        for i, entry in enumerate(listed if isinstance(listed, list) else []):
            ident = str(entry.get("id")) if isinstance(entry, dict) else ""
            old = next((a for a in existing if a["id"] == ident), None)
            sent = by_field.pop(f"files[{ident}]", None)
            if old is not None:
                kept.append(old)
            elif sent is not None:
                new.append(sent)
            else:
                _add_error(
                    tree,
                    ("attachments", str(i)),
                    "ATTACHMENT_NOT_FOUND",
                    "Attachment data not found",
                )
        new.extend(by_field.values())  # sent but not listed: Discord attaches it all the same
    if len(kept) + len(new) > FILES_MAX:
        _add_error(
            tree,
            ("attachments",),
            "BASE_TYPE_MAX_LENGTH",
            f"Must be {FILES_MAX} or fewer in length.",
        )
    names = {a["filename"] for a in kept} | {f.filename for f in new}
    for i, embed in enumerate(body.get("embeds") or []):
        for path in ATTACHMENT_URLS:
            url = _text(embed, path)
            if url.startswith(ATTACHMENT_SCHEME) and url[len(ATTACHMENT_SCHEME) :] not in names:
                _add_error(
                    tree,
                    ("embeds", str(i), *path),
                    "ATTACHMENT_NOT_FOUND",
                    "Attachment data not found",
                )
    return kept, new


def shown_embeds(embeds: Any, attachments: list[dict[str, Any]]) -> Any:
    """The embeds as Discord keeps them: `attachment://name` becomes the file's URL."""
    urls = {a["filename"]: a for a in attachments}
    shown = json.loads(json.dumps(embeds))  # a copy: the recorded payload keeps its URLs
    for embed in shown if isinstance(shown, list) else []:
        for part, key in ATTACHMENT_URLS:
            value = embed.get(part)
            url = value.get(key) if isinstance(value, dict) else None
            if isinstance(url, str) and url.startswith(ATTACHMENT_SCHEME):
                found = urls[url[len(ATTACHMENT_SCHEME) :]]  # checked before
                value[key] = found["url"]
                value["proxy_url"] = found["proxy_url"]
    return shown


def is_empty(body: dict[str, Any]) -> bool:
    """Nothing to show: Discord refuses to create such a message."""
    keys = ("content", "embeds", "attachments", "components", "sticker_ids", "poll")
    return not any(body.get(k) for k in keys)


def pings_nobody(allowed_mentions: Any) -> bool:
    """True when `allowed_mentions` stops every ping; missing means Discord's default: ping."""
    if not isinstance(allowed_mentions, dict):
        return False
    return (
        allowed_mentions.get("parse") == []
        and not allowed_mentions.get("users")
        and not allowed_mentions.get("roles")
    )


# --- records -------------------------------------------------------------------


@dataclass
class Call:
    method: str
    path: str
    json: Any
    status: int = 0  # the answer
    files: list[SentFile] = field(default_factory=list)  # a multipart request's files


@dataclass
class Fault:
    pattern: re.Pattern[str]
    status: int
    times: int
    retry_after: float = 0.0


@dataclass
class Interaction:
    """One INTERACTION_CREATE the fake sent, and what became of it."""

    id: str
    token: str
    channel: str
    sent_at: float
    acked_at: float | None = None
    refused: list[str] = field(default_factory=list)  # why callbacks were refused
    original: dict[str, Any] | None = None
    followups: list[dict[str, Any]] = field(default_factory=list)
    choices: list[dict[str, Any]] = field(default_factory=list)  # an autocomplete's answer
    message: dict[str, Any] | None = None  # a component's message, for a click

    @property
    def answered(self) -> bool:
        return self.acked_at is not None


Handler = Callable[[re.Match[str], Any, web.Request], Awaitable[web.Response]]


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
    interactions: dict[str, Interaction] = field(default_factory=dict)  # token -> interaction
    interaction_replies: list[dict[str, Any]] = field(default_factory=list)  # accepted callbacks
    # Every accepted message body (create or edit, channel or interaction), in order.
    message_payloads: list[dict[str, Any]] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)  # attachment id -> the file's bytes
    ack_within_s: float = ACK_WITHIN_S
    token_lifetime_s: float = TOKEN_LIFETIME_S
    strict_message_content: bool = True
    # The Message Content intent switched on in the developer portal: without it
    # Discord closes a gateway that asks for it (4014, "Disallowed intent(s)").
    message_content_allowed: bool = True
    # The servers the bot is in (READY, GUILD_CREATE): home and, unless removed, another.
    guild_ids: list[str] = field(default_factory=lambda: [GUILD_ID, OTHER_GUILD_ID])

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    def fail(self, path_regex: str, status: int, times: int = 1, retry_after: float = 0.0) -> None:
        """The next `times` requests matching "METHOD /path" answer `status`."""
        self.faults.append(Fault(re.compile(path_regex), status, times, retry_after))

    def rate_limit(self, path_regex: str, times: int = 1, retry_after: float = 0.5) -> None:
        """The next `times` requests matching "METHOD /path" answer 429 for `retry_after` s."""
        self.fail(path_regex, 429, times, retry_after)

    def posts(self, channel: str) -> list[dict[str, Any]]:
        return self.messages.get(channel, [])

    def replies(self) -> list[dict[str, Any]]:
        return self.posts(TEXT_CHANNEL_ID)

    def attachment(self, message: dict[str, Any], filename: str) -> bytes:
        """The bytes of the file `message` has under `filename`."""
        (found,) = [a for a in message["attachments"] if a["filename"] == filename]
        return self.uploads[found["id"]]

    def refusals(self) -> list[Call]:
        """Calls answered 4xx: what real Discord would have refused too."""
        return [c for c in self.calls if 400 <= c.status < 500 and c.status != 429]

    # --- server ----------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        # Room past Discord's upload limit, so that the fake answers it as Discord does.
        app = web.Application(client_max_size=4 * UPLOAD_MAX_BYTES)
        app.router.add_get("/ws", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]  # the one site: (host, ephemeral port)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _routes(self) -> list[tuple[str, str, Handler]]:
        """(method, path regex, handler); "*" matches any method."""
        return [
            ("GET", r"/users/@me", self._me),
            ("GET", r"/oauth2/applications/@me", self._application),
            ("GET", r"/gateway(?:/bot)?", self._gateway_url),
            ("*", r"/applications/\d+(?:/guilds/(\d+))?/commands", self._commands),
            ("GET", r"/applications/\d+/guilds/\d+/commands/permissions", self._no_permissions),
            ("POST", r"/interactions/(\d+)/([^/]+)/callback", self._callback),
            ("POST", r"/webhooks/(\d+)/([^/]+)", self._followup),
            ("*", r"/webhooks/(\d+)/([^/]+)/messages/(@original|\d+)", self._webhook_message),
            ("POST", r"/channels/(\d+)/messages", self._post_message),
            ("PATCH", r"/channels/(\d+)/messages/(\d+)", self._patch_message),
        ]

    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body, files = await _read_body(request)
        call = Call(request.method, path, body, files=files)
        request[FILES] = files
        self.calls.append(call)
        response = self._fault(f"{request.method} {path}") or await self._route(
            request, path, call.json
        )
        call.status = response.status
        return response

    async def _route(self, request: web.Request, path: str, body: Any) -> web.Response:
        for method, pattern, handler in self._routes():
            if (match := re.fullmatch(pattern, path)) and method in ("*", request.method):
                return await handler(match, body, request)
        return _error(404, "404: Not Found", 0)

    def _fault(self, route: str) -> web.Response | None:
        for fault in self.faults:
            if fault.times > 0 and fault.pattern.search(route):
                fault.times -= 1
                if fault.status == 429:
                    return _rate_limited(fault.retry_after, fault.pattern.pattern)
                return _error(fault.status, "Internal Server Error", 0)
        return None

    # --- login and commands ----------------------------------------------------

    async def _me(self, match: re.Match[str], body: Any, request: web.Request) -> web.Response:
        return _json(BOT_USER)

    async def _application(
        self, match: re.Match[str], body: Any, request: web.Request
    ) -> web.Response:
        return _json(
            {
                "id": APP_ID,
                "name": "etstats",
                "icon": None,
                "description": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "",
                "owner": {**BOT_USER, "id": HOME_OWNER_ID, "bot": False},
                "flags": GATEWAY_MESSAGE_CONTENT_LIMITED if self.message_content_allowed else 0,
                "team": None,
                "summary": "",
            }
        )

    async def _gateway_url(
        self, match: re.Match[str], body: Any, request: web.Request
    ) -> web.Response:
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

    async def _commands(
        self, match: re.Match[str], body: Any, request: web.Request
    ) -> web.Response:
        guild_id = match[1]
        key = guild_id or "global"
        if request.method == "PUT":
            self.app_commands[key] = [
                {
                    **c,
                    "id": str(next(self._ids)),
                    "application_id": APP_ID,
                    "version": "1",
                    **({"guild_id": guild_id} if guild_id else {}),
                }
                for c in body or []
            ]
        return _json(self.app_commands.get(key, []))

    async def _no_permissions(
        self, match: re.Match[str], body: Any, request: web.Request
    ) -> web.Response:
        return _json([])

    # --- interactions ----------------------------------------------------------

    def _late(self, interaction: Interaction) -> bool:
        return time.monotonic() - interaction.sent_at > self.ack_within_s

    def _expired(self, interaction: Interaction) -> bool:
        return time.monotonic() - interaction.sent_at > self.token_lifetime_s

    async def _callback(
        self, match: re.Match[str], body: Any, request: web.Request
    ) -> web.Response:
        """The one acknowledgement: in time, once, with a valid message if it has one."""
        interaction = self.interactions.get(match[2])
        if interaction is None or interaction.id != match[1]:
            return _unknown_interaction()
        if interaction.answered:
            return _error(400, "Interaction has already been acknowledged.", 40060)
        if self._late(interaction):
            interaction.refused.append(f"acknowledged after {self.ack_within_s:.1f}s")
            return _unknown_interaction()
        kind, data = (body or {}).get("type"), (body or {}).get("data") or {}
        if kind == CALLBACK_MESSAGE:
            files = request[FILES]
            if refused := self._refuse_message(data, creating=True, files=files):
                interaction.refused.append(f"invalid message: {refused.status}")
                return refused
            interaction.original = self._store(interaction.channel, data, webhook=True, files=files)
        elif kind == CALLBACK_DEFERRED:
            flags = LOADING | (data.get("flags", 0) & EPHEMERAL)
            interaction.original = self._store(
                interaction.channel, {"flags": flags}, webhook=True, record=False
            )
        elif kind == CALLBACK_CHOICES:
            interaction.choices = data.get("choices") or []
        elif kind in (CALLBACK_DEFERRED_UPDATE, CALLBACK_UPDATE) and interaction.message:
            if kind == CALLBACK_UPDATE and (refused := self._refuse_message(data, creating=False)):
                interaction.refused.append(f"invalid message: {refused.status}")
                return refused
            interaction.original = interaction.message  # @original: the component's message
            if kind == CALLBACK_UPDATE:
                self._edit(interaction.message, data)
        elif kind not in CALLBACK_OTHER:
            errors: ErrorTree = {}
            _add_error(errors, ("type",), "BASE_TYPE_CHOICES", "Value must be one of {4, 5}.")
            return _invalid_form(errors)
        interaction.acked_at = time.monotonic()
        self.interaction_replies.append(body)
        return web.Response(status=204)

    def _webhook_interaction(self, app_id: str, token: str) -> Interaction | web.Response:
        """The interaction behind an interaction webhook, or Discord's refusal."""
        if app_id != APP_ID:
            return _unknown_webhook()
        interaction = self.interactions.get(token)
        if interaction is None or self._expired(interaction):
            return _invalid_webhook_token()
        if not interaction.answered:
            return _unknown_webhook()  # no response to follow up or edit yet
        return interaction

    async def _followup(
        self, match: re.Match[str], body: Any, request: web.Request
    ) -> web.Response:
        """POST /webhooks/{app}/{token}: a new followup message."""
        interaction = self._webhook_interaction(match[1], match[2])
        if isinstance(interaction, web.Response):
            return interaction
        files = request[FILES]
        if refused := self._refuse_message(body or {}, creating=True, files=files):
            return refused
        message = self._store(interaction.channel, body or {}, webhook=True, files=files)
        interaction.followups.append(message)
        wait = request.query.get("wait", "").lower() in ("1", "true")
        return _json(message) if wait else web.Response(status=204)

    async def _webhook_message(
        self, match: re.Match[str], body: Any, request: web.Request
    ) -> web.Response:
        """GET / PATCH / DELETE the original response (@original) or one followup."""
        interaction = self._webhook_interaction(match[1], match[2])
        if isinstance(interaction, web.Response):
            return interaction
        message = self._interaction_message(interaction, match[3])
        if message is None:
            return _unknown_message()
        if request.method == "GET":
            return _json(message)
        if request.method == "PATCH":
            return self._edit(message, body or {}, request[FILES])
        if request.method == "DELETE":
            self._delete(interaction, message)
            return web.Response(status=204)
        return _error(405, "405: Method Not Allowed", 0)

    def _delete(self, interaction: Interaction, message: dict[str, Any]) -> None:
        self.messages[message["channel_id"]].remove(message)
        if message is interaction.original:
            interaction.original = None
        else:
            interaction.followups.remove(message)

    def _interaction_message(self, interaction: Interaction, which: str) -> dict[str, Any] | None:
        if which == "@original":
            return interaction.original
        return next((m for m in interaction.followups if m["id"] == which), None)

    # --- channel messages ------------------------------------------------------

    async def _post_message(
        self, match: re.Match[str], body: Any, request: web.Request
    ) -> web.Response:
        channel, body, files = match[1], body or {}, request[FILES]
        refused = self._refuse_message(body, creating=True, files=files)
        if refused := refused or self._refuse_channel(channel):
            return refused
        if (first := self._nonce_match(channel, body)) is not None:
            return _json(first)  # Discord returns the first message
        created = self._store(channel, body, files=files)
        if self.hold_answers is not None:
            await self.hold_answers.wait()
        return _json(created)

    async def _patch_message(
        self, match: re.Match[str], body: Any, request: web.Request
    ) -> web.Response:
        channel, message_id = match[1], match[2]
        if refused := self._refuse_channel(channel):
            return refused
        message = next((m for m in self.posts(channel) if m["id"] == message_id), None)
        if message is None or message["flags"] & EPHEMERAL:
            return _unknown_message()
        return self._edit(message, body or {}, request[FILES])

    def _refuse_channel(self, channel: str) -> web.Response | None:
        if channel in self.forbidden_channels:
            return _error(403, "Missing Access", 50001)
        if self.known_channels is not None and channel not in self.known_channels:
            return _error(404, "Unknown Channel", 10003)
        return None

    def _refuse_message(
        self,
        body: dict[str, Any],
        *,
        creating: bool,
        files: list[SentFile] | None = None,
        existing: list[dict[str, Any]] | None = None,
    ) -> web.Response | None:
        files = files or []
        if sum(len(f.data) for f in files) > UPLOAD_MAX_BYTES:
            return _error(413, "Request entity too large", 40005)
        errors = message_errors(body)
        attachment_errors(errors, body, files, existing or [])
        if errors:
            return _invalid_form(errors)
        if creating and is_empty(body) and not files:
            return _error(400, "Cannot send an empty message", 50006)
        return None

    def _attach(
        self, channel: str, body: dict[str, Any], files: list[SentFile], existing: list[Any]
    ) -> list[dict[str, Any]]:
        """The attachments of a message after an accepted body; new files get ids."""
        kept, new = attachment_errors({}, body, files, existing)
        added = []
        for sent in new:
            ident = str(next(self._ids))
            self.uploads[ident] = sent.data
            url = f"https://cdn.discordapp.com/attachments/{channel}/{ident}/{sent.filename}"
            added.append(
                {
                    "id": ident,
                    "filename": sent.filename,
                    "size": len(sent.data),
                    "url": url,
                    "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
                    "content_type": sent.content_type,
                }
            )
        return kept + added

    def _nonce_match(self, channel: str, body: dict[str, Any]) -> dict[str, Any] | None:
        nonce = body.get("nonce")
        if not body.get("enforce_nonce") or nonce is None:
            return None
        return next((m for m in self.posts(channel) if m.get("nonce") == nonce), None)

    def _store(
        self,
        channel: str,
        body: dict[str, Any],
        *,
        webhook: bool = False,
        record: bool = True,
        files: list[SentFile] | None = None,
    ) -> dict[str, Any]:
        """Create a message in `channel` from an accepted body."""
        attachments = self._attach(channel, body, files or [], [])
        message = {
            "id": str(next(self._ids)),
            "channel_id": channel,
            "type": 0,
            "content": body.get("content", ""),
            "embeds": shown_embeds(body.get("embeds", []), attachments),
            "components": body.get("components", []),
            "nonce": body.get("nonce"),
            "flags": body.get("flags") or 0,
            "allowed_mentions": body.get("allowed_mentions"),
            "author": BOT_USER,
            "attachments": attachments,
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": "2026-11-24T00:00:00+00:00",
            "edited_timestamp": None,
            **({"webhook_id": APP_ID} if webhook else {}),
        }
        if record:
            self.message_payloads.append(body)
        self.messages.setdefault(channel, []).append(message)
        return message

    def _edit(
        self, message: dict[str, Any], body: dict[str, Any], files: list[SentFile] | None = None
    ) -> web.Response:
        """Change the message in place: an edit never creates a message."""
        files = files or []
        existing = message.get("attachments", [])
        if refused := self._refuse_message(body, creating=False, files=files, existing=existing):
            return refused
        kept = ("content", "embeds", "components", "allowed_mentions")
        message.update({k: body[k] for k in kept if k in body})
        message["attachments"] = self._attach(message.get("channel_id", ""), body, files, existing)
        message["embeds"] = shown_embeds(message["embeds"], message["attachments"])
        message["flags"] &= ~LOADING
        message["edited_timestamp"] = "2026-11-24T00:00:01+00:00"
        self.message_payloads.append(body)
        return _json(message)

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
                intents = payload["d"].get("intents") or 0
                if intents & MESSAGE_CONTENT_INTENT and not self.message_content_allowed:
                    await ws.close(code=4014, message=b"Disallowed intent(s).")
                    break
                self.ready_intents = intents
                await gateway.dispatch(
                    "READY",
                    {
                        "v": 10,
                        "user": BOT_USER,
                        "session_id": "session-1",
                        "resume_gateway_url": f"ws://127.0.0.1:{self.port}/ws",
                        "guilds": [{"id": g, "unavailable": True} for g in self.guild_ids],
                        "application": {"id": APP_ID, "flags": 0},
                        "shard": [0, 1],
                    },
                )
                for guild_id in self.guild_ids:
                    await gateway.dispatch("GUILD_CREATE", guild(guild_id))
                self.identified.set()
            elif op == 6:
                await gateway.dispatch("RESUMED", {})
        self.gateways.remove(gateway)
        return ws

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        blank = self.strict_message_content and not (self.ready_intents or 0) & (
            MESSAGE_CONTENT_INTENT
        )
        if event == "MESSAGE_CREATE" and blank:
            # Without the privileged message-content intent Discord blanks the content.
            data = {**data, "content": ""}
        for gateway in list(self.gateways):
            await gateway.dispatch(event, data)

    async def message(
        self,
        content: str,
        *,
        user_id: str = "600000000000000001",
        admin: bool = False,
        guild: str | None = GUILD_ID,
    ) -> None:
        """A member types `content` in the text channel of `guild` (None: a DM)."""
        data: dict[str, Any] = {
            "id": str(next(self._ids)),
            "channel_id": channel_of(guild),
            "author": user(user_id),
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
        }
        if guild is not None:
            data |= {
                "guild_id": guild,
                "member": member(user_id, admin, with_user=False, guild=guild),
            }
        await self.dispatch("MESSAGE_CREATE", data)

    async def slash(
        self,
        name: str,
        options: list[dict[str, Any]],
        *,
        user_id: str = "600000000000000001",
        admin: bool = False,
        guild: str | None = GUILD_ID,
        kind: int = 2,
        members: tuple[str, ...] = (),
    ) -> str:
        """A member runs a slash command in `guild` (None: a DM); returns the
        interaction token. `kind` 4 is an autocomplete (mark the focused option).
        `members`: the users that user options name (Discord resolves them).

        The acknowledgement clock starts now: see `interactions[token]`.
        """
        command = next(c for cs in self.app_commands.values() for c in cs if c["name"] == name)
        data: dict[str, Any] = {"id": command["id"], "name": name, "type": 1, "options": options}
        if members:
            data["resolved"] = {"users": {m: user(m) for m in members}}
        return await self._interact(kind, data, user_id, admin, guild)

    async def click(
        self,
        message: dict[str, Any],
        custom_id: str,
        values: list[str] | None = None,
        *,
        user_id: str = "600000000000000001",
        admin: bool = False,
        guild: str | None = GUILD_ID,
    ) -> str:
        """A member clicks a button (or, with `values`, chooses in a select menu) of
        `message`; returns the interaction token."""
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": 2}
        if values is not None:
            data |= {"component_type": 3, "values": values}
        return await self._interact(3, data, user_id, admin, guild, message)

    async def _interact(
        self,
        kind: int,
        command: dict[str, Any],
        user_id: str,
        admin: bool,
        guild: str | None,
        message: dict[str, Any] | None = None,
    ) -> str:
        channel = channel_of(guild)
        interaction = Interaction(
            id=str(next(self._ids)),
            token=f"token{next(self._ids)}",
            channel=channel,
            sent_at=time.monotonic(),
            message=message,
        )
        self.interactions[interaction.token] = interaction
        data: dict[str, Any] = {
            "id": interaction.id,
            "application_id": APP_ID,
            "type": kind,
            "token": interaction.token,
            "version": 1,
            "channel_id": channel,
            "data": command,
            "locale": "en-US",
            "app_permissions": "1024",
            "entitlements": [],
            "authorizing_integration_owners": {},
            "attachment_size_limit": 10485760,
        }
        if message is not None:
            data["message"] = message
        if guild is None:
            data |= {
                "user": user(user_id),
                "channel": {"id": channel, "type": 1, "recipients": [user(user_id)]},
                "context": 1,
            }
        else:
            owner = user_id == owner_of(guild)
            permissions = ALL_PERMISSIONS if owner else "1056" if admin else "1024"
            data |= {
                "guild_id": guild,
                "guild_locale": "en-US",
                "channel": {
                    "id": channel,
                    "type": 0,
                    "guild_id": guild,
                    "name": "stats",
                    "position": 0,
                    "permission_overwrites": [],
                },
                "member": member(user_id, admin, guild=guild) | {"permissions": permissions},
                "context": 0,
            }
        await self.dispatch("INTERACTION_CREATE", data)
        return interaction.token

    async def autocomplete(self, name: str, options: list[dict[str, Any]], **who: Any) -> list[str]:
        """What the bot suggests for the focused option, [] if it did not answer in time."""
        token = await self.slash(name, options, kind=4, **who)
        interaction = self.interactions[token]
        deadline = interaction.sent_at + self.ack_within_s + 0.5
        while not interaction.answered and not interaction.refused:
            if time.monotonic() > deadline:
                return []
            await asyncio.sleep(0.02)
        if not interaction.answered:
            return []
        return [c["value"] for c in interaction.choices]


async def _read_body(request: web.Request) -> tuple[Any, list[SentFile]]:
    """The JSON body and the files; for multipart, the JSON is its `payload_json` part."""
    if not request.can_read_body:
        return None, []
    if not request.content_type.startswith("multipart/"):
        return await request.json(), []
    form = await request.post()
    payload = form.get("payload_json")
    files = [
        SentFile(name, part.filename, part.file.read(), part.content_type)
        for name, part in form.items()
        if isinstance(part, web.FileField) and re.fullmatch(r"files\[\d+\]", name)
    ]
    if isinstance(payload, bytes | bytearray):  # a part sent as application/json
        payload = payload.decode()
    return (json.loads(payload) if isinstance(payload, str) else None), files


def user(user_id: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": f"user{user_id[-3:]}",
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
    }


def channel_of(guild: str | None) -> str:
    """The text channel of a guild; None: the DM channel."""
    return {GUILD_ID: TEXT_CHANNEL_ID, OTHER_GUILD_ID: OTHER_CHANNEL_ID, None: DM_CHANNEL_ID}[guild]


def owner_of(guild: str) -> str:
    return HOME_OWNER_ID if guild == GUILD_ID else OTHER_OWNER_ID


def admin_role(guild: str) -> str:
    return ADMIN_ROLE_ID if guild == GUILD_ID else OTHER_ADMIN_ROLE_ID


def member(
    user_id: str, admin: bool, with_user: bool = True, guild: str = GUILD_ID
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "roles": [admin_role(guild)] if admin else [],
        "joined_at": "2026-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
    }
    if with_user:
        data["user"] = user(user_id)
    return data


def guild(guild_id: str = GUILD_ID) -> dict[str, Any]:
    """The home guild or the other one, each with an admin role (Manage Server)."""
    channel = channel_of(guild_id)
    return {
        "id": guild_id,
        "name": "ET community" if guild_id == GUILD_ID else "Some other server",
        "icon": None,
        "owner_id": owner_of(guild_id),
        "roles": [
            {
                "id": guild_id,
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
                "id": admin_role(guild_id),
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
                "id": channel,
                "type": 0,
                "name": "stats",
                "position": 0,
                "permission_overwrites": [],
                "guild_id": guild_id,
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
