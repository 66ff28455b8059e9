"""Round posts with their scoreboard image, through the poster against the fake
Discord; and the fake refusing files as Discord does."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from typing import Any

import aiohttp
import disnake
import pytest
from PIL import Image
from prometheus_client import REGISTRY

from services.common.discord_text import safe
from services.common.scoreboard import FILENAME, WIDTH
from services.poster import service as poster_service
from services.poster.service import main as poster_main
from services.poster.sinks import DiscordSink, PermanentPostError, Upload
from tests.fake_discord import UPLOAD_MAX_BYTES, FakeDiscord
from tests.inprocess import running
from tests.test_poster import CHANNEL, poster_conf, publish, stored
from tests.waiting import wait_until

pytestmark = pytest.mark.service


def png_of(discord: FakeDiscord, message: dict[str, Any]) -> Image.Image:
    """The message's scoreboard, decoded: it must be a PNG."""
    data = discord.attachment(message, FILENAME)
    picture = Image.open(io.BytesIO(data))
    assert picture.format == "PNG"
    picture.load()
    return picture


def image_failures() -> float:
    return (
        REGISTRY.get_sample_value("etstats_poster_image_failures_total", {"picture": "scoreboard"})
        or 0
    )


def message_calls(discord: FakeDiscord) -> list[Any]:
    return [c for c in discord.calls if "/messages" in c.path]


async def test_a_round_post_carries_its_scoreboard_and_keeps_the_text(
    nats_server, bus, discord
) -> None:
    s = stored(5, 12, round_id=7)
    async with running("poster", poster_main, poster_conf(discord), nats_server.url):
        await publish(bus, s)
        await wait_until(lambda: discord.posts(CHANNEL), what="the post")
    (post,) = discord.posts(CHANNEL)
    (attachment,) = post["attachments"]
    assert attachment["filename"] == FILENAME
    (embed,) = post["embeds"]
    assert embed["image"]["url"] == attachment["url"], "the embed shows the file sent"
    assert embed["title"] == safe(f"{s.header.map} · round 1")
    team_fields = [f for f in embed["fields"] if f["name"].startswith(("Axis", "Allies"))]
    assert sum(f["value"].count("\n") + 1 for f in team_fields) == 12, "the text stays"
    picture = png_of(discord, post)
    assert picture.width == WIDTH and 300 < picture.height < 1800
    (call,) = message_calls(discord)
    assert [(f.field, f.filename) for f in call.files] == [("files[0]", FILENAME)]
    assert call.json["attachments"] == [{"id": 0, "filename": FILENAME}]
    assert call.json["embeds"][0]["image"]["url"] == f"attachment://{FILENAME}"
    assert call.json["allowed_mentions"] == {"parse": []}
    assert discord.refusals() == []


async def test_with_images_off_a_post_is_text_alone(nats_server, bus, discord) -> None:
    conf = dataclasses.replace(poster_conf(discord), images=False)
    async with running("poster", poster_main, conf, nats_server.url):
        await publish(bus, stored(6, 8, round_id=8))
        await wait_until(lambda: discord.posts(CHANNEL), what="the post")
    (post,) = discord.posts(CHANNEL)
    assert post["attachments"] == []
    assert "image" not in post["embeds"][0]
    (call,) = message_calls(discord)
    assert call.files == [] and "attachments" not in call.json


async def test_an_image_that_cannot_be_drawn_never_holds_up_the_post(
    nats_server, bus, discord, monkeypatch, caplog
) -> None:
    def broken(_: object) -> bytes:
        raise OSError("no font")

    monkeypatch.setattr(poster_service, "scoreboard_png", broken)
    failures = image_failures()
    with caplog.at_level(logging.ERROR, logger="services.poster.service"):
        async with running("poster", poster_main, poster_conf(discord), nats_server.url):
            for i in range(3):
                await publish(bus, stored(40 + i, 6, round_id=40 + i))
            await wait_until(lambda: len(discord.posts(CHANNEL)) == 3, what="three posts")
    for post in discord.posts(CHANNEL):
        assert post["attachments"] == [] and "image" not in post["embeds"][0]
        assert post["embeds"][0]["fields"], "the text is there"
    assert image_failures() == failures + 3
    logged = [r for r in caplog.records if "without its scoreboard image" in r.getMessage()]
    assert len(logged) == 1, "logged once, counted each time"
    assert "no font" in logged[0].getMessage()


async def test_64_players_fit_in_the_post_and_its_image(nats_server, bus, discord) -> None:
    s = stored(64, 64, round_id=64, round_no=2)
    async with running("poster", poster_main, poster_conf(discord), nats_server.url):
        await publish(bus, s)
        await wait_until(lambda: discord.posts(CHANNEL), what="the post")
    (post,) = discord.posts(CHANNEL)
    picture = png_of(discord, post)
    assert picture.height < 1800
    assert len(discord.attachment(post, FILENAME)) < 1024 * 1024
    assert discord.refusals() == []


# --- the fake takes files as Discord does ---------------------------------------------


