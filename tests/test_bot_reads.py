"""The players' commands through the fake Discord: the real bot, storage over a
league of known players, NATS and PostgreSQL. Members and admins, unknown and
ambiguous names, empty periods, links, pages, and the largest answers against
every Discord limit (the fake refuses what Discord would)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from services.bot.permissions import Admins
from services.storage.migrations import migrate
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests import test_bot
from tests.fake_discord import (
    ADMIN_ROLE_ID,
    EMBED_TOTAL_MAX,
    EPHEMERAL,
    GUILD_ID,
    LOADING,
    FakeDiscord,
    embed_size,
    pings_nobody,
)
from tests.inprocess import running
from tests.players_data import CROWD, league, store
from tests.test_bot import bot_config, bot_running
from tests.waiting import wait_until

pytestmark = pytest.mark.service

discord = test_bot.discord  # the fake Discord; any error disnake logs fails the test

MEMBER = "600000000000000001"
OTHER = "600000000000000002"
ADMIN = "600000000000000003"


def option(name: str, value: Any, kind: int = 3) -> dict[str, Any]:
    return {"name": name, "type": kind, "value": value}


async def slash_reply(
    discord: FakeDiscord, name: str, options: list[dict[str, Any]], **who: Any
) -> dict[str, Any]:
    """The slash command's response once it is no longer "thinking"."""
    token = await discord.slash(name, options, **who)
    interaction = discord.interactions[token]

    def shown() -> bool:
        return interaction.original is not None and not interaction.original["flags"] & LOADING

    await wait_until(shown, what=f"/{name} answered")
    assert interaction.original is not None
    return interaction.original


async def prefix_reply(discord: FakeDiscord, content: str, **who: Any) -> dict[str, Any]:
    """The bot's first message after `content` was typed in the home channel."""
    before = len(discord.replies())
    await discord.message(content, **who)
    await wait_until(lambda: len(discord.replies()) > before, what=f"an answer to {content}")
    return discord.replies()[before]


def title(message: dict[str, Any]) -> str:
    return message["embeds"][0]["title"] if message["embeds"] else ""


def fields(message: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message["embeds"][0].get("fields", [])}


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message["components"] for c in row["components"]]


def within_limits(discord: FakeDiscord) -> None:
    """Nothing refused, nothing pinged, every interaction answered in time."""
    assert [(c.method, c.path, c.status) for c in discord.refusals()] == []
    with_text = [p for p in discord.message_payloads if p.get("content")]
    assert [p for p in with_text if not pings_nobody(p.get("allowed_mentions"))] == []
    assert [i.token for i in discord.interactions.values() if not i.answered] == []


@pytest.fixture
async def stack(nats_server, database_url: str, discord: FakeDiscord) -> AsyncIterator[Any]:
    """Storage over the league (and a crowd of long Markdown names), the bot beside it."""
    conn = await asyncpg.connect(database_url)
    await migrate(conn)
    await store(conn, league())
    await store(conn, league(matches=2, seed=9, roster=CROWD))
    await conn.close()
    admins = Admins(frozenset({int(ADMIN_ROLE_ID)}), frozenset())
    conf = bot_config(discord, admins, frozenset({int(GUILD_ID)}))
    async with (
        running("storage", storage_main, StorageConfig(database_url, 2), nats_server.url),
        bot_running(nats_server.url, discord, conf) as bot,
    ):
        yield bot


async def test_stats_for_members_and_admins(stack: Any, discord: FakeDiscord) -> None:
    for who in ({"user_id": MEMBER}, {"user_id": ADMIN, "admin": True}):
        shown = await slash_reply(discord, "stats", [option("player", "firefox")], **who)
        assert title(shown) == "FireFox · all time"
        assert {"Rounds", "K/D", "DPM", "Accuracy", "Headshots", "Revives", "Objectives"} <= set(
            fields(shown)
        )
        assert fields(shown)["Rounds"] == "12"
        assert len(fields(shown)["Top weapons"].split("\n")) <= 3
        assert len(fields(shown)["Last 5 rounds"].split("\n")) == 5
        typed = await prefix_reply(discord, "!stats ^1fire^7fox 2026-11-20", **who)
        assert title(typed) == "FireFox · 2026-11-20"
    bot = await prefix_reply(discord, "!stats omnibot0/[bot]nyx")
    assert title(bot) == "[BOT]Nyx (bot) · all time"

    empty = await slash_reply(
        discord, "stats", [option("player", "olz"), option("period", "2026-11-01")]
    )
    assert "No counted rounds in 2026-11-01." in empty["embeds"][0]["description"]
    assert "fields" not in empty["embeds"][0] or not fields(empty)
    unknown = await prefix_reply(discord, "!stats olzz")
    assert unknown["content"] == "No player matches 'olzz'; did you mean olz?"
    future = await prefix_reply(discord, "!stats olz 9999-01-01")
    assert future["content"] == "'9999-01-01' starts after today: there is nothing to show yet."
    within_limits(discord)


