"""`!link`, `!unlink`, `/link` and `/unlink`: a member links themself; admins
link and unlink others."""

from __future__ import annotations

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etstats.contract import reads_pb2
from etstats.contract.players import key_from_message
from etstats.period import QUOTES
from services.bot.answers import Answer, mentioned, send
from services.bot.cogs.stats import who_is
from services.bot.context import STRICT_ARGUMENTS, BotContext, Invocation, ReadCog
from services.bot.views import PlayerPicker
from services.common.player_text import choice_text, failure_text, player_name
from services.common.reads import ReadFailed, Reads

OTHERS_REFUSED = "Only etstats admins can link or unlink other members."


class LinksCog(ReadCog, command_attrs=STRICT_ARGUMENTS):
    def __init__(self, ctx: BotContext) -> None:
        super().__init__(ctx)
        self.reads = Reads(ctx.control.bus)

    def allowed(self, at: Invocation) -> bool:
        return True  # everyone may link themself; linking others is checked below

    async def link(self, at: Invocation, typed: str, member: int | None) -> Answer:
        target = member or at.author.id
        admin = self.ctx.is_admin(at)
        if target != at.author.id and not admin:
            return Answer(OTHERS_REFUSED)
        if not typed:
            return Answer("Name the player to link: `/link <player>`.")
        return await self.link_to(at, reads_pb2.PlayerQuery(text=typed), target, admin, typed)

    async def link_to(
        self, at: Invocation, query: reads_pb2.PlayerQuery, target: int, admin: bool, typed: str
    ) -> Answer:
        try:
            reply = await self.reads.link(target, query, at.author.id, admin=admin)
        except ReadFailed as exc:
            return Answer(failure_text(exc))
        if reply.HasField("choice"):

            async def pick(p: reads_pb2.Player) -> Answer:
                chosen = reads_pb2.PlayerQuery(ref=p.ref)
                return await self.link_to(at, chosen, target, admin, typed)

            picker = PlayerPicker(at.author.id, reply.choice.players, pick)
            return Answer(choice_text(typed, reply.choice), view=picker)
        text = (
            f"{who_is(at, target)} now linked to {player_name(reply.player)}"
            f" ({key_from_message(reply.player.ref).text})."
        )
        if target == at.author.id:
            text += " `/stats` without a name shows your stats."
        if reply.replaced_discord_id:
            text += f" It was linked to <@{reply.replaced_discord_id}> before."
        return Answer(text)

    async def unlink(self, at: Invocation, member: int | None) -> Answer:
        target = member or at.author.id
        if target != at.author.id and not self.ctx.is_admin(at):
            return Answer(OTHERS_REFUSED)
        try:
            reply = await self.reads.unlink(target)
        except ReadFailed as exc:
            return Answer(failure_text(exc))
        if not reply.HasField("player"):
            return Answer(f"{who_is(at, target)} not linked to a player.")
        return Answer(f"{who_is(at, target)} no longer linked to {player_name(reply.player)}.")

    @commands.command(
        name="link",
        usage="<player> [@member]",
        help="Link yourself (admins: a member) to a player, for !stats without a name",
    )
    async def link_command(self, ctx: commands.Context, *, text: str) -> None:
        words, member = mentioned(text.split())
        await send(ctx, await self.link(ctx, " ".join(words).strip(QUOTES), member))

    @commands.slash_command(name="link", description="Link yourself to a player")
    async def link_slash(
        self, inter: ApplicationCommandInteraction, player: str, member: disnake.User | None = None
    ) -> None:
        """
        Parameters
        ----------
        player: a name (or a part of one, any case) or a guid
        member: admins: link this member instead
        """
        await inter.response.defer()
        await send(inter, await self.link(inter, player.strip(), member.id if member else None))

    @commands.command(name="unlink", usage="[@member]", help="Undo your link (admins: a member's)")
    async def unlink_command(self, ctx: commands.Context, *, text: str = "") -> None:
        words, member = mentioned(text.split())
        if words:
            await ctx.send(f"`{ctx.clean_prefix}unlink` takes only a member: `@name`.")
            return
        await send(ctx, await self.unlink(ctx, member))

    @commands.slash_command(name="unlink", description="Undo your link to a player")
    async def unlink_slash(
        self, inter: ApplicationCommandInteraction, member: disnake.User | None = None
    ) -> None:
        """
        Parameters
        ----------
        member: admins: unlink this member instead
        """
        await inter.response.defer()
        await send(inter, await self.unlink(inter, member.id if member else None))
