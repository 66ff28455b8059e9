"""`!health`, `!backup`, `!help` and their slash forms."""

from __future__ import annotations

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from services.bot.context import REFUSAL, BotContext
from services.common.control import RequestFailed
from services.common.reports import health_text

HELP = """etstats commands
!sync_stats [period] — import missing rounds: today, yesterday, 2days, 1week, 1month,
    all, 2026-11-01 or 2026-11-01..2026-11-07
!sync_today, !sync_week, !sync_month, !sync_all — the same for common periods
!start_monitoring [source], !stop_monitoring [source] — live monitoring on or off
!ssh_stats — sources, connections and counters
!health — every service instance, and any that does not answer
!backup — back the database up now
Slash commands: /sync, /monitoring start|stop|status, /health, /backup"""


class HealthCog(commands.Cog):
    def __init__(self, bot: BotContext) -> None:
        self.ctx = bot

    async def health(self, user: disnake.User | disnake.Member) -> str:
        if not self.ctx.status_open and not self.ctx.is_admin(user):
            return REFUSAL
        result = await self.ctx.control.health()  # answers within ~2 s, services up or down
        return "```\n" + (health_text(result) or "no service answered")[:1900] + "\n```"

    async def backup(self, user: disnake.User | disnake.Member) -> str:
        if not self.ctx.is_admin(user):
            return REFUSAL
        try:
            reply = await self.ctx.control.backup(f"{user} (discord)")
        except RequestFailed as exc:
            return f"No backup: {exc}."
        return f"Backup written: {reply.filename} ({reply.size:,} bytes)"

    @commands.command(name="health", help="Every service instance, and any that does not answer")
    async def health_command(self, ctx: commands.Context) -> None:
        await ctx.send(await self.health(ctx.author))

    @commands.command(name="backup", help="Back the database up now")
    async def backup_command(self, ctx: commands.Context) -> None:
        await ctx.send(await self.backup(ctx.author))

    @commands.command(name="help", help="The commands")
    async def help_command(self, ctx: commands.Context) -> None:
        await ctx.send(HELP)

    @commands.slash_command(
        name="health", description="Every service instance, and any not answering"
    )
    async def health_slash(self, inter: ApplicationCommandInteraction) -> None:
        await inter.response.defer()
        await inter.edit_original_response(content=await self.health(inter.author))

    @commands.slash_command(name="backup", description="Back the database up now")
    async def backup_slash(self, inter: ApplicationCommandInteraction) -> None:
        await inter.response.defer()
        await inter.edit_original_response(content=await self.backup(inter.author))
