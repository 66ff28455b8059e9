"""`!sync_stats [period]`, `!sync_today|week|month|all` and `/sync`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etstats.contract import control_pb2
from etstats.period import ACCEPTED_FORMS
from services.bot.context import REFUSAL, BotContext, requester
from services.bot.replies import PrefixReply, Reply, SlashReply
from services.common.control import RequestFailed
from services.common.reports import progress_text, result_text

PERIOD_CHOICES = ["today", "yesterday", "2days", "1week", "1month", "all"]


async def run_sync(
    bot: BotContext, reply: Reply, period: str, source: str | None, who: control_pb2.Requester
) -> None:
    """Acknowledge at once, then keep one message up to date until the result."""
    await reply.send(f"Sync of `{period}` requested…")
    try:
        accepted, events = await bot.control.sync_and_follow(
            period, [source] if source else None, who
        )
    except RequestFailed as exc:
        await reply.edit(f"Sync not started: {exc}")
        return
    try:
        await follow_sync(bot, reply, accepted, events)
    except RequestFailed as exc:
        await reply.edit(f"Sync {accepted.sync_id} lost: {exc}")


async def follow_sync(
    bot: BotContext,
    reply: Reply,
    accepted: control_pb2.SyncAccepted,
    events: AsyncIterator[control_pb2.SyncProgress | control_pb2.SyncResult],
) -> None:
    """Keep the reply up to date with the job's progress, then its result."""
    head = (
        f"A sync is already running (sync {accepted.sync_id}); following it.\n"
        if accepted.already_running
        else f"Sync {accepted.sync_id} running.\n"
    )
    latest: dict[str, str] = {}
    last_edit = 0.0
    async for item in events:
        if isinstance(item, control_pb2.SyncResult):
            await reply.edit(result_text(item))
            return
        latest[item.source] = progress_text(item)
        if time.monotonic() - last_edit >= bot.progress_every_s:
            last_edit = time.monotonic()
            await reply.edit(head + "\n".join(latest.values()))


class SyncCog(commands.Cog):
    def __init__(self, bot: BotContext) -> None:
        self.ctx = bot

    async def _prefix(self, ctx: commands.Context, period: str) -> None:
        if not self.ctx.is_admin(ctx.author):
            await ctx.send(REFUSAL)
            return
        await run_sync(self.ctx, PrefixReply(ctx), period, None, requester(ctx, "discord-prefix"))

    @commands.command(name="sync_stats", help="Import missing rounds: !sync_stats 2days")
    async def sync_stats(self, ctx: commands.Context, *, period: str = "today") -> None:
        await self._prefix(ctx, period)

    @commands.command(name="sync_today", help="Import today's missing rounds")
    async def sync_today(self, ctx: commands.Context) -> None:
        await self._prefix(ctx, "today")

    @commands.command(name="sync_week", help="Import the last week's missing rounds")
    async def sync_week(self, ctx: commands.Context) -> None:
        await self._prefix(ctx, "1week")

    @commands.command(name="sync_month", help="Import the last month's missing rounds")
    async def sync_month(self, ctx: commands.Context) -> None:
        await self._prefix(ctx, "1month")

    @commands.command(name="sync_all", help="Import every missing round")
    async def sync_all(self, ctx: commands.Context) -> None:
        await self._prefix(ctx, "all")

    @commands.slash_command(name="sync", description="Import missing rounds of a period")
    async def sync(
        self, inter: ApplicationCommandInteraction, period: str, source: str | None = None
    ) -> None:
        """
        Parameters
        ----------
        period: today, yesterday, 2days, 1week, 1month, all, 2026-11-01 or 2026-11-01..2026-11-07
        source: one source (default: all)
        """
        if not self.ctx.is_admin(inter.author):
            await inter.response.send_message(REFUSAL, ephemeral=True)
            return
        await run_sync(
            self.ctx, SlashReply(inter), period, source, requester(inter, "discord-slash")
        )

    @sync.autocomplete("period")
    async def periods(self, inter: ApplicationCommandInteraction, typed: str) -> list[str]:
        return [p for p in PERIOD_CHOICES if p.startswith(typed.lower())] or PERIOD_CHOICES

    @sync.autocomplete("source")
    async def sources(self, inter: ApplicationCommandInteraction, typed: str) -> list[str]:
        return await self.ctx.source_names(typed)

    @commands.Cog.listener()
    async def on_command_error(self, ctx: commands.Context, error: commands.CommandError) -> None:
        if isinstance(error, commands.CommandNotFound):
            return
        await ctx.send(f"That did not work: {error}. Periods: {ACCEPTED_FORMS}")
