"""Runs the disnake bot beside the bus connection."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import disnake
from disnake.ext import commands

from services.common.config import Env
from services.common.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BotConfig:
    token: str
    prefix: str

    @classmethod
    def from_env(cls, env: Env) -> BotConfig:
        return cls(token=env.str("DISCORD_TOKEN"), prefix=env.str("COMMAND_PREFIX", "!"))


def make_bot(conf: BotConfig) -> commands.Bot:
    intents = disnake.Intents.default()
    intents.message_content = True
    return commands.Bot(
        command_prefix=conf.prefix,
        intents=intents,
        allowed_mentions=disnake.AllowedMentions.none(),
        help_command=None,
    )


async def main(rt: Runtime, conf: BotConfig) -> None:
    bot = make_bot(conf)
    rt.health.add_check("discord", bot.is_ready)
    login = asyncio.create_task(bot.start(conf.token))
    stop = asyncio.create_task(rt.stop.wait())
    try:
        await asyncio.wait({login, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        await bot.close()
    if login.done() and not login.cancelled() and login.exception() is not None:
        raise login.exception()  # type: ignore[misc]
