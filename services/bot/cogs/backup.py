"""`!backup` and `/backup`: admins only."""

from __future__ import annotations

from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from services.bot.context import (
    STRICT_ARGUMENTS,
    ControlCog,
    Invocation,
    control_slash_command,
)
from services.common.control import RequestFailed
from services.common.reports import backup_text


class BackupCog(ControlCog, command_attrs=STRICT_ARGUMENTS):
    async def backup(self, at: Invocation) -> str:
        try:
            reply = await self.ctx.control.backup(f"{at.author} (discord)")
        except RequestFailed as exc:
            return f"No backup: {exc}."
        return backup_text(reply)

    @commands.command(name="backup", help="Back the database up now")
    async def backup_command(self, ctx: commands.Context) -> None:
        await ctx.send(await self.backup(ctx))

    @control_slash_command(name="backup", description="Back the database up now")
    async def backup_slash(self, inter: ApplicationCommandInteraction) -> None:
        await inter.response.defer()  # a backup takes longer than Discord's 3 s
        await inter.edit_original_response(content=await self.backup(inter))
