"""The poster: pure rendering at Discord's limits, and the service against a fake Discord."""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import datetime, timedelta
from pathlib import Path

import disnake
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from etstats.contract import common_pb2, control_pb2, rounds_pb2
from etstats.contract.rounds import parsed_round
from etstats.statsfile import parse
from etstats.statsfile.generator import generate_match
from services.common.discord_text import plain, safe
from services.common.sources import SourceConfig
from services.common.subjects import stage_msg_id
from services.poster.render import as_text, fits, round_embeds, sync_summary
from services.poster.service import PosterConfig
from services.poster.service import main as poster_main
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.fake_discord import FakeDiscord
from tests.inprocess import running
from tests.rounds import parsed

CHANNEL = "123456789012345678"
ADMIN = "223456789012345678"


def stored(
    seed: int,
    players: int = 12,
    *,
    round_id: int = 1,
    round_no: int = 1,
    origin: int = common_pb2.ORIGIN_MONITOR,
    names: list[str] | None = None,
    when: datetime = datetime(2026, 11, 24, 20),
) -> rounds_pb2.StoredRound:
    r1, r2 = generate_match(random.Random(seed), when, players=players, bots=1)
    g = r1 if round_no == 1 else r2
    parsed = parsed_round(
        parse(g.body, g.filename),
        common_pb2.FileRef(
            source="main", filename=g.filename, msg_id=f"main/{g.filename}/00", origin=origin
        ),
        len(g.body),
    )
    result = rounds_pb2.StoredRound(
        file=parsed.file,
        round_id=round_id,
        stamp=parsed.stamp,
        header=parsed.header,
        flags=parsed.flags,
        players=parsed.players,
    )
    for p, name in zip(result.players, names or [], strict=False):
        p.clean_name = name
    if round_no == 2:
        result.map_result.CopyFrom(
            rounds_pb2.MapResult(outcome="round2_attackers", time_to_beat_s=500, round2_time_s=400)
        )
        result.match_totals.extend(parsed.players)
    return result


@pytest.mark.parametrize("players", [2, 6, 12, 24, 40, 64])
@pytest.mark.parametrize("round_no", [1, 2])
def test_round_posts_fit_discord_for_2_to_64_players(players: int, round_no: int) -> None:
    long_names = ["@everyone **x**", "<@&1234567890>", "`" * 30, "_" * 36, "名前" * 18]
    s = stored(players, players, round_no=round_no, names=long_names * 13)
    s.header.server_name = "^1" + "Very long server name " * 20
    embeds = round_embeds(s)
    assert fits(embeds)
    text = str([e.to_dict() for e in embeds])
    assert "@everyone" not in text.replace("@\u200beveryone", "")
    assert "<@&" not in text
    shown = sum(f.value.count("\n") + 1 for e in embeds for f in e.fields if "(" in f.name)
    if players <= 24:
        assert shown == players, "everyone is listed while it fits"


def test_round_post_content() -> None:
    s = stored(3, 8, round_id=42, names=["@everyone **x**"])
    (embed,) = round_embeds(s)
    assert embed.title == safe(f"{s.header.map} · round 1")
    assert "attacked" in embed.description and "defended" in embed.description
    assert embed.footer.text == f"main · {s.stamp} · round #42"
    names = "\n".join(f.value for f in embed.fields)
    assert "@\u200beveryone \\*\\*x\\*\\*" in names
    assert any(f.name == "Awards" and "Top fragger" in f.value for f in embed.fields)
    assert "[bot]" in names


@given(st.text())
def test_terminal_text_shows_names_as_written(text: str) -> None:
    assert plain(safe(text)) == text.replace("\u200b", "")


def test_terminal_posts_have_no_markdown_escapes() -> None:
    embed = disnake.Embed(title=safe("braundorf_b4 · round 1"), description=safe("*Star* ~ `x`"))
    assert as_text([embed]) == "== braundorf_b4 · round 1 ==\n*Star* ~ `x`"


def test_round_two_shows_the_map_result() -> None:
    (embed,) = round_embeds(stored(4, 6, round_no=2))
    result = next(f for f in embed.fields if f.name == "Map result")
    assert "round 2 attackers beat the time" in result.value
    assert "Best over both rounds" in result.value


def test_sync_summary_fits_with_many_rejections() -> None:
    result = control_pb2.SyncResult(
        sync_id="abc",
        imported=800,
        duplicates=3,
        rejected=60,
        started_at_ms=0,
        finished_at_ms=125_000,
        rejections=[f"file{i}.txt: line 3, value 7 'x': not a number" for i in range(60)],
        rounds_per_map={f"map_{i}": i for i in range(200)},
    )
    embed = sync_summary(result)
    assert fits([embed])
    assert "800 imported, 3 duplicates, 60 rejected, in 2:05" in embed.description


