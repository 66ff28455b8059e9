"""The poster: pure rendering at Discord's limits, and the service against a fake Discord."""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import disnake
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from etstats.contract import common_pb2, control_pb2, files_pb2, rounds_pb2
from etstats.contract.rounds import parsed_round
from etstats.statsfile import parse
from etstats.statsfile.generator import generate_match
from services.common.discord_text import plain, safe
from services.common.durables import poster_live
from services.common.render import as_text, fits, round_embeds, sync_summary
from services.common.scoreboard import FILENAME
from services.common.sources import SourceConfig
from services.common.subjects import stage_msg_id, stored_subject
from services.poster.service import PosterConfig
from services.poster.service import main as poster_main
from services.poster.sinks import DiscordSink, PermanentPostError
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.fake_discord import FakeDiscord, message_errors
from tests.inprocess import running
from tests.rounds import parsed
from tests.waiting import wait_until

CHANNEL = "123456789012345678"
ADMIN = "223456789012345678"


def stored(
    seed: int,
    players: int = 12,
    *,
    round_id: int = 1,
    round_no: int = 1,
    recent: bool = True,
    names: list[str] | None = None,
    when: datetime = datetime(2026, 11, 24, 20),
) -> rounds_pb2.StoredRound:
    r1, r2 = generate_match(random.Random(seed), when, players=players, bots=1)
    g = r1 if round_no == 1 else r2
    parsed = parsed_round(
        parse(g.body, g.filename),
        common_pb2.FileRef(
            source="main", filename=g.filename, msg_id=f"main/{g.filename}/00", recent=recent
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


def shown(text: str | None) -> str:
    """An embed text, which disnake types as optional: the renderer always sets it."""
    assert text is not None
    return text


@pytest.mark.unit
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
    listed = sum(
        shown(f.value).count("\n") + 1 for e in embeds for f in e.fields if "(" in shown(f.name)
    )
    if players <= 24:
        assert listed == players, "everyone is listed while it fits"


@pytest.mark.unit
def test_round_post_content() -> None:
    s = stored(3, 8, round_id=42, names=["@everyone **x**"])
    (embed,) = round_embeds(s)
    assert embed.title == safe(f"{s.header.map} · round 1")
    description = shown(embed.description)
    assert "attacked" in description and "defended" in description
    assert embed.footer.text == f"main · {s.stamp} · round #42"
    names = "\n".join(shown(f.value) for f in embed.fields)
    assert "@\u200beveryone \\*\\*x\\*\\*" in names
    assert any(f.name == "Awards" and "Top fragger" in shown(f.value) for f in embed.fields)
    assert "[bot]" in names


@pytest.mark.unit
@given(st.text())
def test_terminal_text_shows_names_as_written(text: str) -> None:
    assert plain(safe(text)) == text.replace("\u200b", "")


@pytest.mark.unit
def test_terminal_posts_have_no_markdown_escapes() -> None:
    embed = disnake.Embed(title=safe("braundorf_b4 · round 1"), description=safe("*Star* ~ `x`"))
    assert as_text([embed]) == "== braundorf_b4 · round 1 ==\n*Star* ~ `x`"


@pytest.mark.unit
def test_round_two_shows_the_map_result() -> None:
    (embed,) = round_embeds(stored(4, 6, round_no=2))
    result = next(f for f in embed.fields if f.name == "Map result")
    assert "round 2 attackers beat the time" in shown(result.value)
    assert "Best over both rounds" in shown(result.value)


@pytest.mark.unit
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
    assert "800 imported, 3 duplicates, 60 rejected, in 2:05" in shown(embed.description)


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
    """As storage publishes: the poster's consumer of the source exists first."""
    await bus.ensure_consumer(poster_live(s.file.source))
    await bus.publish(
        stored_subject(s),
        s.SerializeToString(),
        msg_id=stage_msg_id("stored", f"{s.file.msg_id}:{attempt}"),
    )


def posts_counted(outcome: str, kind: str = "round") -> float:
    """The poster's count of posts with `outcome` so far (the registry is per process)."""
    labels = {"kind": kind, "outcome": outcome}
    return REGISTRY.get_sample_value("etstats_poster_posts_total", labels) or 0


def channel_posts(discord: FakeDiscord) -> list[str]:
    """The paths of every message create the fake answered, refused or not."""
    return [c.path for c in discord.calls if c.method == "POST" and "/messages" in c.path]


@pytest.mark.service
async def test_a_monitored_round_becomes_one_post(nats_server, bus, discord) -> None:
    s = stored(5, 10, round_id=7, names=["@everyone **x**"])
    seen_before = posts_counted("already_posted")
    async with running("poster", poster_main, poster_conf(discord), nats_server.url):
        await publish(bus, s)
        await publish(bus, s, attempt=1)  # storage re-emits after a redelivery
        await wait_until(
            lambda: posts_counted("already_posted") > seen_before, what="the re-emit skipped"
        )
    (post,) = discord.posts(CHANNEL)
    assert post["allowed_mentions"] == {"parse": []}
    assert post["nonce"] == "etstats-r7"
    (embed,) = post["embeds"]
    assert embed["title"] == safe(f"{s.header.map} · round 1")
    assert embed["footer"]["text"].endswith("round #7")
    request = next(c for c in discord.calls if c.method == "POST")
    assert request.json["enforce_nonce"] is True


@pytest.mark.service
async def test_older_rounds_are_not_posted_but_summarised(nats_server, bus, discord) -> None:
    """A round of a file older than the catch-up window is imported, never posted."""
    async with running("poster", poster_main, poster_conf(discord), nats_server.url):
        for i in range(3):
            await publish(bus, stored(10 + i, round_id=100 + i, recent=False))
        sentinel = stored(13, round_id=103)  # recent, after them on the same subject
        await publish(bus, sentinel)
        result = control_pb2.SyncResult(
            sync_id="s1",
            imported=3,
            requester=control_pb2.Requester(channel_id="323456789012345678"),
            rounds_per_map={"supply": 3},
        )
        await bus.publish("stats.sync.result.s1", result.SerializeToString(), "sync-result:s1")
        await wait_until(lambda: discord.posts("323456789012345678"), what="the summary")
        await wait_until(lambda: discord.posts(CHANNEL), what="the round after the sync rounds")
    (only,) = discord.posts(CHANNEL)  # the older rounds were handled first, and not posted
    assert only["nonce"] == f"etstats-r{sentinel.round_id}"
    (summary,) = discord.posts("323456789012345678")
    assert summary["embeds"][0]["title"] == "Sync done: 3 rounds imported"


@pytest.mark.service
async def test_a_429_is_waited_out_and_a_500_retried(nats_server, bus, discord) -> None:
    waits = REGISTRY.get_sample_value("etstats_poster_rate_limited_total") or 0
    posted = posts_counted("posted")
    discord.rate_limit(r"POST /channels/\d+/messages", times=1, retry_after=0.4)
    discord.fail(r"POST /channels/\d+/messages", 500, times=1)
    async with running("poster", poster_main, poster_conf(discord), nats_server.url):
        await publish(bus, stored(6, round_id=8))
        await wait_until(lambda: posts_counted("posted") > posted, what="the post, done")
    assert len(discord.posts(CHANNEL)) == 1
    statuses = [c.status for c in discord.calls if c.method == "POST"]
    assert statuses == [429, 500, 200]
    assert (REGISTRY.get_sample_value("etstats_poster_rate_limited_total") or 0) == waits + 1


@pytest.mark.service
async def test_killed_between_posting_and_acking_leaves_one_message(
    nats_server, bus, discord
) -> None:
    discord.hold_answers = asyncio.Event()
    s = stored(7, round_id=9)
    posted = posts_counted("posted")
    async with running("poster", poster_main, poster_conf(discord), nats_server.url) as first:
        await publish(bus, s)
        await wait_until(lambda: discord.posts(CHANNEL), what="the message created")
        await first.kill()  # before it heard the answer, held back
    discord.hold_answers.set()
    async with running("poster", poster_main, poster_conf(discord), nats_server.url):
        await wait_until(
            lambda: posts_counted("posted") > posted, within=60, what="the redelivery posted"
        )
    assert len(channel_posts(discord)) == 2, "posted again after the kill"
    assert len(discord.posts(CHANNEL)) == 1, "Discord kept the first message (enforce_nonce)"


@pytest.mark.service
async def test_posts_come_in_round_order(nats_server, bus, discord) -> None:
    discord.rate_limit(r"POST /channels/\d+/messages", times=2, retry_after=0.3)
    rounds = [
        stored(
            20 + i, 4, round_id=200 + i, when=datetime(2026, 11, 24, 18) + timedelta(minutes=30 * i)
        )
        for i in range(5)
    ]
    async with running("poster", poster_main, poster_conf(discord), nats_server.url):
        for s in rounds:
            await publish(bus, s)
        await wait_until(lambda: len(discord.posts(CHANNEL)) == 5, within=30, what="5 posts")
    footers = [p["embeds"][0]["footer"]["text"] for p in discord.posts(CHANNEL)]
    assert footers == [f"main · {s.stamp} · round #{s.round_id}" for s in rounds]


@pytest.mark.service
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
        await wait_until(
            lambda: discord.posts(CHANNEL) and discord.posts(ADMIN), what="the post and the notice"
        )
    assert len(discord.posts(CHANNEL)) == 1
    (notice,) = discord.posts(ADMIN)
    assert notice["embeds"][0]["title"] == "Posts refused in channel 999999999999999999: 3"
    assert "Unknown Channel" in notice["embeds"][0]["description"]
    tries = [c for c in discord.calls if c.path == "/channels/999999999999999999/messages"]
    assert len(tries) == 3, "one try per round, never retried"


@pytest.mark.unit
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


@pytest.mark.unit
async def test_notices_keep_lines_until_sent_with_nonces_of_their_own() -> None:
    """Two replicas flushing in the same second send different nonces; a notice
    sent again for the same messages (after a restart) has the same one; a line is
    done (its message acked) only once a notice carrying it was sent."""
    from services.common.notices import Notices

    nonces: list[str] = []
    acked: list[str] = []
    refuse = [True]

    async def send(title: str, text: str, nonce: str) -> None:
        if refuse[0]:
            raise ConnectionError("Discord is not reachable")
        nonces.append(nonce)

    def ack(key: str):
        async def done() -> None:
            acked.append(key)

        return done

    first, second, restarted = (Notices(send, cooldown_s=60, group_s=0) for _ in range(3))
    first.add("Rejected files", "a.txt: bad", "rejection-1", ack("1"))
    t0 = time.monotonic()
    await first.flush(t0)  # refused: kept, nothing acked
    assert (nonces, acked) == ([], [])
    assert first.add("Rejected files", "a.txt: bad", "rejection-1", ack("1 again"))
    refuse[0] = False
    await first.flush(t0 + 0.5)  # within the retry's backoff
    assert nonces == []
    await first.flush(t0 + 2)
    assert acked == ["1 again"]  # the newer delivery's ack, and only once
    assert not first.add("Rejected files", "a.txt: bad", "rejection-1", ack("1 late"))
    second.add("Rejected files", "b.txt: bad", "rejection-2", ack("2"))
    await second.flush(t0 + 2)
    restarted.add("Rejected files", "a.txt: bad", "rejection-1", ack("1 restarted"))
    await restarted.flush(t0 + 2)
    assert nonces[0] != nonces[1] and nonces[2] == nonces[0]
    assert all(len(n) <= 25 for n in nonces)
    first.add("Watchdog", "storage gone")
    second.add("Watchdog", "storage gone")
    await first.flush(t0 + 3)
    await second.flush(t0 + 3)
    assert nonces[3] != nonces[4], "lines without a message get nonces of their own"


@pytest.mark.service
async def test_a_rejection_noticed_before_a_poster_restart_is_still_sent(
    nats_server, bus, discord
) -> None:
    """Killed inside the grouping window, the poster had not acked the rejection:
    the next one sends the notice."""
    rejection = files_pb2.Rejection(
        file=common_pb2.FileRef(source="main", filename="broken.txt", msg_id="main/broken.txt/0"),
        stage="parser",
        reason="line 3: not a number",
    )
    conf = poster_conf(discord)

    def handled() -> float:
        return sum(
            REGISTRY.get_sample_value(
                "etstats_messages_total", {"stage": "poster-rejections", "outcome": outcome}
            )
            or 0
            for outcome in ("ack", "held")
        )

    before = handled()
    async with running("poster", poster_main, conf, nats_server.url) as first:
        await bus.publish("stats.rejected.main", rejection.SerializeToString(), "rejected:1")
        await wait_until(lambda: handled() > before, what="the rejection taken")
        await first.kill()  # within the 2 s the poster groups rejections for
    assert discord.posts(ADMIN) == []
    async with running("poster", poster_main, conf, nats_server.url):
        await wait_until(lambda: discord.posts(ADMIN), within=30, what="the notice")
    (notice,) = discord.posts(ADMIN)
    assert notice["embeds"][0]["title"] == "Rejected files: 1"
    assert "broken.txt: parser: line 3: not a number" in notice["embeds"][0]["description"]


@pytest.mark.service
async def test_a_late_round_1_corrects_the_orphan_round_2_post(
    nats_server, bus, discord, database_url: str
) -> None:
    """R2 arrives first and is posted as an orphan; when its R1 arrives, storage
    re-pairs it and the poster edits that post instead of leaving the orphan note.
    The edit replaces the scoreboard image: round 2's own numbers now."""
    r1, r2 = generate_match(random.Random(11), datetime(2026, 11, 24, 20, 0), players=6)
    storage_conf = StorageConfig(database_url, 2, backup_interval_s=0)
    async with (
        running("storage", storage_main, storage_conf, nats_server.url),
        running("poster", poster_main, poster_conf(discord), nats_server.url),
    ):
        for generated in (r2, r1):
            message = parsed(generated, origin=common_pb2.ORIGIN_MONITOR, recent=True)
            await bus.publish(
                f"stats.parsed.{message.file.source}",
                message.SerializeToString(),
                msg_id=stage_msg_id("parsed", message.file.msg_id),
            )
        await wait_until(lambda: len(discord.posts(CHANNEL)) == 2, what="both rounds posted")
        first = discord.posts(CHANNEL)[0]
        await wait_until(lambda: first["edited_timestamp"] is not None, what="the orphan edited")
    posted, _, patch = [c for c in discord.calls if "/messages" in c.path]
    assert [posted.method, patch.method] == ["POST", "PATCH"]
    assert posted.json["nonce"] == first["nonce"]
    assert [f.filename for f in patch.files] == [FILENAME]
    assert patch.json["attachments"] == [{"id": 0, "filename": FILENAME}], "only the new one"
    (now,) = first["attachments"]  # the orphan's image is gone
    assert len(discord.uploads) == 3, "one image for each post, one for the edit"
    assert discord.uploads[now["id"]] == patch.files[0].data
    assert patch.files[0].data != posted.files[0].data, "new numbers, new image"
    (embed,) = first["embeds"]
    assert embed["image"]["url"] == now["url"]
    text = json.dumps(embed)
    assert "round 1 missing" not in text
    assert embed["title"] == safe(f"{r2.header.map} · round 2")
    assert len(discord.posts(CHANNEL)) == 2
    edited = REGISTRY.get_sample_value(
        "etstats_poster_posts_total", {"kind": "round", "outcome": "edited"}
    )
    assert edited and edited >= 1


# --- the fake Discord refuses what Discord refuses ---------------------------------


def _fields(n: int, name: str = "n", value: str = "v") -> list[dict[str, str]]:
    return [{"name": name, "value": value}] * n


OVER_THE_LIMITS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "content": ({"content": "x" * 2001}, ("content",)),
    "title": ({"embeds": [{"title": "x" * 257}]}, ("embeds", "0", "title")),
    "description": ({"embeds": [{"description": "x" * 4097}]}, ("embeds", "0", "description")),
    "footer": ({"embeds": [{"footer": {"text": "x" * 2049}}]}, ("embeds", "0", "footer", "text")),
    "author": ({"embeds": [{"author": {"name": "x" * 257}}]}, ("embeds", "0", "author", "name")),
    "field name": (
        {"embeds": [{"fields": _fields(1, name="x" * 257)}]},
        ("embeds", "0", "fields", "0", "name"),
    ),
    "field value": (
        {"embeds": [{"fields": _fields(1, value="x" * 1025)}]},
        ("embeds", "0", "fields", "0", "value"),
    ),
    "fields": ({"embeds": [{"fields": _fields(26)}]}, ("embeds", "0", "fields")),
    "embeds": ({"embeds": [{"title": "t"}] * 11}, ("embeds",)),
    "6000 in all": (
        {
            "embeds": [
                {"description": "x" * 4000},
                {"title": "x" * 200, "footer": {"text": "x" * 1801}},
            ]
        },
        ("embeds",),
    ),
}

AT_THE_LIMITS: dict[str, dict[str, Any]] = {
    "content": {"content": "x" * 2000},
    "title, description, author": {
        "embeds": [{"title": "x" * 256, "description": "x" * 4096, "author": {"name": "x" * 256}}]
    },
    "footer": {"embeds": [{"footer": {"text": "x" * 2048}}]},
    "fields": {"embeds": [{"fields": _fields(25, name="n" * 16, value="v" * 200)}]},
    "field name and value": {"embeds": [{"fields": _fields(1, name="x" * 256, value="x" * 1024)}]},
    "embeds": {"embeds": [{"title": "t"}] * 10},
    "6000 in all": {"embeds": [{"description": "x" * 3000}, {"description": "x" * 3000}]},
}


@pytest.mark.unit
@pytest.mark.parametrize("name", OVER_THE_LIMITS)
def test_the_fake_refuses_each_discord_limit_by_path(name: str) -> None:
    body, path = OVER_THE_LIMITS[name]
    node = message_errors(body)
    for key in path:
        node = node[key]
    assert node["_errors"][0]["code"] in ("BASE_TYPE_MAX_LENGTH", "MAX_EMBED_SIZE_EXCEEDED")


@pytest.mark.unit
@pytest.mark.parametrize("name", AT_THE_LIMITS)
def test_the_fake_accepts_messages_at_discords_limits(name: str) -> None:
    assert message_errors(AT_THE_LIMITS[name]) == {}


async def call(
    discord: FakeDiscord, method: str, path: str, body: Any = None
) -> tuple[int, Any, dict[str, str]]:
    """One raw request to the fake: status, JSON answer (None for 204), headers."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, discord.api_base + path, json=body) as response,
    ):
        data = None if response.status == 204 else await response.json(content_type=None)
        return response.status, data, dict(response.headers)


@pytest.mark.service
async def test_an_over_long_message_is_refused_with_400_and_not_stored(discord) -> None:
    status, data, _ = await call(
        discord, "POST", f"/channels/{CHANNEL}/messages", {"content": "x" * 2001}
    )
    assert (status, data["code"], data["message"]) == (400, 50035, "Invalid Form Body")
    assert data["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    status, data, _ = await call(discord, "POST", f"/channels/{CHANNEL}/messages", {"content": ""})
    assert (status, data["code"]) == (400, 50006)
    assert discord.posts(CHANNEL) == []


@pytest.mark.service
async def test_a_channel_edit_changes_the_message_and_creates_none(discord) -> None:
    path = f"/channels/{CHANNEL}/messages"
    _, created, _ = await call(discord, "POST", path, {"content": "first"})
    status, edited, _ = await call(
        discord, "PATCH", f"{path}/{created['id']}", {"content": "second"}
    )
    assert status == 200 and edited["id"] == created["id"]
    status, _, _ = await call(discord, "PATCH", f"{path}/{created['id']}", {"content": "x" * 2001})
    assert status == 400
    (message,) = discord.posts(CHANNEL)
    assert message["content"] == "second" and message["edited_timestamp"] is not None
    status, data, _ = await call(discord, "PATCH", f"{path}/1", {"content": "nobody"})
    assert (status, data["code"]) == (404, 10008)


@pytest.mark.service
async def test_a_rate_limited_route_answers_429_as_discord_does(discord) -> None:
    path = f"/channels/{CHANNEL}/messages"
    discord.rate_limit(r"POST /channels/\d+/messages", times=1, retry_after=0.25)
    status, data, headers = await call(discord, "POST", path, {"content": "hi"})
    assert status == 429
    assert data == {"message": "You are being rate limited.", "retry_after": 0.25, "global": False}
    assert headers["X-RateLimit-Remaining"] == "0"
    assert headers["X-RateLimit-Reset-After"] == "0.250"
    assert headers["Via"]  # without it disnake takes a 429 for a Cloudflare ban
    status, _, _ = await call(discord, "POST", path, {"content": "hi"})
    assert status == 200, "only the next request"


@pytest.mark.service
async def test_the_poster_takes_an_over_long_post_for_a_permanent_refusal(discord) -> None:
    sink = DiscordSink("test-token", discord.api_base)
    await sink.login()
    try:
        too_big = disnake.Embed(title="t", description="x" * 4097)
        with pytest.raises(PermanentPostError, match="50035"):
            await sink.send(CHANNEL, [too_big], "etstats-big")
    finally:
        await sink.close()
    assert discord.posts(CHANNEL) == []
