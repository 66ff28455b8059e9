"""One message a command keeps editing, whether it came as a prefix or a slash command."""

from __future__ import annotations

import disnake
from disnake.ext import commands

NO_MENTIONS = disnake.AllowedMentions.none()
MAX_MESSAGE = 2000


def clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


class Reply:
    async def send(self, text: str) -> None: ...

    async def edit(self, text: str) -> None: ...


class PrefixReply(Reply):
    def __init__(self, ctx: commands.Context) -> None:
        self.ctx = ctx
        self.message: disnake.Message | None = None

    async def send(self, text: str) -> None:
        self.message = await self.ctx.send(clip(text), allowed_mentions=NO_MENTIONS)

    async def edit(self, text: str) -> None:
        if self.message is None:
            await self.send(text)
        else:
            await self.message.edit(content=clip(text), allowed_mentions=NO_MENTIONS)


class SlashReply(Reply):
    def __init__(self, inter: disnake.ApplicationCommandInteraction) -> None:
        self.inter = inter

    async def send(self, text: str) -> None:
        await self.inter.response.send_message(clip(text), allowed_mentions=NO_MENTIONS)

    async def edit(self, text: str) -> None:
        await self.inter.edit_original_response(content=clip(text), allowed_mentions=NO_MENTIONS)