@pytest.fixture
async def discord():
    fake = await FakeDiscord().start()
    yield fake
    await fake.stop()


def poster_conf(discord: FakeDiscord, *sources: SourceConfig) -> PosterConfig:
    return PosterConfig(
        token="test-token",
        api_base=discord.api_base,
        round_channel=CHANNEL,
        admin_channel=ADMIN,
        sources=list(sources) or [SourceConfig("main", dir=Path("."))],
        notice_cooldown_s=0.5,
    )


async def publish(bus, s: rounds_pb2.StoredRound, attempt: int = 0) -> None:
    await bus.publish(
        f"stats.stored.{s.file.source}",
        s.SerializeToString(),
        msg_id=stage_msg_id("stored", f"{s.file.msg_id}:{attempt}"),
    )


async def until(check, within: float = 15) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_monitored_round_becomes_one_post(nats_server, bus, discord) -> None:
    s = stored(5, 10, round_id=7, names=["@everyone **x**"])
    async with running("poster", poster_main, poster_conf(discord), nats_server.url):
        await publish(bus, s)
        await publish(bus, s, attempt=1)  # storage re-emits after a redelivery
        await until(lambda: discord.posts(CHANNEL))
        await asyncio.sleep(1)
    (post,) = discord.posts(CHANNEL)
    assert post["allowed_mentions"] == {"parse": []}
    assert post["nonce"] == "etstats-r7"
    (embed,) = post["embeds"]
    assert embed["title"] == safe(f"{s.header.map} · round 1")
    assert embed["footer"]["text"].endswith("round #7")
    request = next(c for c in discord.calls if c.method == "POST")
    assert request.json["enforce_nonce"] is True


async def test_sync_rounds_are_not_posted_but_summarised(nats_server, bus, discord) -> None:
    async with running("poster", poster_main, poster_conf(discord), nats_server.url):
        for i in range(3):
            await publish(bus, stored(10 + i, round_id=100 + i, origin=common_pb2.ORIGIN_SYNC))
        result = control_pb2.SyncResult(
            sync_id="s1",
            imported=3,
            requester=control_pb2.Requester(channel_id="323456789012345678"),
            rounds_per_map={"supply": 3},
        )
        await bus.publish("stats.sync.result.s1", result.SerializeToString(), "sync-result:s1")
        await until(lambda: discord.posts("323456789012345678"))
        await asyncio.sleep(1)
    assert discord.posts(CHANNEL) == []
    (summary,) = discord.posts("323456789012345678")
    assert summary["embeds"][0]["title"] == "Sync done: 3 rounds imported"


async def test_a_429_is_waited_out_and_a_500_retried(nats_server, bus, discord) -> None:
    waits = REGISTRY.get_sample_value("etstats_poster_rate_limited_total") or 0
    discord.fail(r"POST /channels/\d+/messages", 429, times=1, retry_after=0.4)
    discord.fail(r"POST /channels/\d+/messages", 500, times=1)
    async with running("poster", poster_main, poster_conf(discord), nats_server.url):
        await publish(bus, stored(6, round_id=8))
        await until(lambda: discord.posts(CHANNEL), within=20)
        await asyncio.sleep(0.5)
    assert len(discord.posts(CHANNEL)) == 1
    posts = [c for c in discord.calls if c.method == "POST"]
    assert len(posts) == 3  # 429, 500, then the post
    assert (REGISTRY.get_sample_value("etstats_poster_rate_limited_total") or 0) == waits + 1


async def test_killed_between_posting_and_acking_leaves_one_message(
    nats_server, bus, discord
) -> None:
    discord.hold_answers = asyncio.Event()
    s = stored(7, round_id=9)
    async with running("poster", poster_main, poster_conf(discord), nats_server.url) as first:
        await publish(bus, s)
        await until(lambda: discord.posts(CHANNEL))  # created, but the answer is held back
        await first.kill()
    discord.hold_answers.set()
    async with running("poster", poster_main, poster_conf(discord), nats_server.url):
        await until(lambda: len([c for c in discord.calls if c.method == "POST"]) >= 2, within=60)
        await asyncio.sleep(1)
    assert len(discord.posts(CHANNEL)) == 1


