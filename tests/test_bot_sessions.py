"""The session commands through the fake Discord: the real bot, storage over the
league and a crowd of the longest Markdown names (one evening, 38 players),
as a member and an admin; no session, text that is no day, pages, and every
page against Discord's limits (the fake refuses what Discord would)."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from tests.fake_discord import EMBED_TOTAL_MAX, FakeDiscord, embed_size
from tests.test_bot_reads import (
    ADMIN,
    MEMBER,
    custom_ids,
    discord,
    fields,
    option,
    prefix_reply,
    slash_reply,
    stack,
    title,
    within_limits,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.service

__all__ = ["discord", "stack"]  # fixtures

FIRST_TITLE = "Session · 2026-11-20 21:"


def footer(message: dict[str, Any], embed: int = 0) -> str:
    return str(message["embeds"][embed].get("footer", {}).get("text", ""))


def fits(message: dict[str, Any]) -> None:
    assert len(message["content"] or "") <= 2000
    assert sum(embed_size(e) for e in message["embeds"]) <= EMBED_TOTAL_MAX
    assert len(message["embeds"]) <= 10


async def test_the_last_session_for_members_and_admins(stack: Any, discord: FakeDiscord) -> None:
    for who in ({"user_id": MEMBER}, {"user_id": ADMIN, "admin": True}):
        shown = await slash_reply(discord, "last_session", [], **who)
        assert title(shown).startswith(FIRST_TITLE)
        assert shown["embeds"][0]["description"].startswith("16 rounds on 8 maps, ")
        assert shown["embeds"][0]["description"].endswith(", 38 players.")
        assert {"Maps", "Score", "Awards"} <= set(fields(shown))
        assert len(fields(shown)["Maps"].split("\n")) == 8
        assert "Top fragger: " in fields(shown)["Awards"]
        assert shown["embeds"][1]["title"] == "Players 1 to 10 of 38"
        assert shown["embeds"][1]["description"].startswith("`#1` ")
        assert footer(shown).startswith("main · session of round #")
        assert len(custom_ids(shown)) == 2, "pages: buttons"
        fits(shown)
    for typed in ("!last", "!last_session", "!last_session main"):
        assert title(await prefix_reply(discord, typed)).startswith(FIRST_TITLE)
    within_limits(discord)


async def test_every_page_of_the_largest_session_fits(stack: Any, discord: FakeDiscord) -> None:
    """Thirty-eight players, thirty of them with the longest Markdown names:
    four pages, each within every limit; the buttons walk them and back."""
    pages = await slash_reply(discord, "session", [option("date", "2026-11-20")], user_id=MEMBER)
    assert title(pages).startswith(FIRST_TITLE)
    fits(pages)
    previous, following = custom_ids(pages)

    def showing(first: int) -> bool:
        return str(pages["embeds"][-1]["title"]).startswith(f"Players {first} to ")

    ranks = [line.split("`")[1] for line in pages["embeds"][1]["description"].split("\n")]
    for first in (11, 21, 31):
        await discord.click(pages, following, user_id=MEMBER)
        await wait_until(functools.partial(showing, first), what=f"players from {first}")
        fits(pages)
        ranks += [line.split("`")[1] for line in pages["embeds"][0]["description"].split("\n")]
    assert ranks == [f"#{r}" for r in range(1, 39)], "every player once, in rank order"
    assert pages["embeds"][0]["title"] == "Players 31 to 38 of 38"
    buttons = [c for row in pages["components"] for c in row["components"]]
    assert [b.get("disabled", False) for b in buttons] == [False, True]
    await discord.click(pages, previous, user_id=MEMBER)
    await wait_until(functools.partial(showing, 21), what="back a page")
    within_limits(discord)


async def test_no_session_and_text_that_is_no_day(stack: Any, discord: FakeDiscord) -> None:
    for who in ({"user_id": MEMBER}, {"user_id": ADMIN, "admin": True}):
        none = await slash_reply(discord, "session", [option("date", "2026-11-19")], **who)
        assert none["content"] == "No session began on 2026-11-19."
        assert none["embeds"] == []
        typed = await prefix_reply(discord, "!session 2026-11-19 main", **who)
        assert typed["content"] == "No session began on 2026-11-19 on main."
    banana = await prefix_reply(discord, "!session banana")
    assert banana["content"] == (
        "'banana' is not a day: give a date (2026-11-24), today or yesterday."
    )
    week = await slash_reply(discord, "session", [option("date", "1w")])
    assert week["content"] == "'1w' is not one day: give a date (2026-11-24), today or yesterday."
    unreal = await prefix_reply(discord, "!session 2026-02-30")
    assert unreal["content"] == "'2026-02-30': 2026-02-30 is not a real date."
    future = await prefix_reply(discord, "!session 9999-01-01")
    assert future["content"] == "'9999-01-01' starts after today: there is nothing to show yet."
    nowhere = await slash_reply(
        discord, "last_session", [option("source", "nowhere")], user_id=MEMBER
    )
    assert nowhere["content"] == "No rounds of a source 'nowhere' are stored (sources: main)."
    usage = await prefix_reply(discord, "!session")
    assert usage["content"].startswith("date is a required argument that is missing.")
    extra = await prefix_reply(discord, "!last main banana")
    assert extra["content"].startswith("That command does not take those words.")
    within_limits(discord)
