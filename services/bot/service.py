"""Runs the disnake bot beside the bus connection: commands become bus requests."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import disnake
from disnake.ext import commands
from disnake.http import Route
from nats.js.kv import KeyValue

from services.bot.cogs.backup import BackupCog
from services.bot.cogs.health import HealthCog
from services.bot.cogs.links import LinksCog
from services.bot.cogs.monitoring import MonitoringCog
from services.bot.cogs.sessions import SessionsCog
from services.bot.cogs.stats import StatsCog
from services.bot.cogs.sync import SyncCog, resume_syncs
from services.bot.cogs.top import TopCog
from services.bot.context import BotContext
from services.bot.permissions import Admins, parse_ids
from services.bot.replies import clip
from services.bot.typos import close_commands
from services.bot.watchdog import Watchdog
from services.common.aio import sleep_unless
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
    token: str | None  # None: the bot waits (see main)
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
    intent_recheck_s: float = 300.0  # without Message Content: how often to look again

    @classmethod
    def from_env(cls, env: Env) -> BotConfig:
        return cls(
            token=env.optional("DISCORD_TOKEN"),
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
            intent_recheck_s=env.duration("INTENT_RECHECK", "5m", minimum_s=1),
        )


def make_bot(
    conf: BotConfig,
    control: Control,
    sync_messages: KeyValue | None = None,
    *,
    message_content: bool = True,
) -> tuple[commands.Bot, BotContext]:
    if conf.api_base:
        Route.BASE = conf.api_base.rstrip("/")
    intents = disnake.Intents.default()
    intents.message_content = message_content  # prefix commands need it; slash commands do not
    with warnings.catch_warnings():  # without the intent the admins get a notice instead
        warnings.simplefilter("ignore", commands.MessageContentPrefixWarning)
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
    cogs = (SyncCog, MonitoringCog, BackupCog, HealthCog, StatsCog, TopCog, LinksCog, SessionsCog)
    for cog in cogs:
        bot.add_cog(cog(context))

    async def on_ready() -> None:
        context.home(bot)  # says now, not at the first command, when no server is home
        context.source_names("")  # fills autocomplete's cache
        if not context.resumed:  # once, not at every reconnect to the gateway
            context.resumed = True
            context.keep(resume_syncs(context, bot))

    async def on_command_error(ctx: commands.Context, error: commands.CommandError) -> None:
        """The cogs answer their commands' errors; an unknown command gets an answer
        only when it looks like a typo of ours (else it may be another bot's)."""
        if not isinstance(error, commands.CommandNotFound) or not ctx.invoked_with:
            return
        if close := close_commands(ctx.invoked_with, bot.all_commands):
            meant = ", ".join(f"`{conf.prefix}{name}`" for name in close)
            await ctx.send(f"Unknown command. Did you mean {meant}?")

    bot.add_listener(on_ready)
    bot.add_listener(on_command_error)
    return bot, context


def admin_notices(bot: Callable[[], commands.Bot], conf: BotConfig) -> Notices:
    """Notices to the admin channel, sent by whichever bot is connected now."""

    async def send(title: str, text: str, nonce: str) -> None:
        if conf.admin_channel is None:
            log.warning("%s: %s", title, text)
            return
        channel = bot().get_partial_messageable(conf.admin_channel)
        await channel.send(clip(f"**{safe(title)}**\n{safe(text)}"), nonce=nonce)

    return Notices(send, conf.notice_cooldown_s, group_s=0)


NO_MESSAGE_CONTENT = "Prefix commands are off"
HOW_TO_GRANT = (
    "Discord refused the Message Content intent, which prefix commands ({prefix}help) need."
    " Switch it on in the Discord developer portal: your application, Bot, Privileged"
    " Gateway Intents, Message Content Intent. Slash commands and these notices work"
    " meanwhile; prefix commands come back by themselves within {minutes:g} min of the switch."
)


async def intent_granted(bot: commands.Bot, every_s: float, stop: asyncio.Event) -> None:
    """Returns once the application's flags say Message Content is on."""
    while not await sleep_unless(stop, every_s):
        if not bot.is_ready():
            continue
        try:
            flags = (await bot.application_info()).flags
        except disnake.HTTPException as exc:
            log.warning("cannot read the application's flags: %s", exc)
            continue
        if flags and (flags.gateway_message_content or flags.gateway_message_content_limited):
            return


async def connect(
    bot: commands.Bot, token: str, conf: BotConfig, stop: asyncio.Event, *, message_content: bool
) -> bool:
    """Runs the bot until stopped (True) or until it must reconnect with other
    intents (False): refused Message Content, or granted it since."""
    login = asyncio.create_task(bot.start(token))
    stopped = asyncio.create_task(stop.wait())
    waits: set[asyncio.Task[object]] = {login, stopped}
    if not message_content:
        waits.add(asyncio.create_task(intent_granted(bot, conf.intent_recheck_s, stop)))
    try:
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits - {login}:
            task.cancel()
        await bot.close()
    if login in done and (failed := login.exception()) is not None:
        if isinstance(failed, disnake.PrivilegedIntentsRequired) and message_content:
            return False
        raise failed
    return login in done or stopped in done  # else granted: reconnect with the intent


NO_TOKEN = "no DISCORD_TOKEN: the bot waits, alive but not ready; set DISCORD_TOKEN and restart it"


async def main(rt: Runtime, conf: BotConfig) -> None:
    if conf.token is None:
        # Left out on purpose (compose starts every service): no crash loop, no
        # restarts, no down alert; the readiness check says what is missing.
        log.warning(NO_TOKEN)
        rt.health.add_check("discord", lambda: False)
        await rt.stop.wait()
        return
    token = conf.token
    control = Control(rt.bus)
    # A sync's result stays in the stream as long: a message older than that is let go.
    messages = await rt.bus.key_value(SYNC_MESSAGES_BUCKET, ttl=STREAM_MAX_AGE_S)
    bot, context = make_bot(conf, control, messages)
    rt.health.add_check("discord", lambda: bot.is_ready())
    notices = admin_notices(lambda: bot, conf)
    watchdog = Watchdog(control, notices, conf.stall_after_s)
    watching = asyncio.create_task(watchdog.run(rt.stop, conf.watchdog_every_s))
    message_content = True
    try:
        while not await connect(bot, token, conf, rt.stop, message_content=message_content):
            message_content = not message_content
            text = HOW_TO_GRANT.format(prefix=conf.prefix, minutes=conf.intent_recheck_s / 60)
            if message_content:
                notices.recovered(NO_MESSAGE_CONTENT, "prefix commands work again")
            else:
                log.warning("%s: %s", NO_MESSAGE_CONTENT, text)
                notices.add(NO_MESSAGE_CONTENT, text)
            context.stop()
            bot, context = make_bot(conf, control, messages, message_content=message_content)
    finally:
        watching.cancel()
