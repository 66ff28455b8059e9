"""Runs the disnake bot beside the bus connection: commands become bus requests."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import disnake
from disnake.ext import commands
from disnake.http import Route
from nats.js.kv import KeyValue

from services.bot.cogs.backup import BackupCog
from services.bot.cogs.health import HealthCog
from services.bot.cogs.monitoring import MonitoringCog
from services.bot.cogs.sync import SyncCog, resume_syncs
from services.bot.context import BotContext
from services.bot.permissions import Admins, parse_ids
from services.bot.replies import clip
from services.bot.watchdog import Watchdog
from services.common.bus import STREAM_MAX_AGE_S
from services.common.config import Env
from services.common.control import Control
from services.common.discord_text import safe
from services.common.notices import Notices
from services.common.runtime import Runtime
from services.common.subjects import SYNC_MESSAGES_BUCKET

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BotConfig:
    token: str
    prefix: str
    api_base: str | None
    admins: Admins
    status_open: bool
    guild_ids: frozenset[int]
    progress_every_s: float = 2.0
    admin_channel: int | None = None
    watchdog_every_s: float = 30.0
    stall_after_s: int = 120
    notice_cooldown_s: float = 600.0

    @classmethod
    def from_env(cls, env: Env) -> BotConfig:
        return cls(
            token=env.str("DISCORD_TOKEN"),
            prefix=env.str("COMMAND_PREFIX", "!"),
            api_base=env.optional("DISCORD_API_BASE"),
            admins=Admins(
                parse_ids(env.optional("ADMIN_ROLE_IDS"), "ADMIN_ROLE_IDS"),
                parse_ids(env.optional("ADMIN_USER_IDS"), "ADMIN_USER_IDS"),
            ),
            status_open=env.bool("STATUS_OPEN", True),
            guild_ids=parse_ids(env.optional("DISCORD_GUILD_IDS"), "DISCORD_GUILD_IDS"),
            admin_channel=next(
                iter(
                    parse_ids(env.optional("DISCORD_ADMIN_CHANNEL_ID"), "DISCORD_ADMIN_CHANNEL_ID")
                ),
                None,
            ),
            watchdog_every_s=env.duration("WATCHDOG_INTERVAL", "30s", minimum_s=1),
            stall_after_s=int(env.duration("STALL_AFTER", "2m", minimum_s=10)),
            notice_cooldown_s=env.duration("ADMIN_NOTICE_COOLDOWN", "10m"),
        )


def make_bot(
    conf: BotConfig, control: Control, sync_messages: KeyValue | None = None
) -> commands.Bot:
    if conf.api_base:
        Route.BASE = conf.api_base.rstrip("/")
    intents = disnake.Intents.default()
    intents.message_content = True  # prefix commands need it; slash commands do not
    bot = commands.Bot(
        command_prefix=conf.prefix,
        intents=intents,
        # Every message the bot sends or edits, whatever its text: no pings.
        allowed_mentions=disnake.AllowedMentions.none(),
        help_command=None,
        test_guilds=sorted(conf.guild_ids) or None,
    )
    context = BotContext(
        control,
        conf.admins,
        conf.status_open,
        conf.progress_every_s,
        conf.guild_ids,
        sync_messages=sync_messages,
    )
    for cog in (SyncCog(context), MonitoringCog(context), BackupCog(context), HealthCog(context)):
        bot.add_cog(cog)

    async def on_ready() -> None:
        context.home(bot)  # says now, not at the first command, when no server is home
        context.source_names("")  # fills autocomplete's cache
        if not context.resumed:  # once, not at every reconnect to the gateway
            context.resumed = True
            context.keep(resume_syncs(context, bot))

    async def on_command_error(ctx: commands.Context, error: commands.CommandError) -> None:
        """The cogs answer their commands' errors; unknown commands may be another bot's."""

    bot.add_listener(on_ready)
    bot.add_listener(on_command_error)
    return bot


def admin_notices(bot: commands.Bot, conf: BotConfig) -> Notices:
    async def send(title: str, text: str, nonce: str) -> None:
        if conf.admin_channel is None:
            log.warning("%s: %s", title, text)
            return
        channel = bot.get_partial_messageable(conf.admin_channel)
        await channel.send(clip(f"**{safe(title)}**\n{safe(text)}"), nonce=nonce)

    return Notices(send, conf.notice_cooldown_s, group_s=0)


async def main(rt: Runtime, conf: BotConfig) -> None:
    control = Control(rt.bus)
    # A sync's result stays in the stream as long: a message older than that is let go.
    messages = await rt.bus.key_value(SYNC_MESSAGES_BUCKET, ttl=STREAM_MAX_AGE_S)
    bot = make_bot(conf, control, messages)
    rt.health.add_check("discord", bot.is_ready)
    watchdog = Watchdog(control, admin_notices(bot, conf), conf.stall_after_s)
    watching = asyncio.create_task(watchdog.run(rt.stop, conf.watchdog_every_s))
    login = asyncio.create_task(bot.start(conf.token))
    stop = asyncio.create_task(rt.stop.wait())
    try:
        await asyncio.wait({login, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        watching.cancel()
        await bot.close()
    if login.done() and not login.cancelled() and (failed := login.exception()) is not None:
        raise failed