async def test_an_ambiguous_name_offers_a_choice_to_whoever_asked(
    stack: Any, discord: FakeDiscord
) -> None:
    offered = await slash_reply(discord, "stats", [option("player", "fox")], user_id=MEMBER)
    assert offered["content"] == "Several players match fox: choose one."
    (menu,) = [c for row in offered["components"] for c in row["components"]]
    assert [o["label"] for o in menu["options"]] == ["Foxtrot", "[BOT]Fox", "FireFox"]
    assert menu["options"][0]["description"].startswith("AAAA0002 · last seen 2026-11-21")

    someone = await discord.click(offered, menu["custom_id"], ["2"], user_id=OTHER)
    await wait_until(lambda: discord.interactions[someone].answered, what="the refusal")
    refusal = discord.interactions[someone].original
    assert refusal is not None and refusal["flags"] & EPHEMERAL
    assert refusal["content"] == "These controls are for whoever asked; ask for your own."
    assert offered["components"], "still there for whoever asked"

    chosen = await discord.click(offered, menu["custom_id"], ["2"], user_id=MEMBER)
    await wait_until(lambda: title(offered) == "FireFox · all time", what="the chosen stats")
    assert offered["components"] == [] and not offered["content"]
    assert discord.interactions[chosen].answered

    many = await prefix_reply(discord, "!stats >z")  # 30 players: a select holds 25
    assert many["content"] == (
        "Several players match >z: choose one. The 25 seen last of 30 are listed; type more."
    )
    (menu,) = [c for row in many["components"] for c in row["components"]]
    assert len(menu["options"]) == 25
    within_limits(discord)


async def test_links_and_stats_without_a_name(stack: Any, discord: FakeDiscord) -> None:
    mine = await slash_reply(discord, "stats", [], user_id=MEMBER)
    assert mine["content"].startswith("You are not linked to a player yet: link yourself")
    linked = await slash_reply(discord, "link", [option("player", "olz")], user_id=MEMBER)
    assert linked["content"] == (
        "You are now linked to olz (AAAA0004). `/stats` without a name shows your stats."
    )
    assert title(await slash_reply(discord, "stats", [], user_id=MEMBER)) == "olz · all time"
    week = await prefix_reply(discord, "!stats 2026-11-20", user_id=MEMBER)
    assert title(week) == "olz · 2026-11-20"  # a period alone: your own stats
    assert title(await prefix_reply(discord, f"!stats <@{MEMBER}>")) == "olz · all time"
    other = await prefix_reply(discord, f"!stats <@!{OTHER}>", user_id=MEMBER)
    assert other["content"] == f"<@{OTHER}> is not linked to a player yet."
    member_option = [option("member", OTHER, kind=6)]
    unlinked = await slash_reply(discord, "stats", member_option, members=(OTHER,))
    assert unlinked["content"] == f"<@{OTHER}> is not linked to a player yet."

    refused = await prefix_reply(discord, f"!link olz <@{OTHER}>", user_id=MEMBER)
    assert refused["content"] == "Only etstats admins can link or unlink other members."
    taken = await prefix_reply(discord, "!link olz", user_id=OTHER)
    assert taken["content"] == (
        "Olz is linked to another Discord member; an etstats admin can change that."
    )
    moved = await slash_reply(
        discord,
        "link",
        [option("player", "olz"), option("member", OTHER, kind=6)],
        user_id=ADMIN,
        admin=True,
        members=(OTHER,),
    )
    assert moved["content"] == (
        f"<@{OTHER}> is now linked to olz (AAAA0004). It was linked to <@{MEMBER}> before."
    )
    assert (await prefix_reply(discord, "!link [bot]nyx", user_id=MEMBER))["content"] == (
        "[BOT]Nyx is a bot: bots cannot be linked."
    )
    assert (await prefix_reply(discord, "!unlink", user_id=MEMBER))["content"] == (
        "You are not linked to a player."
    )
    assert (await prefix_reply(discord, f"!unlink <@{OTHER}>", user_id=MEMBER))["content"] == (
        "Only etstats admins can link or unlink other members."
    )
    gone = await prefix_reply(discord, f"!unlink <@{OTHER}>", user_id=ADMIN, admin=True)
    assert gone["content"] == f"<@{OTHER}> is no longer linked to olz."

    # A name that fits several: the link waits for the choice.
    offered = await prefix_reply(discord, "!link fox", user_id=MEMBER)
    (menu,) = [c for row in offered["components"] for c in row["components"]]
    await discord.click(offered, menu["custom_id"], ["0"], user_id=MEMBER)
    await wait_until(
        lambda: offered["content"].startswith("You are now linked to Foxtrot"), what="linked"
    )
    within_limits(discord)


