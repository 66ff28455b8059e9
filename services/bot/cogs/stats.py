"""`!stats`, `!round`, `/stats` and `/round`: open when STATUS_OPEN."""

from __future__ import annotations

from datetime import datetime

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etstats.contract import reads_pb2
from etstats.period import QUOTES
from etstats.players.args import split_period
from services.bot.answers import Answer, mentioned, send
from services.bot.cogs.sync import suggested_periods
from services.bot.context import STRICT_ARGUMENTS, BotContext, Invocation, ReadCog
from services.bot.views import PlayerPicker
from services.common.player_text import choice_text, failure_text, stats_embed
from services.common.reads import ReadFailed, Reads
from services.common.render import round_embeds
from services.common.rpc import ServiceFailed


def who_is(at: Invocation, member: int) -> str:
    """ "You are" or the member (a mention, which never pings: the bot allows none)."""
    return "You are" if member == at.author.id else f"<@{member}> is"


class StatsCog(ReadCog, command_attrs=STRICT_ARGUMENTS):
    def __init__(self, ctx: BotContext) -> None:
        super().__init__(ctx)
        self.reads = Reads(ctx.control.bus)

    async def stats(self, at: Invocation, typed: str, member: int | None, period: str) -> Answer:
        """A named player's stats, else the member's (the asker's by default)."""
        if typed:
            query = reads_pb2.PlayerQuery(text=typed)
        else:
            query = reads_pb2.PlayerQuery(discord_id=str(member or at.author.id))
        try:
            reply = await self.reads.stats(query, period)
        except ServiceFailed as exc:
            if exc.code == "404" and query.discord_id:
                return Answer(self.not_linked(at, int(query.discord_id)))
            return Answer(failure_text(exc))
        except ReadFailed as exc:
            return Answer(failure_text(exc))
        if reply.HasField("choice"):

            async def pick(p: reads_pb2.Player) -> Answer:
                return await self.stats_of(p.ref, period)

            picker = PlayerPicker(at.author.id, reply.choice.players, pick)
            return Answer(choice_text(typed, reply.choice), view=picker)
        return Answer(embeds=[stats_embed(reply)])

    async def stats_of(self, ref: reads_pb2.PlayerRef, period: str) -> Answer:
        try:
            reply = await self.reads.stats(reads_pb2.PlayerQuery(ref=ref), period)
        except ReadFailed as exc:
            return Answer(failure_text(exc))
        return Answer(embeds=[stats_embed(reply)])

    @staticmethod
    def not_linked(at: Invocation, member: int) -> str:
        if member == at.author.id:
            return (
                "You are not linked to a player yet: link yourself with `/link <your name>`,"
                " or name a player: `/stats <player>`."
            )
        return f"<@{member}> is not linked to a player yet."

    async def round(self, which: str) -> Answer:
        text = which.strip().lstrip("#").lower()
        if text not in ("", "last") and not text.isdigit():
            return Answer("Give a round number (a post's footer shows it) or `last`.")
        round_id = 0 if text in ("", "last") else int(text)
        try:
            stored = await self.reads.round(round_id)
        except ServiceFailed as exc:
            if exc.code == "404":
                return Answer(f"No round #{round_id} is stored." if round_id else "No round yet.")
            return Answer(failure_text(exc))
        except ReadFailed as exc:
            return Answer(failure_text(exc))
        return Answer(embeds=round_embeds(stored))

    @commands.command(
        name="stats",
        usage="[player|@member] [period]",
        help="A player's stats (yours without a name), over a period (default: all)",
    )
    async def stats_command(self, ctx: commands.Context, *, text: str = "") -> None:
        words, member = mentioned(text.split())
        typed, period = split_period(words, datetime.now())
        await send(ctx, await self.stats(ctx, typed.strip(QUOTES), member, period or ""))

    @commands.slash_command(name="stats", description="A player's stats: yours without a name")
    async def stats_slash(
        self,
        inter: ApplicationCommandInteraction,
        player: str = "",
        member: disnake.User | None = None,
        period: str = "",
    ) -> None:
        """
        Parameters
        ----------
        player: a name (or a part of one, any case) or a guid
        member: a Discord member linked to a player
        period: today, yesterday, 2days, 1week, 1month, all (default), 2026-11-01..2026-11-07
        """
        await inter.response.defer()
        who = member.id if member else None
        await send(inter, await self.stats(inter, player.strip(), who, period))

    @stats_slash.autocomplete("period")
    async def periods(self, inter: ApplicationCommandInteraction, typed: str) -> list[str]:
        return suggested_periods(typed)

    @commands.command(name="round", usage="[id|last]", help="A stored round, as it was posted")
    async def round_command(self, ctx: commands.Context, which: str = "last") -> None:
        await send(ctx, await self.round(which))

    @commands.slash_command(name="round", description="A stored round, as it was posted")
    async def round_slash(self, inter: ApplicationCommandInteraction, number: str = "last") -> None:
        """
        Parameters
        ----------
        number: the round's number (a post's footer shows it), or last
        """
        await inter.response.defer()
        await send(inter, await self.round(number))
