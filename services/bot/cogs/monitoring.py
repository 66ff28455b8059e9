"""`!start_monitoring`, `!stop_monitoring` and `/monitoring start|stop`: admins only."""

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


class MonitoringCog(ControlCog, command_attrs=STRICT_ARGUMENTS):
    async def switch(self, at: Invocation, enabled: bool, source: str | None) -> str:
        try:
            names = await self.ctx.control.switch_monitoring(
                source, enabled, f"{at.author} (discord)"
            )
        except RequestFailed as exc:
            return f"Not changed: {exc}."
        return f"Monitoring {'on' if enabled else 'off'} for {', '.join(names)}."

    @commands.command(
        name="start_monitoring", help="Watch a source again: !start_monitoring [source]"
    )
    async def start_monitoring(self, ctx: commands.Context, source: str | None = None) -> None:
        await ctx.send(await self.switch(ctx, True, source))

    @commands.command(
        name="stop_monitoring", help="Stop watching a source: !stop_monitoring [source]"
    )
    async def stop_monitoring(self, ctx: commands.Context, source: str | None = None) -> None:
        await ctx.send(await self.switch(ctx, False, source))

    @control_slash_command(name="monitoring", description="Live monitoring of the game servers")
    async def monitoring(self, inter: ApplicationCommandInteraction) -> None:
        """Group of start and stop."""

    @monitoring.sub_command(name="start", description="Watch a source again")
    async def start(self, inter: ApplicationCommandInteraction, source: str | None = None) -> None:
        await inter.response.defer()  # the fetcher may take longer than Discord's 3 s
        await inter.edit_original_response(content=await self.switch(inter, True, source))

    @monitoring.sub_command(name="stop", description="Stop watching a source")
    async def stop(self, inter: ApplicationCommandInteraction, source: str | None = None) -> None:
        await inter.response.defer()  # the fetcher may take longer than Discord's 3 s
        await inter.edit_original_response(content=await self.switch(inter, False, source))

    @start.autocomplete("source")
    @stop.autocomplete("source")
    async def sources(self, inter: ApplicationCommandInteraction, typed: str) -> list[str]:
        return self.ctx.source_names(typed)
