"""Rounds to post have a lane of their own through parser and storage: a live
round is posted while a sync's backlog is still being imported, and live rounds
are posted in play order with two replicas of every stage."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from etstats.statsfile.generator import generate_match
from services.common.bus import Bus
from services.common.discord_text import safe
from services.common.sources import SourceConfig
from services.parser.service import ParserConfig
from services.parser.service import main as parser_main
from services.poster.service import PosterConfig
from services.poster.service import main as poster_main
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.fake_discord import FakeDiscord
from tests.inprocess import running
from tests.rounds import publish_raw
from tests.waiting import wait_until

pytestmark = pytest.mark.service

CHANNEL = "323456789012345678"
BACKLOG = 400


@pytest.fixture
async def discord():
    fake = await FakeDiscord().start()
    yield fake
    await fake.stop()


def posted_titles(discord: FakeDiscord) -> list[str]:
    return [m["embeds"][0]["title"] for m in discord.posts(CHANNEL) if m.get("embeds")]


def poster_conf(discord: FakeDiscord) -> PosterConfig:
    source = SourceConfig("main", dir=Path("."))
    return PosterConfig("token", discord.api_base, CHANNEL, None, [source], 600)


async def stored_count(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM rounds"))
    finally:
        await conn.close()


async def test_a_live_round_is_posted_ahead_of_a_sync_backlog(
    nats_server, bus: Bus, database_url: str, discord: FakeDiscord
) -> None:
    rng = random.Random(5)
    start = datetime.now() - timedelta(days=30)
    for i in range(BACKLOG // 2):
        for g in generate_match(rng, start + timedelta(hours=i), players=8):
            await publish_raw(bus, g.filename, g.body)  # an old round: the backlog
    live, _ = generate_match(rng, datetime.now(), players=8, map_name="supply")
    await publish_raw(bus, live.filename, live.body, recent=True)
    async with (
        running("storage", storage_main, StorageConfig(database_url, 4), nats_server.url),
        running("parser", parser_main, ParserConfig(batch=16), nats_server.url),
        running("poster", poster_main, poster_conf(discord), nats_server.url),
    ):
        await wait_until(lambda: bool(posted_titles(discord)), within=30, what="the live post")
        behind = await stored_count(database_url)
        assert behind < BACKLOG, f"posted only after {behind} old rounds were stored"
        assert posted_titles(discord) == ["supply · round 1"]


async def test_live_rounds_are_posted_in_play_order_by_two_replicas_of_each_stage(
    nats_server, bus: Bus, database_url: str, discord: FakeDiscord
) -> None:
    rng = random.Random(6)
    now = datetime.now()
    maps = ["supply", "te_escape2", "braundorf_b4", "sw_goldrush_te", "etl_adlernest"] * 2
    played = []
    for i, name in enumerate(maps):
        g, _ = generate_match(
            rng, now - timedelta(hours=2) + timedelta(minutes=10 * i), map_name=name
        )
        played.append(g)
    storage, parser = StorageConfig(database_url, 4), ParserConfig(batch=16)
    async with (
        running("storage", storage_main, storage, nats_server.url),
        running("storage", storage_main, storage, nats_server.url),
        running("parser", parser_main, parser, nats_server.url),
        running("parser", parser_main, parser, nats_server.url),
        running("poster", poster_main, poster_conf(discord), nats_server.url),
        running("poster", poster_main, poster_conf(discord), nats_server.url),
    ):
        for g in played:  # as monitoring publishes them: in play order, in a burst
            await publish_raw(bus, g.filename, g.body, recent=True)
        await wait_until(
            lambda: len(posted_titles(discord)) == len(played), within=30, what="every post"
        )
        assert posted_titles(discord) == [safe(f"{g.header.map} · round 1") for g in played]
