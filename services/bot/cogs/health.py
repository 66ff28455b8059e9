"""`!health`, `!ssh_stats`, `!help`, `/health` and `/status`: open when STATUS_OPEN."""

from __future__ import annotations

from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from services.bot.context import STRICT_ARGUMENTS, ReadCog
from services.bot.replies import code_blocks
from services.common.reports import health_text, status_text

HELP = """etstats commands
!stats [player|@member] [period] — a player's stats (yours once linked): rounds, K/D, DPM,
    accuracy, headshots, revives, objectives, top weapons, last rounds
!top <metric> [period] (or !leaderboard) — the best players by kills, kd, dpm, damage,
    accuracy, headshots, revives, objectives or rounds
!round [id|last] — a stored round, as it was posted
!link <player>, !unlink — link yourself to a player (admins: add @member)
!sync_stats [period] — import missing rounds: today, yesterday, 2days, 1week, 1month,
    all, 2026-11-01 or 2026-11-01..2026-11-07
!sync_today, !sync_week, !sync_month, !sync_all — the same for common periods
!sync_cancel [id] — cancel the running sync (default: every running sync)
!start_monitoring [source], !stop_monitoring [source] — live monitoring on or off
!ssh_stats — sources, connections and counters
!health — every service instance, and any that does not answer
!backup — back the database up now
Slash commands: /stats, /top, /round, /link, /unlink, /sync, /sync_cancel,
    /monitoring start|stop, /status, /health, /backup
Control commands (sync, monitoring, backup) work for etstats admins, in the bot's
home server only."""


class HealthCog(ReadCog, command_attrs=STRICT_ARGUMENTS):
    async def health(self) -> list[str]:
        result = await self.ctx.control.health()  # answers within ~2 s, services up or down
        return code_blocks(health_text(result) or "no service answered")

    async def status(self) -> list[str]:
        fetcher, storage = await self.ctx.control.statuses()
        return code_blocks(status_text(fetcher, storage))

    @staticmethod
    async def send(ctx: commands.Context, messages: list[str]) -> None:
        for message in messages:
            await ctx.send(message)

    @staticmethod
    async def answer(inter: ApplicationCommandInteraction, messages: list[str]) -> None:
        """The deferred response, then a follow-up per further message."""
        first, *rest = messages
        await inter.edit_original_response(content=first)
        for message in rest:
            await inter.followup.send(message)

    @commands.command(name="health", help="Every service instance, and any that does not answer")
    async def health_command(self, ctx: commands.Context) -> None:
        await self.send(ctx, await self.health())

    @commands.command(name="ssh_stats", help="Sources, connections and import counters")
    async def ssh_stats(self, ctx: commands.Context) -> None:
        await self.send(ctx, await self.status())

    @commands.command(name="help", help="The commands")
    async def help_command(self, ctx: commands.Context) -> None:
        await ctx.send(HELP)

    @commands.slash_command(
        name="health", description="Every service instance, and any not answering"
    )
    async def health_slash(self, inter: ApplicationCommandInteraction) -> None:
        await inter.response.defer()  # the health round takes ~2 s, the fetcher longer
        await self.answer(inter, await self.health())

    @commands.slash_command(name="status", description="Sources, connections and counters")
    async def status_slash(self, inter: ApplicationCommandInteraction) -> None:
        await inter.response.defer()  # the fetcher may take longer than Discord's 3 s
        await self.answer(inter, await self.status())
