"""`!sync_stats [period]`, `!sync_today|week|month|all`, `!sync_cancel` and `/sync`,
`/sync_cancel`: admins only."""

from __future__ import annotations

import contextlib
import logging
import time

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction
from nats.js.errors import NoKeysError

from etstats.contract import control_pb2
from services.bot.context import (
    STRICT_ARGUMENTS,
    BotContext,
    ControlCog,
    control_slash_command,
    requester,
)
from services.bot.replies import MessageReply, PrefixReply, Reply, SlashReply
from services.common.control import RequestFailed, SyncEvents
from services.common.reports import already_running_text, progress_text, result_text, sync_text

log = logging.getLogger(__name__)

PERIOD_CHOICES = ["today", "yesterday", "2days", "1week", "1month", "all"]


def suggested_periods(typed: str) -> list[str]:
    """Autocomplete of a period: the common ones that start as typed (all if none)."""
    return [p for p in PERIOD_CHOICES if p.startswith(typed.lower())] or PERIOD_CHOICES


async def run_sync(
    bot: BotContext,
    reply: Reply,
    period: str,
    source: str | None,
    who: control_pb2.Requester,
    cancel_with: str,
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
    if events is None:  # another sync holds the source: its result is not this request's
        await reply.edit(
            f"Sync not started: {already_running_text(accepted)}."
            f" Cancel it with `{cancel_with} {accepted.sync_id}` or wait for it."
        )
        return
    await follow_to_the_end(bot, reply, accepted.sync_id, events)


async def follow_to_the_end(
    bot: BotContext, reply: Reply, sync_id: str, events: SyncEvents
) -> None:
    """Follow until the message shows a final state (done, failed, cancelled, lost);
    meanwhile the message is remembered on the bus, so that a restarted bot ends it."""
    await remember(bot, sync_id, reply)
    try:
        await follow_sync(bot, reply, sync_id, events)
    except RequestFailed as exc:
        await reply.edit(f"Sync {sync_id} lost: {exc}")
    except disnake.HTTPException as exc:  # deleted, say: there is no message to end
        log.warning("sync %s: its message cannot be edited: %s", sync_id, exc)
    await forget(bot, sync_id)


async def remember(bot: BotContext, sync_id: str, reply: Reply) -> None:
    where = reply.where()
    if bot.sync_messages is None or where is None:
        return
    value = control_pb2.SyncMessage(
        sync_id=sync_id, channel_id=str(where[0]), message_id=str(where[1])
    )
    try:
        await bot.sync_messages.put(sync_id, value.SerializeToString())
    except Exception as exc:  # the bus away: followed all the same, only not after a restart
        log.warning("sync %s: message not remembered: %s", sync_id, exc)


async def forget(bot: BotContext, sync_id: str) -> None:
    if bot.sync_messages is not None:
        with contextlib.suppress(Exception):  # the next bot ends it again: no harm
            await bot.sync_messages.delete(sync_id)


async def resume_syncs(bot: BotContext, client: disnake.Client) -> None:
    """At start: bring the messages of syncs a previous bot followed to their end."""
    if bot.sync_messages is None:
        return
    try:
        keys = await bot.sync_messages.keys()
    except NoKeysError:
        return
    except Exception as exc:
        log.warning("cannot read the sync messages to resume: %s", exc)
        return
    for key in keys:
        try:
            entry = await bot.sync_messages.get(key)
            message = control_pb2.SyncMessage.FromString(entry.value or b"")
            reply = MessageReply(client, int(message.channel_id), int(message.message_id))
            events = await bot.control.follow(message.sync_id)
        except Exception as exc:
            log.warning("cannot resume the message of sync %s: %s", key, exc)
            continue
        log.info("following sync %s again", message.sync_id)
        bot.keep(follow_to_the_end(bot, reply, message.sync_id, events))


async def follow_sync(bot: BotContext, reply: Reply, sync_id: str, events: SyncEvents) -> None:
    """Keep the reply up to date with the job's progress, then its result."""
    head = f"Sync {sync_id} running.\n"
    latest: dict[str, str] = {}
    last_edit = 0.0
    async for item in events:
        if isinstance(item, control_pb2.SyncResult):
            if item.cancelled:
                await reply.edit(result_text(item) + "\nRounds already imported stay: cancelled")
            else:
                await reply.edit(result_text(item))
            return
        latest[item.source] = progress_text(item)
        if time.monotonic() - last_edit >= bot.progress_every_s:
            last_edit = time.monotonic()
            await reply.edit(head + "\n".join(latest.values()))


async def cancel_syncs(bot: BotContext, sync_id: str | None) -> str:
    """Cancel one sync, or with no id every running one; the answer for the requester."""
    lines = [
        f"Cancelling {sync_text(sync)}: rounds already imported stay."
        if found
        else f"No running sync {sync.sync_id}."
        for sync, found in await bot.control.cancel_syncs(sync_id)
    ]
    return "\n".join(lines) or "No sync is running."


class SyncCog(ControlCog, command_attrs=STRICT_ARGUMENTS):
    async def _prefix(self, ctx: commands.Context, period: str) -> None:
        who = requester(ctx, "discord-prefix")
        await run_sync(self.ctx, PrefixReply(ctx), period, None, who, "!sync_cancel")

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

    @commands.command(name="sync_cancel", help="Cancel the running sync(s): !sync_cancel [id]")
    async def sync_cancel(self, ctx: commands.Context, sync_id: str | None = None) -> None:
        await ctx.send(await cancel_syncs(self.ctx, sync_id))

    @control_slash_command(name="sync", description="Import missing rounds of a period")
    async def sync(
        self, inter: ApplicationCommandInteraction, period: str, source: str | None = None
    ) -> None:
        """
        Parameters
        ----------
        period: today, yesterday, 2days, 1week, 1month, all, 2026-11-01 or 2026-11-01..2026-11-07
        source: one source (default: all)
        """
        who = requester(inter, "discord-slash")
        await run_sync(self.ctx, SlashReply(inter), period, source, who, "/sync_cancel")

    @sync.autocomplete("period")
    async def periods(self, inter: ApplicationCommandInteraction, typed: str) -> list[str]:
        return suggested_periods(typed)

    @sync.autocomplete("source")
    async def sources(self, inter: ApplicationCommandInteraction, typed: str) -> list[str]:
        return self.ctx.source_names(typed)

    @control_slash_command(name="sync_cancel", description="Cancel the running sync(s)")
    async def sync_cancel_slash(
        self, inter: ApplicationCommandInteraction, sync_id: str | None = None
    ) -> None:
        """
        Parameters
        ----------
        sync_id: the sync to cancel (default: every running sync)
        """
        await inter.response.defer()  # the fetcher may take longer than Discord's 3 s
        await inter.edit_original_response(content=await cancel_syncs(self.ctx, sync_id))
