"""The end-of-session post, end to end: live rounds through the parser, storage
and the poster to the fake Discord; once no round came for the gap, the
session's summary is posted once, also when the poster was down meanwhile or
runs twice; with its picture. Rounds a sync brought in start no session post.
A backlog of several sessions' rounds posts each session; a round posted after
the wait though within the gap by its stamp completes the session's post."""

from __future__ import annotations

import asyncio
import io
import random
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from nats.js.errors import NoKeysError
from PIL import Image

from etstats.statsfile.generator import GeneratedFile, generate_match
from services.common import session_image
from services.common.bus import Bus
from services.common.durables import POSTER_SESSIONS
from services.common.subjects import SESSION_WATCH_BUCKET
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


async def watched(bus: Bus) -> list[str]:
    """The sources whose session's end is awaited (their watch in the bucket)."""
    try:
        return sorted(await (await bus.key_value(SESSION_WATCH_BUCKET)).keys())
    except NoKeysError:
        return []


async def settled(bus: Bus) -> bool:
    """Nothing left to post: no watch waits, no announcement is pending or in hand."""
    info = await bus.js.consumer_info(bus.stream, POSTER_SESSIONS.name)
    return not await watched(bus) and not info.num_pending and not info.num_ack_pending


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
        # Down before the gap passed: the wait for the session's end is on the bus.
        assert await watched(bus) == ["main"]
        await asyncio.sleep(GAP_S + 0.5)  # the gap passes while no poster runs
        assert session_posts(discord) == [] and await watched(bus) == ["main"]
        async with (  # two replicas: both see the wait is over, one post is made
            running("poster", poster_main, poster, url),
            running("poster", poster_main, poster, url),
        ):
            await wait_until(lambda: bool(session_posts(discord)), within=20, what="the post")
            await wait_until(lambda: settled(bus), what="no watch, no announcement left")
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


def rounds_of(post: dict) -> str:
    """`2 rounds on 1 map`: what a session's post says it holds."""
    return str(post["embeds"][0]["description"]).split(",")[0]


async def test_each_session_of_a_backlog_is_posted(
    nats_server, database_url: str, bus, discord: FakeDiscord
) -> None:
    """The poster was down longer than the gap: two sessions' rounds, minutes
    apart by their stamps, are posted within seconds when it is back. The
    first session ends where the second begins, by the stamps."""
    url = nats_server.url
    now = datetime.now().replace(microsecond=0)
    earlier = generate_match(random.Random(5), now - timedelta(minutes=30), players=6)
    later = generate_match(random.Random(6), now - timedelta(minutes=30), players=4)
    backlog = [
        played_at(earlier[0], now - timedelta(seconds=61)),
        played_at(earlier[1], now - timedelta(seconds=60)),
        played_at(later[0], now - timedelta(seconds=2)),
        played_at(later[1], now - timedelta(seconds=1)),
    ]
    poster = replace(poster_conf(discord), session_gap_s=GAP_S)
    async with (
        running("storage", storage_main, StorageConfig(database_url, 2, session_gap_s=GAP_S), url),
        running("parser", parser_main, ParserConfig(batch=8), url),
    ):
        for g in backlog:  # the fetcher caught up: every round is recent, to post
            await publish_raw(bus, g.filename, g.body, recent=True)
        async with running("poster", poster_main, poster, url):
            await wait_until(lambda: len(session_posts(discord)) == 2, what="both sessions")
            await wait_until(lambda: settled(bus), what="no watch, no announcement left")
    first, second = session_posts(discord)
    assert [rounds_of(first), rounds_of(second)] == ["2 rounds on 1 map"] * 2
    assert first["embeds"][0]["description"].endswith(", 6 players.")
    assert second["embeds"][0]["description"].endswith(", 4 players.")
    assert len(discord.posts(CHANNEL)) == 6, "four rounds and two sessions"
    assert [(c.method, c.path, c.status) for c in discord.refusals()] == []


async def test_a_round_posted_after_the_wait_completes_its_sessions_post(
    nats_server, database_url: str, bus, discord: FakeDiscord
) -> None:
    """Round 2 ended seconds after round 1 (one session by the stamps) but came
    late (a short outage): round 1's session was posted when the wait ran out,
    and that post is edited to the whole session, still one message."""
    url = nats_server.url
    now = datetime.now().replace(microsecond=0)
    r1, r2 = generate_match(random.Random(7), now - timedelta(minutes=30), players=6)
    r1, r2 = played_at(r1, now - timedelta(seconds=2)), played_at(r2, now - timedelta(seconds=1))
    poster = replace(poster_conf(discord), session_gap_s=GAP_S)
    async with (
        running("storage", storage_main, StorageConfig(database_url, 2, session_gap_s=GAP_S), url),
        running("parser", parser_main, ParserConfig(batch=8), url),
        running("poster", poster_main, poster, url),
    ):
        await publish_raw(bus, r1.filename, r1.body, recent=True)
        await wait_until(lambda: bool(session_posts(discord)), what="round 1's session")
        await wait_until(lambda: settled(bus), what="no watch, no announcement left")
        (post,) = session_posts(discord)
        assert rounds_of(post) == "1 round on 1 map" and post["edited_timestamp"] is None
        await publish_raw(bus, r2.filename, r2.body, recent=True)
        await wait_until(lambda: len(discord.posts(CHANNEL)) == 3, what="round 2 posted")
        await wait_until(lambda: rounds_of(post) == "2 rounds on 1 map", what="the post edited")
        await wait_until(lambda: settled(bus), what="no watch, no announcement left")
    (edited,) = session_posts(discord)
    assert edited["id"] == post["id"] and edited["edited_timestamp"] is not None
    overview, players = edited["embeds"]
    assert players["title"] == "Players 1 to 6 of 6"
    (attachment,) = edited["attachments"]  # the picture drawn anew, of both rounds
    assert overview["image"]["url"] == attachment["url"]
    assert len(discord.posts(CHANNEL)) == 3, "two rounds and their session, nothing more"
    assert [(c.method, c.path, c.status) for c in discord.refusals()] == []
