"""What a read command answers, sent the same way for a prefix or a slash command."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field

import disnake
from disnake.ext import commands
from disnake.interactions import MessageInteraction  # mypy misses disnake.<name>
from disnake.utils import MISSING

from services.bot.context import Invocation

MENTION = re.compile(r"<@!?(\d+)>")


@dataclass
class Answer:
    content: str | None = None
    embeds: list[disnake.Embed] = field(default_factory=list)
    view: HeldView | None = None


class HeldView(disnake.ui.View):
    """Controls on one message, for whoever asked only; they go when it times out."""

    def __init__(self, author_id: int, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.author_id = author_id
        self.message: disnake.Message | None = None

    async def interaction_check(self, inter: MessageInteraction) -> bool:
        if inter.author.id == self.author_id:
            return True
        await inter.response.send_message(
            "These controls are for whoever asked; ask for your own.", ephemeral=True
        )
        return False

    async def on_timeout(self) -> None:
        if self.message is not None:
            with contextlib.suppress(disnake.HTTPException):  # deleted meanwhile
                await self.message.edit(view=None)


async def send(at: Invocation, answer: Answer) -> None:
    """A prefix command's reply, or a deferred slash command's response."""
    if isinstance(at, commands.Context):
        message = await at.send(answer.content, embeds=answer.embeds, view=answer.view or MISSING)
    else:
        await at.edit_original_response(
            content=answer.content, embeds=answer.embeds, view=answer.view
        )
        message = await at.original_response()
    if answer.view is not None:
        answer.view.message = message


async def replace(inter: MessageInteraction, answer: Answer) -> None:
    """A deferred component interaction: its message becomes `answer`."""
    await inter.edit_original_message(
        content=answer.content, embeds=answer.embeds, view=answer.view
    )
    if answer.view is not None:
        answer.view.message = inter.message


def mentioned(words: list[str]) -> tuple[list[str], int | None]:
    """The words without a member mention, and the member's id if there was one."""
    for i, word in enumerate(words):
        if match := MENTION.fullmatch(word):
            return words[:i] + words[i + 1 :], int(match[1])
    return words, None
