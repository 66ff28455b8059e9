"""What every cog needs: the bus control client, settings and who may do what."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction  # mypy misses disnake.<name>
from nats.js.kv import KeyValue

from etstats.contract import control_pb2
from services.bot.permissions import Admins, home_guilds
from services.common.control import Control, RequestFailed

log = logging.getLogger(__name__)

REFUSAL = "Only etstats admins can do that."
# Control slash commands: offered in servers only, to members with Manage Server
# (a server admin can allow ADMIN_ROLE_IDS' roles under Integrations); the cog
# checks decide who may run them.
control_slash_command = functools.partial(
    commands.slash_command,
    default_member_permissions=disnake.Permissions(manage_guild=True),
    contexts=disnake.InteractionContextTypes(guild=True),
)
# Prefix commands refuse words they do not take (`!sync_today banana`) rather
# than ignore them: set on every cog with prefix commands.
STRICT_ARGUMENTS = {"ignore_extra": False}
SOURCES_FRESH_S = 30.0  # autocomplete's cached source list is refreshed when older

Invocation = commands.Context[commands.Bot] | ApplicationCommandInteraction


class NotAllowed(commands.CheckFailure):
    """The author may not run this command here: answered with REFUSAL."""


@dataclass
class BotContext:
    control: Control
    admins: Admins
    status_open: bool
    progress_every_s: float
    guild_ids: frozenset[int] = frozenset()  # DISCORD_GUILD_IDS
    sources: list[str] = field(default_factory=list)  # for autocomplete
    _sources_at: float = -SOURCES_FRESH_S
    _refresh: asyncio.Task[None] | None = None
    _told_home: bool = False
    # The Discord messages following syncs, kept on the bus (None: not kept).
    sync_messages: KeyValue | None = None
    resumed: bool = False
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def keep(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` in the background, held until it ends."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def stop(self) -> None:
        """End the background work of a bot being replaced (its client is closed):
        the next bot resumes following the syncs."""
        for task in self._background:
            task.cancel()

    def source_names(self, typed: str) -> list[str]:
        """For autocomplete, which Discord wants within 3 s: the cached sources, refreshed
        in the background when stale, so a slow or absent fetcher never delays it."""
        stale = time.monotonic() - self._sources_at > SOURCES_FRESH_S
        if stale and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.create_task(self._refresh_sources())
        return [n for n in self.sources if n.startswith(typed.lower())][:25]

    async def _refresh_sources(self) -> None:
        with contextlib.suppress(*RequestFailed):
            self.sources = await self.control.sources()
            self._sources_at = time.monotonic()

    def home(self, client: disnake.Client) -> frozenset[int]:
        homes = home_guilds(self.guild_ids, (g.id for g in client.guilds))
        if not homes and not self._told_home:
            self._told_home = True
            log.warning(
                "the bot is in %d Discord servers and DISCORD_GUILD_IDS is not set: no"
                " server is home, so nobody can run control commands; set DISCORD_GUILD_IDS"
                " to the id of your server (Developer Mode, right-click the server, Copy"
                " Server ID)",
                len(client.guilds),
            )
        return homes

    def is_admin(self, at: Invocation) -> bool:
        """Admins exist only in a home guild: elsewhere (another server, a DM) whoever
        owns that server would otherwise control the stack."""
        guild, author = at.guild, at.author
        if guild is None or guild.id not in self.home(at.bot):
            return False
        if not isinstance(author, disnake.Member):
            return False
        return self.admins.allows(
            author.id,
            [r.id for r in author.roles],
            owner=guild.owner_id == author.id,
            manage_guild=author.guild_permissions.manage_guild,
        )


class ControlCog(commands.Cog):
    """Every command of the cog, prefix or slash, passes `allowed` (disnake's cog
    checks); refusals and failures are answered here, slash ones privately."""

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    def allowed(self, at: Invocation) -> bool:
        return self.ctx.is_admin(at)

    def _check(self, at: Invocation) -> bool:
        if not self.allowed(at):
            raise NotAllowed(REFUSAL)
        return True

    def cog_check(self, ctx: commands.Context) -> bool:
        return self._check(ctx)

    def cog_slash_command_check(self, inter: ApplicationCommandInteraction) -> bool:
        return self._check(inter)

    async def cog_command_error(self, ctx: commands.Context, error: Exception) -> None:
        if isinstance(error, commands.UserInputError) and ctx.command is not None:
            await ctx.send(f"{input_error_text(error)} {usage(ctx.clean_prefix, ctx.command)}")
            return
        await ctx.send(self.error_text(error))

    async def cog_slash_command_error(
        self, inter: ApplicationCommandInteraction, error: Exception
    ) -> None:
        if inter.response.is_done():  # deferred: the answer is the original response
            await inter.edit_original_response(content=self.error_text(error))
        else:
            await inter.response.send_message(self.error_text(error), ephemeral=True)

    def error_text(self, error: Exception) -> str:
        if isinstance(error, NotAllowed):
            return REFUSAL
        log.warning("command failed: %s", error)
        return f"That did not work: {error}."


class ReadCog(ControlCog):
    """Read-only commands: open to anyone when STATUS_OPEN, else to admins."""

    def allowed(self, at: Invocation) -> bool:
        return self.ctx.status_open or self.ctx.is_admin(at)


def input_error_text(error: commands.UserInputError) -> str:
    if isinstance(error, commands.TooManyArguments):
        return "That command does not take those words."
    return f"{error}."


def usage(prefix: str, command: commands.Command) -> str:
    signature = f" {command.signature}" if command.signature else ""
    return f"Usage: `{prefix}{command.qualified_name}{signature}`: {command.help}."


def requester(ctx: Invocation, via: str) -> control_pb2.Requester:
    author = ctx.author
    return control_pb2.Requester(
        user_id=str(author.id), user_name=str(author), via=via, channel_id=str(ctx.channel.id)
    )
