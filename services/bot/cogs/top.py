"""`!top`, `!leaderboard` and `/top`: open when STATUS_OPEN."""

from __future__ import annotations

from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etstats.players.totals import METRIC_KEYS
from services.bot.answers import Answer, send
from services.bot.cogs.sync import suggested_periods
from services.bot.context import STRICT_ARGUMENTS, BotContext, Invocation, ReadCog
from services.bot.views import Pager
from services.common.player_text import failure_text, top_embed
from services.common.reads import ReadFailed, Reads, pages


class TopCog(ReadCog, command_attrs=STRICT_ARGUMENTS):
    def __init__(self, ctx: BotContext) -> None:
        super().__init__(ctx)
        self.reads = Reads(ctx.control.bus)

    async def page(
        self, metric: str, period: str, min_rounds: int, page: int
    ) -> tuple[Answer, int]:
        """One page of the leaderboard and how many pages it has (0: it failed)."""
        try:
            reply = await self.reads.top(metric, period, page, min_rounds)
        except ReadFailed as exc:
            return Answer(failure_text(exc)), 0
        return Answer(embeds=[top_embed(reply)]), pages(reply)

    async def top(self, at: Invocation, metric: str, period: str, min_rounds: int = 0) -> Answer:
        """The first page, with buttons for the others."""
        answer, count = await self.page(metric, period, min_rounds, 0)
        if count > 1:

            async def turn(page: int) -> tuple[Answer, int]:
                return await self.page(metric, period, min_rounds, page)

            answer.view = Pager(at.author.id, 0, count, turn)
        return answer

    @commands.command(
        name="top",
        aliases=["leaderboard"],
        usage="<metric> [period]",
        help=f"The best players by a metric ({', '.join(METRIC_KEYS)}) over a period",
    )
    async def top_command(self, ctx: commands.Context, metric: str, *, period: str = "") -> None:
        await send(ctx, await self.top(ctx, metric, period))

    @commands.slash_command(name="top", description="The best players by a metric")
    async def top_slash(
        self,
        inter: ApplicationCommandInteraction,
        metric: str,
        period: str = "",
        min_rounds: int = 0,
    ) -> None:
        """
        Parameters
        ----------
        metric: kills, kd, dpm, damage, accuracy, headshots, revives, objectives or rounds
        period: today, yesterday, 2days, 1week, 1month, all (default), 2026-11-01..2026-11-07
        min_rounds: the rounds a player needs in the period to be ranked (default 10)
        """
        await inter.response.defer()
        await send(inter, await self.top(inter, metric, period, min_rounds))

    @top_slash.autocomplete("metric")
    async def metrics(self, inter: ApplicationCommandInteraction, typed: str) -> list[str]:
        return [m for m in METRIC_KEYS if m.startswith(typed.lower())] or list(METRIC_KEYS)

    @top_slash.autocomplete("period")
    async def periods(self, inter: ApplicationCommandInteraction, typed: str) -> list[str]:
        return suggested_periods(typed)