async def multipart(
    discord: FakeDiscord,
    method: str,
    path: str,
    payload: dict[str, Any],
    files: list[tuple[str, bytes]],
) -> tuple[int, Any]:
    """A request as Discord's clients send files: `files[n]` parts and `payload_json`."""
    form = aiohttp.FormData()
    for n, (filename, data) in enumerate(files):
        form.add_field(f"files[{n}]", data, filename=filename)
    form.add_field("payload_json", json.dumps(payload), content_type="application/json")
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, discord.api_base + path, data=form) as response,
    ):
        return response.status, await response.json(content_type=None)


def shows(filename: str) -> dict[str, Any]:
    return {"title": "t", "image": {"url": f"attachment://{filename}"}}


def error_at(data: dict[str, Any], *path: str) -> str:
    node = data["errors"]
    for key in path:
        node = node[key]
    return str(node["_errors"][0]["code"])


MESSAGES = f"/channels/{CHANNEL}/messages"


async def test_an_embed_showing_a_file_not_sent_is_refused(discord) -> None:
    status, data = await multipart(
        discord, "POST", MESSAGES, {"embeds": [shows("other.png")]}, [("a.png", b"x")]
    )
    assert (status, data["code"]) == (400, 50035)
    assert error_at(data, "embeds", "0", "image", "url") == "ATTACHMENT_NOT_FOUND"
    status, data = await multipart(
        discord, "POST", MESSAGES, {"embeds": [shows("a.png")]}, []
    )  # no file at all
    assert status == 400
    assert discord.posts(CHANNEL) == []


async def test_an_attachment_entry_without_its_file_is_refused(discord) -> None:
    payload = {"content": "x", "attachments": [{"id": 0}, {"id": 1}]}
    status, data = await multipart(discord, "POST", MESSAGES, payload, [("a.png", b"x")])
    assert (status, data["code"]) == (400, 50035)
    assert error_at(data, "attachments", "1") == "ATTACHMENT_NOT_FOUND"
    assert discord.posts(CHANNEL) == []


async def test_ten_files_are_taken_and_eleven_refused(discord) -> None:
    files = [(f"f{n}.png", b"x") for n in range(11)]
    status, data = await multipart(discord, "POST", MESSAGES, {"content": "x"}, files)
    assert (status, data["code"]) == (400, 50035)
    assert error_at(data, "attachments") == "BASE_TYPE_MAX_LENGTH"
    status, data = await multipart(discord, "POST", MESSAGES, {"content": "x"}, files[:10])
    assert status == 200 and len(data["attachments"]) == 10


async def test_over_10_mib_of_files_is_too_large(discord) -> None:
    half = UPLOAD_MAX_BYTES // 2
    files = [("a.png", b"x" * half), ("b.png", b"x" * (half + 1))]
    status, data = await multipart(discord, "POST", MESSAGES, {"content": "x"}, files)
    assert (status, data["code"]) == (413, 40005)
    files[1] = ("b.png", b"x" * half)
    status, data = await multipart(discord, "POST", MESSAGES, {"content": "x"}, files)
    assert status == 200, "exactly 10 MiB is allowed"
    assert [len(discord.uploads[a["id"]]) for a in data["attachments"]] == [half, half]


async def test_an_edit_keeps_only_the_attachments_it_lists(discord) -> None:
    status, created = await multipart(
        discord, "POST", MESSAGES, {"embeds": [shows("a.png")]}, [("a.png", b"1")]
    )
    assert status == 200
    (old,) = created["attachments"]
    path = f"{MESSAGES}/{created['id']}"
    keep = {"attachments": [{"id": old["id"]}, {"id": 0, "filename": "b.png"}]}
    status, edited = await multipart(discord, "PATCH", path, keep, [("b.png", b"2")])
    assert status == 200
    assert [a["filename"] for a in edited["attachments"]] == ["a.png", "b.png"]
    replace = {"embeds": [shows("c.png")], "attachments": [{"id": 0}]}
    status, edited = await multipart(discord, "PATCH", path, replace, [("c.png", b"3")])
    assert status == 200
    (only,) = edited["attachments"]
    assert only["filename"] == "c.png" and discord.uploads[only["id"]] == b"3"
    assert edited["embeds"][0]["image"]["url"] == only["url"]
    status, data = await multipart(
        discord, "PATCH", path, {"embeds": [shows("a.png")], "attachments": []}, []
    )
    assert status == 400, "a.png is gone: the embed cannot show it"
    assert error_at(data, "embeds", "0", "image", "url") == "ATTACHMENT_NOT_FOUND"


async def test_the_sink_takes_a_refused_file_for_a_permanent_refusal(discord) -> None:
    sink = DiscordSink("test-token", discord.api_base)
    await sink.login()
    try:
        embed = disnake.Embed(title="t").set_image(url="attachment://missing.png")
        with pytest.raises(PermanentPostError, match="50035"):
            await sink.send(CHANNEL, [embed], "etstats-img", [Upload(FILENAME, b"png")])
        too_big = Upload(FILENAME, b"x" * (UPLOAD_MAX_BYTES + 1))
        with pytest.raises(PermanentPostError, match="40005"):
            await sink.send(CHANNEL, [disnake.Embed(title="t")], "etstats-big", [too_big])
    finally:
        await sink.close()
    assert discord.posts(CHANNEL) == []
