"""The end-of-session post, end to end: live rounds through the parser, storage
and the poster to the fake Discord; once no round came for the gap, the
session's summary is posted once, also when the poster was down meanwhile or
runs twice, and not again after a restart; with its picture. Rounds a sync
brought in start no session post."""

from __future__ import annotations

import asyncio
import io
import random
import time
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from PIL import Image

from etstats.statsfile.generator import GeneratedFile, generate_match
from services.common import session_image
from services.parser.service import ParserConfig
from services.parser.service import main as parser_main
from services.poster.service import main as poster_main
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.fake_discord import FakeDiscord, pings_nobody
from tests.inprocess import running
from tests.rounds import publish_raw
from tests.test_poster import CHANNEL, poster_conf
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

GAP_S = 4.0


def played_at(g: GeneratedFile, when: datetime) -> GeneratedFile:
    """The file as written at `when` (its name carries its stamp)."""
    return replace(g, filename=f"{when:%Y-%m-%d-%H%M%S}" + g.filename[17:])


def session_posts(discord: FakeDiscord) -> list[dict]:
    return [
        p
        for p in discord.posts(CHANNEL)
        if p["embeds"] and str(p["embeds"][0]["title"]).startswith("Session")
    ]


async def test_a_session_is_posted_once_when_it_ended(
    nats_server, database_url: str, bus, discord: FakeDiscord
) -> None:
    url = nats_server.url
    now = datetime.now().replace(microsecond=0)
    r1, r2 = generate_match(random.Random(3), now - timedelta(minutes=30), players=6)
    live = [played_at(r1, now - timedelta(seconds=2)), played_at(r2, now - timedelta(seconds=1))]
    o1, o2 = generate_match(random.Random(4), now - timedelta(days=20), players=6)
    poster = replace(poster_conf(discord), session_gap_s=GAP_S)
    async with (
        running("storage", storage_main, StorageConfig(database_url, 2, session_gap_s=GAP_S), url),
        running("parser", parser_main, ParserConfig(batch=8), url),
    ):
        async with running("poster", poster_main, poster, url):
            for g in (o1, o2):  # a sync's old rounds: stored, never posted
                await publish_raw(bus, g.filename, g.body)
            for g in live:
                await publish_raw(bus, g.filename, g.body, recent=True)
            await wait_until(lambda: len(discord.posts(CHANNEL)) == 2, what="both rounds posted")
            posted_at = time.monotonic()
        # Down before the gap passed: the wait for the session's end is on the bus.
        assert time.monotonic() - posted_at < GAP_S, "the poster stopped in time"
        await asyncio.sleep(GAP_S + 0.5)
        assert session_posts(discord) == []
        async with (  # two replicas: both see the wait is over, one post is made
            running("poster", poster_main, poster, url),
            running("poster", poster_main, poster, url),
        ):
            await wait_until(lambda: bool(session_posts(discord)), within=20, what="the post")
            await asyncio.sleep(GAP_S + 1.5)  # later looks find nothing to announce
        async with running("poster", poster_main, poster, url):
            await asyncio.sleep(GAP_S + 1.5)
    (post,) = session_posts(discord)
    overview, players = post["embeds"]
    assert overview["description"].startswith("2 rounds on 1 map, ")
    assert overview["description"].endswith(", 6 players.")
    assert overview["footer"]["text"].startswith("main · session of round #")
    assert players["title"] == "Players 1 to 6 of 6"
    assert post["nonce"].startswith("etstats-x") and pings_nobody(post.get("allowed_mentions"))
    (attachment,) = post["attachments"]  # the session's picture beside its text
    assert attachment["filename"] == "session.png"
    assert overview["image"]["url"] == attachment["url"]
    picture = Image.open(io.BytesIO(discord.attachment(post, "session.png")))
    assert picture.format == "PNG" and picture.width == session_image.WIDTH
    assert len(discord.posts(CHANNEL)) == 3, "the two rounds and their session, nothing more"
    assert [(c.method, c.path, c.status) for c in discord.refusals()] == []
