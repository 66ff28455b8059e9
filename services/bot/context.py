"""What every cog needs: the bus control client, settings and the permission check."""

from __future__ import annotations

from dataclasses import dataclass

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction  # mypy misses disnake.<name>

from etstats.contract import control_pb2
from services.bot.permissions import Admins
from services.common.control import Control, RequestFailed

REFUSAL = "Only etstats admins can do that."


@dataclass
class BotContext:
    control: Control
    admins: Admins
    status_open: bool
    progress_every_s: float

    async def source_names(self, typed: str) -> list[str]:
        """For autocomplete: the fetcher's sources that start with what was typed."""
        try:
            names = await self.control.sources()
        except RequestFailed:
            return []
        return [n for n in names if n.startswith(typed.lower())][:25]

    def is_admin(self, user: disnake.User | disnake.Member) -> bool:
        roles = [r.id for r in getattr(user, "roles", [])]
        perms = getattr(user, "guild_permissions", None)
        return self.admins.allows(user.id, roles, bool(perms and perms.manage_guild))


def requester(
    ctx: commands.Context[commands.Bot] | ApplicationCommandInteraction, via: str
) -> control_pb2.Requester:
    author = ctx.author
    return control_pb2.Requester(
        user_id=str(author.id), user_name=str(author), via=via, channel_id=str(ctx.channel.id)
    )
