"""One message a command keeps editing, whether it came as a prefix or a slash command.

Mentions follow the bot client's default (none), which disnake applies to every
send and edit but a PartialMessage's."""

from __future__ import annotations

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction  # mypy misses disnake.<name>

MAX_MESSAGE = 2000
INVALID_WEBHOOK_TOKEN = 50027


def clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def code_blocks(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """`text` as code blocks of whole lines, each one message: long reports are
    split, never cut (a line longer than a message is, with "…")."""
    room = limit - len("```\n\n```")
    blocks: list[list[str]] = [[]]
    size = 0
    for line in text.split("\n"):
        line = line if len(line) <= room else line[: room - 1] + "…"
        if blocks[-1] and size + len(line) + 1 > room:
            blocks.append([])
            size = 0
        blocks[-1].append(line)
        size += len(line) + 1
    return ["```\n" + "\n".join(lines) + "\n```" for lines in blocks]


class Reply:
    async def send(self, text: str) -> None: ...

    async def edit(self, text: str) -> None: ...

    def where(self) -> tuple[int, int] | None:
        """The channel and id of the message once sent: a restarted bot edits it."""
        return None


class MessageReply(Reply):
    """A message the bot sent before it restarted: edited with the bot's token."""

    def __init__(self, client: disnake.Client, channel_id: int, message_id: int) -> None:
        self.client = client
        channel = client.get_partial_messageable(channel_id, type=disnake.ChannelType.text)
        self.message = channel.get_partial_message(message_id)

    async def send(self, text: str) -> None:
        await self.edit(text)

    async def edit(self, text: str) -> None:
        # A PartialMessage edit does not apply the client's default: pass it on.
        await self.message.edit(content=clip(text), allowed_mentions=self.client.allowed_mentions)

    def where(self) -> tuple[int, int]:
        return self.message.channel.id, self.message.id


class PrefixReply(Reply):
    def __init__(self, ctx: commands.Context) -> None:
        self.ctx = ctx
        self.message: disnake.Message | None = None

    async def send(self, text: str) -> None:
        self.message = await self.ctx.send(clip(text))

    async def edit(self, text: str) -> None:
        if self.message is None:
            await self.send(text)
        else:
            await self.message.edit(content=clip(text))

    def where(self) -> tuple[int, int] | None:
        return (self.message.channel.id, self.message.id) if self.message else None


class SlashReply(Reply):
    """The interaction's response. Its token lasts 15 minutes: a longer job (a big
    /sync) edits the same message afterwards with the bot's token, as a channel message."""

    def __init__(self, inter: ApplicationCommandInteraction) -> None:
        self.inter = inter
        self.message: disnake.PartialMessage | None = None
        self.token_expired = False

    async def send(self, text: str) -> None:
        await self.inter.response.send_message(clip(text))
        original = await self.inter.original_response()  # its id outlives the token
        self.message = original.channel.get_partial_message(original.id)

    async def edit(self, text: str) -> None:
        if not self.token_expired:
            try:
                await self.inter.edit_original_response(content=clip(text))
                return
            except disnake.HTTPException as exc:
                if not _is_expired_token(exc) or self.message is None:
                    raise
                self.token_expired = True
        assert self.message is not None  # set by send(), checked before token_expired
        # A PartialMessage edit does not apply the client's default: pass it on.
        await self.message.edit(
            content=clip(text), allowed_mentions=self.inter.client.allowed_mentions
        )

    def where(self) -> tuple[int, int] | None:
        return (self.message.channel.id, self.message.id) if self.message else None


def _is_expired_token(exc: disnake.HTTPException) -> bool:
    """Discord's answer to a webhook call with an interaction token over 15 minutes old."""
    return exc.status == 401 and exc.code == INVALID_WEBHOOK_TOKEN