async def test_posts_come_in_round_order(nats_server, bus, discord) -> None:
    discord.fail(r"POST /channels/\d+/messages", 429, times=2, retry_after=0.3)
    rounds = [
        stored(
            20 + i, 4, round_id=200 + i, when=datetime(2026, 11, 24, 18) + timedelta(minutes=30 * i)
        )
        for i in range(5)
    ]
    async with running("poster", poster_main, poster_conf(discord), nats_server.url):
        for s in rounds:
            await publish(bus, s)
        await until(lambda: len(discord.posts(CHANNEL)) == 5, within=30)
    footers = [p["embeds"][0]["footer"]["text"] for p in discord.posts(CHANNEL)]
    assert footers == [f"main · {s.stamp} · round #{s.round_id}" for s in rounds]


async def test_a_refused_channel_gives_one_notice_and_blocks_nobody(
    nats_server, bus, discord
) -> None:
    discord.known_channels = {CHANNEL, ADMIN}
    gone = SourceConfig("gone", dir=Path("."), round_channel_id="999999999999999999")
    main = SourceConfig("main", dir=Path("."))
    async with running("poster", poster_main, poster_conf(discord, gone, main), nats_server.url):
        for i in range(3):
            s = stored(30 + i, 4, round_id=300 + i)
            s.file.source = "gone"
            await publish(bus, s)
        await publish(bus, stored(40, 4, round_id=400))
        await until(lambda: discord.posts(CHANNEL) and discord.posts(ADMIN), within=20)
        await asyncio.sleep(3)
    assert len(discord.posts(CHANNEL)) == 1
    (notice,) = discord.posts(ADMIN)
    assert notice["embeds"][0]["title"] == "Posts refused in channel 999999999999999999: 3"
    assert "Unknown Channel" in notice["embeds"][0]["description"]
    tries = [c for c in discord.calls if c.path == "/channels/999999999999999999/messages"]
    assert len(tries) == 3, "one try per round, never retried"


async def test_notices_are_grouped_rate_limited_and_recover() -> None:
    from services.common.notices import Notices

    sent: list[str] = []

    async def send(title: str, text: str, nonce: str) -> None:
        sent.append(f"{title}|{text}")

    notices = Notices(send, cooldown_s=60, group_s=2)
    t0 = time.monotonic()
    for i in range(12):
        notices.add("Rejected files", f"file{i}.txt: bad")
    await notices.flush(t0 + 1)  # still gathering the burst
    assert sent == []
    await notices.flush(t0 + 3)
    assert sent[0].startswith("Rejected files: 12|file0.txt: bad") and sent[0].endswith("+2 more")
    notices.add("Rejected files", "late.txt: bad")
    await notices.flush(t0 + 30)  # within the cooldown: held back
    assert len(sent) == 1
    notices.recovered("Rejected files", "all good")
    await notices.flush(t0 + 70)
    assert sorted(s.split("|")[0] for s in sent[1:]) == [
        "Rejected files: 1",
        "Rejected files: recovered: 1",
    ]


async def test_a_late_round_1_corrects_the_orphan_round_2_post(
    nats_server, bus, discord, database_url: str
) -> None:
    """R2 arrives first and is posted as an orphan; when its R1 arrives, storage
    re-pairs it and the poster edits that post instead of leaving the orphan note."""
    r1, r2 = generate_match(random.Random(11), datetime(2026, 11, 24, 20, 0), players=6)
    storage_conf = StorageConfig(database_url, 2, backup_interval_s=0)
    async with (
        running("storage", storage_main, storage_conf, nats_server.url),
        running("poster", poster_main, poster_conf(discord), nats_server.url),
    ):
        for generated in (r2, r1):
            message = parsed(generated, origin=common_pb2.ORIGIN_MONITOR)
            await bus.publish(
                f"stats.parsed.{message.file.source}",
                message.SerializeToString(),
                msg_id=stage_msg_id("parsed", message.file.msg_id),
            )
        await until(lambda: len(discord.posts(CHANNEL)) == 2)
        first = discord.posts(CHANNEL)[0]
        await until(lambda: "edited_timestamp" in first)
    assert [c.method for c in discord.calls if "/messages" in c.path] == ["POST", "POST", "PATCH"]
    (embed,) = first["embeds"]
    text = json.dumps(embed)
    assert "round 1 missing" not in text
    assert embed["title"] == safe(f"{r2.header.map} · round 2")
    assert len(discord.posts(CHANNEL)) == 2
    edited = REGISTRY.get_sample_value(
        "etstats_poster_posts_total", {"kind": "round", "outcome": "edited"}
    )
    assert edited and edited >= 1
