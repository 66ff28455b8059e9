"""`!last_session` (`!last`), `!session`, `/last_session` and `/session`: gaming
sessions summed up, open when STATUS_OPEN."""

from __future__ import annotations

from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from services.bot.answers import Answer, send
from services.bot.context import STRICT_ARGUMENTS, BotContext, Invocation, ReadCog
from services.bot.views import Pager
from services.common.player_text import failure_text
from services.common.reads import ReadFailed, Reads
from services.common.session_text import no_session_text, session_pages

DAYS = ("today", "yesterday")


class SessionsCog(ReadCog, command_attrs=STRICT_ARGUMENTS):
    def __init__(self, ctx: BotContext) -> None:
        super().__init__(ctx)
        self.reads = Reads(ctx.control.bus)

    async def show(self, at: Invocation, source: str, day: str) -> Answer:
        """The first page, with buttons for the others (every page comes in one reply)."""
        try:
            reply = await self.reads.session(source.strip(), day)
        except ReadFailed as exc:
            return Answer(failure_text(exc))
        pages = session_pages(reply)
        if not pages:
            return Answer(no_session_text(reply, source.strip()))
        answer = Answer(embeds=pages[0])
        if len(pages) > 1:

            async def turn(page: int) -> tuple[Answer, int]:
                return Answer(embeds=pages[page]), len(pages)

            answer.view = Pager(at.author.id, 0, len(pages), turn)
        return answer

    @commands.command(
        name="last_session",
        aliases=["last"],
        usage="[source]",
        help="The last gaming session: maps, score, everyone's totals and the awards",
    )
    async def last_command(self, ctx: commands.Context, source: str = "") -> None:
        await send(ctx, await self.show(ctx, source, ""))

    @commands.slash_command(name="last_session", description="The last gaming session")
    async def last_slash(self, inter: ApplicationCommandInteraction, source: str = "") -> None:
        """
        Parameters
        ----------
        source: a game server (default: the last one played on)
        """
        await inter.response.defer()
        await send(inter, await self.show(inter, source, ""))

    @commands.command(
        name="session",
        usage="<date> [source]",
        help="The gaming sessions begun on a day (2026-11-24, today or yesterday)",
    )
    async def session_command(self, ctx: commands.Context, date: str, source: str = "") -> None:
        await send(ctx, await self.show(ctx, source, date))

    @commands.slash_command(name="session", description="The gaming sessions begun on a day")
    async def session_slash(
        self, inter: ApplicationCommandInteraction, date: str, source: str = ""
    ) -> None:
        """
        Parameters
        ----------
        date: 2026-11-24, today or yesterday (server time)
        source: a game server (default: all)
        """
        await inter.response.defer()
        await send(inter, await self.show(inter, source, date))

    @session_slash.autocomplete("date")
    async def days(self, inter: ApplicationCommandInteraction, typed: str) -> list[str]:
        return [d for d in DAYS if d.startswith(typed.lower())] or list(DAYS)

    @last_slash.autocomplete("source")
    @session_slash.autocomplete("source")
    async def sources(self, inter: ApplicationCommandInteraction, typed: str) -> list[str]:
        return self.ctx.source_names(typed)