async def test_leaderboards_turn_pages_with_buttons(stack: Any, discord: FakeDiscord) -> None:
    for who in ({"user_id": MEMBER}, {"user_id": ADMIN, "admin": True}):
        board = await slash_reply(discord, "top", [option("metric", "kd")], **who)
        assert title(board) == "Top K/D · all time"
        lines = board["embeds"][0]["description"].split("\n")
        assert len(lines) == 6 and lines[0].startswith("`#1` ")  # 6 people, bots not ranked
        assert board["embeds"][0]["footer"]["text"] == (
            "6 players with at least 10 rounds · page 1/1"
        )
        assert board["components"] == [], "one page: no buttons"

    crowd = await prefix_reply(discord, "!leaderboard kills all")  # 36 players with 4+ rounds
    assert crowd["embeds"][0]["footer"]["text"] == ("6 players with at least 10 rounds · page 1/1")
    pages = await slash_reply(
        discord, "top", [option("metric", "kills"), option("min_rounds", 1, kind=4)]
    )
    assert pages["embeds"][0]["footer"]["text"].endswith("· page 1/4")
    previous, following = custom_ids(pages)

    def on_page(page: int) -> bool:
        return str(pages["embeds"][0]["footer"]["text"]).endswith(f"page {page}/4")

    for page in (2, 3, 4):
        await discord.click(pages, following)
        await wait_until(functools.partial(on_page, page), what=f"page {page}")
    buttons = [c for row in pages["components"] for c in row["components"]]
    assert [b.get("disabled", False) for b in buttons] == [False, True]
    await discord.click(pages, previous)
    await wait_until(lambda: on_page(3), what="page 3 again")
    ranks = [line.split("`")[1] for line in pages["embeds"][0]["description"].split("\n")]
    assert ranks == [f"#{r}" for r in range(21, 31)]

    empty = await prefix_reply(discord, "!top dpm 2026-11-01")
    assert empty["embeds"][0]["description"] == (
        "Nobody has 10 counted rounds in 2026-11-01. Ask for fewer with min_rounds."
    )
    typo = await prefix_reply(discord, "!top kils")
    assert typo["content"].startswith("'kils' is not a metric. Did you mean kills? Metrics:")
    usage = await prefix_reply(discord, "!top")
    assert usage["content"].startswith("metric is a required argument that is missing.")
    within_limits(discord)


async def test_rounds_as_posted(stack: Any, discord: FakeDiscord) -> None:
    last = await slash_reply(discord, "round", [], user_id=ADMIN, admin=True)
    assert last["embeds"][0]["footer"]["text"].endswith("round #12")  # played last
    first = await prefix_reply(discord, "!round 1")
    assert first["embeds"][0]["footer"]["text"].endswith("round #1")
    assert (await prefix_reply(discord, "!round #999"))["content"] == "No round #999 is stored."
    assert (await prefix_reply(discord, "!round abc"))["content"] == (
        "Give a round number (a post's footer shows it) or `last`."
    )
    within_limits(discord)


async def test_the_largest_answers_fit_every_limit(stack: Any, discord: FakeDiscord) -> None:
    """Thirty of the longest Markdown names: every answer is accepted by the fake,
    which refuses what Discord refuses (2,000 characters, 6,000 per message's
    embeds, 1,024 per field, 25 fields, 25 options)."""
    answers = [
        await slash_reply(discord, "stats", [option("player", "bbbb0007")]),
        await prefix_reply(discord, "!stats BBBB0029"),
        await slash_reply(
            discord, "top", [option("metric", "accuracy"), option("min_rounds", 1, kind=4)]
        ),
        await prefix_reply(discord, "!stats *_~"),
        await prefix_reply(discord, "!round last"),
    ]
    for message in answers:
        assert len(message["content"] or "") <= 2000
        assert sum(embed_size(e) for e in message["embeds"]) <= EMBED_TOTAL_MAX
    name = answers[0]["embeds"][0]["title"]
    assert name.startswith(r"\*\_\~\|\`>Z07") and "(bot)" not in name
    within_limits(discord)


async def test_a_plain_error_while_storage_is_down(
    nats_server, database_url: str, discord: FakeDiscord
) -> None:
    admins = Admins(frozenset({int(ADMIN_ROLE_ID)}), frozenset())
    conf = bot_config(discord, admins, frozenset({int(GUILD_ID)}))
    async with bot_running(nats_server.url, discord, conf):
        for name, options in (
            ("stats", [option("player", "olz")]),
            ("top", [option("metric", "kills")]),
            ("round", []),
            ("link", [option("player", "olz")]),
            ("last_session", []),
            ("session", [option("date", "today")]),
        ):
            shown = await slash_reply(discord, name, options)
            assert shown["content"] == (
                "Stats are unavailable right now: the storage service is not answering."
            ), name
        said = await prefix_reply(discord, "!stats olz")
        assert said["content"].startswith("Stats are unavailable right now")
    await asyncio.sleep(0)
    within_limits(discord)
