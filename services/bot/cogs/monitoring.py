"""`!start_monitoring`, `!stop_monitoring`, `!ssh_stats` and `/monitoring`."""

from __future__ import annotations

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from services.bot.context import REFUSAL, BotContext
from services.common.control import RequestFailed
from services.common.reports import status_text


class MonitoringCog(commands.Cog):
    def __init__(self, bot: BotContext) -> None:
        self.ctx = bot

    async def switch(
        self, user: disnake.User | disnake.Member, enabled: bool, source: str | None
    ) -> str:
        if not self.ctx.is_admin(user):
            return REFUSAL
        try:
            names = await self.ctx.control.switch_monitoring(source, enabled, f"{user} (discord)")
        except RequestFailed as exc:
            return f"Not changed: {exc}."
        return f"Monitoring {'on' if enabled else 'off'} for {', '.join(names)}."

    async def status(self, user: disnake.User | disnake.Member) -> str:
        if not self.ctx.status_open and not self.ctx.is_admin(user):
            return REFUSAL
        fetcher, storage = await self.ctx.control.statuses()
        return "```\n" + status_text(fetcher, storage)[:1900] + "\n```"

    @commands.command(
        name="start_monitoring", help="Watch a source again: !start_monitoring [source]"
    )
    async def start_monitoring(self, ctx: commands.Context, source: str | None = None) -> None:
        await ctx.send(await self.switch(ctx.author, True, source))

    @commands.command(
        name="stop_monitoring", help="Stop watching a source: !stop_monitoring [source]"
    )
    async def stop_monitoring(self, ctx: commands.Context, source: str | None = None) -> None:
        await ctx.send(await self.switch(ctx.author, False, source))

    @commands.command(name="ssh_stats", help="Sources, connections and import counters")
    async def ssh_stats(self, ctx: commands.Context) -> None:
        await ctx.send(await self.status(ctx.author))

    @commands.slash_command(name="monitoring", description="Live monitoring of the game servers")
    async def monitoring(self, inter: ApplicationCommandInteraction) -> None:
        """Group of start, stop and status."""

    @monitoring.sub_command(name="start", description="Watch a source again")
    async def start(self, inter: ApplicationCommandInteraction, source: str | None = None) -> None:
        await inter.response.defer()  # the fetcher may take longer than Discord's 3 s
        await inter.edit_original_response(content=await self.switch(inter.author, True, source))

    @monitoring.sub_command(name="stop", description="Stop watching a source")
    async def stop(self, inter: ApplicationCommandInteraction, source: str | None = None) -> None:
        await inter.response.defer()  # the fetcher may take longer than Discord's 3 s
        await inter.edit_original_response(content=await self.switch(inter.author, False, source))

    @start.autocomplete("source")
    @stop.autocomplete("source")
    async def sources(self, inter: ApplicationCommandInteraction, typed: str) -> list[str]:
        return await self.ctx.source_names(typed)

    @monitoring.sub_command(name="status", description="Sources, connections and counters")
    async def status_command(self, inter: ApplicationCommandInteraction) -> None:
        await inter.response.defer()  # the fetcher may take longer than Discord's 3 s
        await inter.edit_original_response(content=await self.status(inter.author))
