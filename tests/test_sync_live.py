"""A sync run while rounds are played: whether a round is posted depends on the
round (its file's age, the poster's ledger), never on which path brought it in."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from etstats.contract import common_pb2
from etstats.statsfile.generator import generate_match
from services.common.control import Control
from services.common.sources import SourceConfig
from services.fetcher.service import main as fetcher_main
from services.parser.service import ParserConfig
from services.parser.service import main as parser_main
from services.poster.service import main as poster_main
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.fake_discord import FakeDiscord
from tests.inprocess import running
from tests.test_fetcher import Raw, caught_up, conf, polled, sample, write_aged
from tests.test_ops_cli import cli
from tests.test_poster import CHANNEL, poster_conf
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e


def played(seed: int, minute: int) -> tuple[str, bytes]:
    """A round file stamped today, `minute` minutes into the last ten (into the day,
    just after midnight), so that `sync today` takes it, in the order of `minute`."""
    now = datetime.now()
    start = max(now - timedelta(minutes=10), datetime.combine(now.date(), datetime.min.time()))
    when = start.replace(microsecond=0) + timedelta(minutes=minute)
    r1, _ = generate_match(random.Random(seed), when, players=6)
    return f"{when:%Y-%m-%d-%H%M%S}-{r1.header.map}-round-1.txt", r1.body


def posted_stamps(discord: FakeDiscord) -> list[str]:
    """The file stamp of each round post (the footer: source · stamp · round #id)."""
    return [p["embeds"][0]["footer"]["text"].split(" · ")[1] for p in discord.posts(CHANNEL)]


def stamp_of(name: str) -> str:
    day, clock = name[:10], name[11:17]
    return f"{day} {clock[:2]}:{clock[2:4]}:{clock[4:]}"


async def test_sync_today_while_rounds_are_played_posts_each_live_round_once(
    nats_server, bus, database_url: str, tmp_path: Path
) -> None:
    """`etstats sync today` meets one live round monitoring published first (a
    JetStream duplicate for the sync: counted, not awaited) and one only the sync
    fetched (posted all the same: it is recent); an older file of today is imported
    unposted. The parser starts last, so the sync's listing surely precedes storage."""
    box = tmp_path / "box"
    box.mkdir()
    backlog, backlog_body = played(90, 0)
    write_aged(box / backlog, backlog_body, timedelta(hours=2))  # outside the 1h window
    first, first_body = played(91, 3)  # monitoring publishes it
    second, second_body = played(92, 6)  # only the sync does
    url = nats_server.url
    discord = await FakeDiscord().start()
    raw = await Raw().start(bus)
    settings = conf(SourceConfig("box", dir=box), catchup=timedelta(hours=1), sync_settle_s=120)
    try:
        async with (
            running("storage", storage_main, StorageConfig(database_url, 2), url),
            running("poster", poster_main, poster_conf(discord, settings.sources[0]), url),
            running("fetcher", fetcher_main, settings, url) as fetcher,
        ):
            await caught_up(fetcher, bus, "box")
            (box / first).write_bytes(first_body)
            await wait_until(lambda: first in raw.names(), what="the live round published")
            await Control(bus).set_monitoring("box", False, "test")
            await wait_until(
                lambda: sample("etstats_fetcher_monitoring", source="box") == 0,
                what="monitoring off",
            )
            (box / second).write_bytes(second_body)
            sync = asyncio.create_task(cli(url, "sync", "today", within=60))
            await wait_until(lambda: second in raw.names(), what="the sync's last file published")
            async with running("parser", parser_main, ParserConfig(batch=8), url):
                code, out, err = await asyncio.wait_for(sync, 30)
                await wait_until(lambda: len(discord.posts(CHANNEL)) == 2, what="two posts")
                await Control(bus).set_monitoring("box", True, "test")
                await polled("box", times=3)  # monitoring again: nothing posted twice
    finally:
        await discord.stop()
    assert code == 0, err
    assert "2 imported, 0 duplicates, 0 rejected, 1 already in the pipeline" in out
    assert sorted(posted_stamps(discord)) == [stamp_of(first), stamp_of(second)]
    # Core NATS shows every publish, the stream keeps the first of each file.
    seen = [(f.file.filename, f.file.origin) for f in raw.files]
    assert seen == [
        (first, common_pb2.ORIGIN_MONITOR),
        (backlog, common_pb2.ORIGIN_SYNC),
        (first, common_pb2.ORIGIN_SYNC),  # the duplicate the stream dropped
        (second, common_pb2.ORIGIN_SYNC),
    ], seen
