"""The real disnake bot against the fake Discord gateway, with the real stack behind it."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import disnake
import pytest
from disnake.ext import commands
from disnake.http import Route
from disnake.interactions import ApplicationCommandInteraction

from services.bot.permissions import Admins
from services.bot.replies import SlashReply
from services.bot.service import BotConfig
from services.bot.service import main as bot_main
from services.common.control import Control
from services.common.endpoints import FETCHER_STATUS
from services.common.sources import SourceConfig
from services.fetcher.service import main as fetcher_main
from services.parser.service import ParserConfig
from services.parser.service import main as parser_main
from services.poster.service import PosterConfig
from services.poster.service import main as poster_main
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.fake_discord import (
    ADMIN_ROLE_ID,
    EPHEMERAL,
    GUILD_ID,
    HOME_OWNER_ID,
    MESSAGE_CONTENT_INTENT,
    OTHER_GUILD_ID,
    OTHER_OWNER_ID,
    FakeDiscord,
    channel_of,
    pings_nobody,
)
from tests.inprocess import running
from tests.test_fetcher import conf as fetcher_conf
from tests.test_fetcher import dated_file, write_aged
from tests.waiting import wait_until


class DisnakeErrors(logging.Handler):
    """Any error disnake logs (a payload it could not parse) fails the test."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(self.format(record))


@pytest.fixture
async def discord():
    errors = DisnakeErrors()
    logging.getLogger("disnake").addHandler(errors)
    fake = await FakeDiscord().start()
    yield fake
    await fake.stop()
    logging.getLogger("disnake").removeHandler(errors)
    assert errors.records == []


def texts(discord: FakeDiscord) -> list[str]:
    return [m["content"] for m in discord.replies()]


def answer(discord: FakeDiscord, token: str) -> str | None:
    """What the member sees as the interaction's response (sent at once or after a defer)."""
    original = discord.interactions[token].original
    return None if original is None else original["content"]


def commands_registered(discord: FakeDiscord) -> bool:
    return any(discord.app_commands.values())


def monitoring(sub: str, source: str | None = None) -> list[dict[str, Any]]:
    """The options of `/monitoring <sub> [source]`."""
    given = [{"name": "source", "type": 3, "value": source}] if source else []
    return [{"name": sub, "type": 1, "options": given}]


def sync_options(period: str, source: str | None = None) -> list[dict[str, Any]]:
    """The options of `/sync period [source]`."""
    given = [{"name": "period", "type": 3, "value": period}]
    return given + ([{"name": "source", "type": 3, "value": source}] if source else [])


@pytest.mark.service
async def test_commands_end_to_end(nats_server, database_url, discord, tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    for age in (1, 3):
        name, body = dated_file(800 + age, age)
        write_aged(box / name, body, timedelta(days=age))
    url = nats_server.url
    source = SourceConfig("box", dir=box)
    bot_conf = BotConfig(
        "token",
        "!",
        discord.api_base,
        Admins(frozenset({int(ADMIN_ROLE_ID)}), frozenset()),
        True,
        frozenset({int(GUILD_ID)}),
        progress_every_s=0.2,
    )
    poster_conf = PosterConfig("token", discord.api_base, None, None, [source], 600)
    async with (
        running("parser", parser_main, ParserConfig(batch=8), url),
        running("fetcher", fetcher_main, fetcher_conf(source, catchup=timedelta(hours=1)), url),
        running("poster", poster_main, poster_conf, url),
        running("bot", bot_main, bot_conf, url) as bot,
    ):
        running_bus = bot.runtime.bus
        async with running("storage", storage_main, StorageConfig(database_url, 2), url):
            await asyncio.wait_for(discord.identified.wait(), 20)
            await wait_until(lambda: commands_registered(discord), what="slash commands synced")

            focused = {"name": "source", "type": 3, "value": "b", "focused": True}

            async def suggested() -> bool:  # the first answer may come before the cache
                got = await discord.autocomplete("sync", [*sync_options("2days"), focused])
                return got == ["box"]

            await wait_until(suggested, what="the fetcher's source suggested")

            await discord.message("!sync_stats 2days")  # not an admin
            await wait_until(
                lambda: "Only etstats admins can do that." in texts(discord), what="refusal"
            )

            await discord.message("!sync_stats fortnight", admin=True)
            await wait_until(
                lambda: any("is not a period. Accepted:" in t for t in texts(discord)),
                what="the accepted forms",
            )

            await discord.message("!sync_stats 9999-12-31", admin=True)
            await wait_until(
                lambda: (
                    "Sync not started: '9999-12-31' starts after today: there is nothing to"
                    " sync yet (fetcher sync, error 400)" in texts(discord)
                ),
                what="the refusal of a period in the future",
            )
            await discord.message("!stop_monitoring nosuch", admin=True)
            await wait_until(
                lambda: "Not changed: unknown source 'nosuch'; sources: box." in texts(discord),
                what="the refusal of an unknown source",
            )
            bad_source = await discord.slash("sync", sync_options("2days", "nosuch"), admin=True)
            await wait_until(
                lambda: (
                    answer(discord, bad_source)
                    == "Sync not started: unknown source 'nosuch'; sources: box (fetcher sync,"
                    " error 404)"
                ),
                what="/sync of an unknown source refused",
            )

            await discord.message('!sync_stats "2 days"', admin=True)  # quotes are fine
            await wait_until(
                lambda: any("1 imported" in t for t in texts(discord)), what="the result"
            )
            await wait_until(
                lambda: any(
                    e.get("title", "").startswith("Sync done: 1 rounds")
                    for m in discord.replies()
                    for e in m["embeds"]
                ),
                what="the poster's summary",
            )
            progress = next(m for m in discord.replies() if "1 imported" in m["content"])
            assert progress["edited_timestamp"] is not None  # one message, edited

            await discord.message("!stop_monitoring box", admin=True)
            await wait_until(
                lambda: "Monitoring off for box." in texts(discord), what="monitoring off"
            )
            await discord.message("!ssh_stats")
            await wait_until(
                lambda: any("monitoring off" in t for t in texts(discord)),
                what="status",
            )
            await discord.message("!start_monitoring box", admin=True)
            await wait_until(
                lambda: "Monitoring on for box." in texts(discord), what="monitoring on"
            )

            # The slash form: /monitoring stop really stops the fetcher polling the source.
            control = Control(running_bus)
            stop = await discord.slash("monitoring", monitoring("stop", "box"), admin=True)
            await wait_until(
                lambda: answer(discord, stop) == "Monitoring off for box.", what="/monitoring stop"
            )
            (fetcher, _) = await control.statuses()
            assert fetcher is not None and not fetcher.sources[0].monitoring
            name, body = dated_file(900, 0)
            polls = fetcher.sources[0].last_poll_ms
            imported = fetcher.sources[0].files_total  # the sync's, above
            (box / name).write_bytes(body)
            await asyncio.sleep(1.5)  # a negative check: nothing may poll the source meanwhile
            (fetcher, _) = await control.statuses()
            assert fetcher is not None
            assert fetcher.sources[0].files_total == imported
            assert fetcher.sources[0].last_poll_ms == polls
            start = await discord.slash("monitoring", monitoring("start", "box"), admin=True)
            await wait_until(
                lambda: answer(discord, start) == "Monitoring on for box.",
                what="/monitoring start",
            )

            async def fetched_the_new_file() -> bool:
                (fetcher, _) = await control.statuses()
                return fetcher is not None and fetcher.sources[0].files_total == imported + 1

            await wait_until(fetched_the_new_file, within=10, what="monitoring resumed")
            refused = await discord.slash("monitoring", monitoring("stop"))
            await wait_until(
                lambda: answer(discord, refused) == "Only etstats admins can do that.",
                what="slash refusal",
            )

            await discord.message("!health")
            await wait_until(
                lambda: any("storage" in t and "ready" in t for t in texts(discord)), what="health"
            )
        before = len(texts(discord))
        await discord.message("!health")
        await wait_until(
            lambda: len(texts(discord)) > before, within=10, what="health without storage"
        )
        assert "storage  NOT ANSWERING" in texts(discord)[-1]
    # Text can ping (embeds never do): every message sent or edited with content must
    # say so, as Discord's default for a missing `allowed_mentions` is to ping.
    with_text = [p for p in discord.message_payloads if p.get("content")]
    assert with_text, "the bot said something"
    assert [p for p in with_text if not pings_nobody(p.get("allowed_mentions"))] == []
    unanswered = [i.token for i in discord.interactions.values() if not i.answered]
    assert unanswered == [], "every interaction acknowledged within 3 s"
    assert [(c.method, c.path, c.status) for c in discord.refusals()] == []


@pytest.mark.unit
def test_readme_command_reference_matches_the_bot() -> None:

    from nats.aio.client import Client

    from services.bot.service import make_bot
    from services.common.bus import Bus

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Commands", 1)[1].split("\n## ", 1)[0]
    documented_prefix = set(re.findall(r"`!(\w+)", section))
    documented_slash = set(re.findall(r"`/(\w+)", section))

    async def commands() -> tuple[set[str], set[str]]:
        unconnected = Client()  # the bot is only built here: nothing is ever asked of it
        control = Control(Bus(unconnected, unconnected.jetstream(), "unused"))
        bot, _ = make_bot(
            BotConfig("t", "!", None, Admins(frozenset(), frozenset()), True, frozenset()), control
        )
        prefix = {name for c in bot.commands for name in (c.name, *c.aliases)}
        return prefix, {c.name for c in bot.slash_commands}

    prefix, slash = asyncio.run(commands())
    assert documented_prefix == prefix
    assert documented_slash == slash


@pytest.mark.service
async def test_watchdog_reports_gone_services_and_stalls_then_recoveries(
    nats_server, database_url, tmp_path: Path
) -> None:
    from services.bot.watchdog import Watchdog
    from services.common.notices import Notices

    sent: list[str] = []

    async def send(title: str, text: str, nonce: str) -> None:
        sent.append(title)

    box = tmp_path / "box"
    box.mkdir()
    url = nats_server.url
    source = SourceConfig("box", dir=box)
    poster_conf = PosterConfig(None, None, None, None, [source], 600)
    async with (
        running("storage", storage_main, StorageConfig(database_url, 2), url),
        running("fetcher", fetcher_main, fetcher_conf(source), url),
        running("parser", parser_main, ParserConfig(batch=8), url) as parser,
    ):
        watchdog = Watchdog(Control(parser.runtime.bus), Notices(send, 0, group_s=0), 1)
        await watchdog.check()  # parser, fetcher, storage up; the poster is not
        name, body = dated_file(950, 0)
        (box / name).write_bytes(body)

        async def a_round_stalled() -> bool:
            return bool(await watchdog.control.stalled(1))

        await wait_until(a_round_stalled, what="a stored round that nobody posts")
        async with running("fetcher", fetcher_main, fetcher_conf(source), url) as spare:

            async def both_fetchers_seen() -> bool:
                await watchdog.check()
                return list(watchdog.instances.values()).count("fetcher") == 2

            await wait_until(both_fetchers_seen, within=10, what="the watchdog sees two fetchers")
            await spare.kill()  # an instance disappears
        await watchdog.check()
        await watchdog.notices.flush()
        assert {
            "poster not answering: 1",
            "Pipeline stalled: 1",
            "fetcher instance gone: 1",
        } <= set(sent)
        recoveries = {"Pipeline stalled: recovered: 1", "poster not answering: recovered: 1"}

        async def recovered() -> bool:
            await watchdog.check()
            await watchdog.notices.flush()
            return recoveries <= set(sent)

        async with running("poster", poster_main, poster_conf, url):
            await wait_until(recovered, within=10, what=f"the notices {sorted(recoveries)}")


# --- the fake Discord is as strict as Discord with interactions --------------------

NO_MENTIONS = disnake.AllowedMentions.none()
Handler = Callable[[ApplicationCommandInteraction], Awaitable[None]]


@asynccontextmanager
async def probe_bot(discord: FakeDiscord, handler: Handler) -> AsyncIterator[None]:
    """A bare disnake bot whose one slash command, /probe, runs `handler`."""
    Route.BASE = discord.api_base
    bot = commands.InteractionBot(allowed_mentions=disnake.AllowedMentions.none())  # as make_bot

    @bot.slash_command(name="probe", description="Runs the test's handler")
    async def probe(inter: ApplicationCommandInteraction) -> None:
        await handler(inter)

    login = asyncio.create_task(bot.start("token"))
    try:
        await wait_until(lambda: commands_registered(discord), what="/probe registered")
        yield
    finally:
        await bot.close()
        await login


async def refused(call: Awaitable[Any]) -> disnake.HTTPException | None:
    """The HTTP error Discord answered `call` with, None when it succeeded."""
    try:
        await call
    except disnake.HTTPException as exc:
        return exc
    return None


@pytest.mark.service
async def test_a_late_acknowledgement_is_refused_and_the_interaction_unanswered(
    discord: FakeDiscord,
) -> None:
    discord.ack_within_s = 0.3  # Discord's 3 s, shortened
    errors: list[BaseException] = []

    async def slow(inter: ApplicationCommandInteraction) -> None:
        await asyncio.sleep(0.5)
        try:
            await inter.response.send_message("late", allowed_mentions=NO_MENTIONS)
        except disnake.InteractionTimedOut as exc:  # disnake's name for Discord's 10062
            errors.append(exc)

    async with probe_bot(discord, slow):
        token = await discord.slash("probe", [])
        await wait_until(lambda: bool(errors), what="the refused acknowledgement")
    (error,) = errors
    cause = error.__cause__
    assert isinstance(cause, disnake.NotFound) and cause.code == 10062
    interaction = discord.interactions[token]
    assert not interaction.answered
    assert interaction.refused == ["acknowledged after 0.3s"]
    assert discord.replies() == []


@pytest.mark.service
async def test_editing_original_edits_it_and_a_followup_is_a_new_message(
    discord: FakeDiscord,
) -> None:
    done = asyncio.Event()

    async def answer_edit_follow(inter: ApplicationCommandInteraction) -> None:
        await inter.response.send_message("first", allowed_mentions=NO_MENTIONS)
        await inter.edit_original_response(content="edited", allowed_mentions=NO_MENTIONS)
        await inter.followup.send("more", allowed_mentions=NO_MENTIONS)
        done.set()

    async with probe_bot(discord, answer_edit_follow):
        token = await discord.slash("probe", [])
        await asyncio.wait_for(done.wait(), 10)
    interaction = discord.interactions[token]
    assert texts(discord) == ["edited", "more"]
    assert interaction.original is discord.replies()[0]
    assert interaction.original["edited_timestamp"] is not None
    assert interaction.followups == [discord.replies()[1]]
    assert discord.refusals() == []


@pytest.mark.service
async def test_an_expired_interaction_token_is_refused_with_401(discord: FakeDiscord) -> None:
    expired = asyncio.Event()
    errors: list[disnake.HTTPException | None] = []

    async def answer_then_edit(inter: ApplicationCommandInteraction) -> None:
        await inter.response.send_message("first", allowed_mentions=NO_MENTIONS)
        await expired.wait()
        errors.append(await refused(inter.edit_original_response(content="edited")))
        errors.append(await refused(inter.followup.send("more")))

    async with probe_bot(discord, answer_then_edit):
        token = await discord.slash("probe", [])
        await wait_until(lambda: discord.interactions[token].answered, what="the answer")
        discord.token_lifetime_s = 0  # Discord's 15 minutes, over
        expired.set()
        await wait_until(lambda: len(errors) == 2, what="the edit and the followup")
    assert [(e.status, e.code) if e else None for e in errors] == [(401, 50027)] * 2
    assert texts(discord) == ["first"]


@pytest.mark.service
async def test_an_over_long_answer_is_refused_with_400(discord: FakeDiscord) -> None:
    errors: list[disnake.HTTPException | None] = []

    async def too_long(inter: ApplicationCommandInteraction) -> None:
        errors.append(await refused(inter.response.send_message("x" * 2001)))

    async with probe_bot(discord, too_long):
        token = await discord.slash("probe", [])
        await wait_until(lambda: bool(errors), what="the answer")
    (error,) = errors
    assert error is not None and (error.status, error.code) == (400, 50035)
    assert "content" in error.text and "2000 or fewer" in error.text
    assert not discord.interactions[token].answered


@pytest.mark.service
async def test_a_slash_reply_is_still_edited_after_its_token_expired(
    discord: FakeDiscord,
) -> None:
    """A /sync can outlive the interaction's 15 minutes: its result must still show."""
    expired = asyncio.Event()
    done = asyncio.Event()

    async def long_job(inter: ApplicationCommandInteraction) -> None:
        reply = SlashReply(inter)
        await reply.send("Sync requested…")
        await reply.edit("Sync running.")
        await expired.wait()
        await reply.edit("Sync done: 1 imported.")
        done.set()

    async with probe_bot(discord, long_job):
        token = await discord.slash("probe", [])
        await wait_until(lambda: answer(discord, token) == "Sync running.", what="the progress")
        discord.token_lifetime_s = 0
        expired.set()
        await asyncio.wait_for(done.wait(), 10)
    assert texts(discord) == ["Sync done: 1 imported."], "the one message, edited"
    assert all(pings_nobody(p.get("allowed_mentions")) for p in discord.message_payloads)


# --- who controls the stack: admins of the home guild only ---------------------------

REFUSAL = "Only etstats admins can do that."
HOME_ADMIN: dict[str, Any] = {"admin": True}  # the admin role: Manage Server
MEMBER: dict[str, Any] = {}
HOME_OWNER: dict[str, Any] = {"user_id": HOME_OWNER_ID}
OTHER_OWNER: dict[str, Any] = {"user_id": OTHER_OWNER_ID, "guild": OTHER_GUILD_ID}
IN_DM: dict[str, Any] = {"guild": None}

PREFIX_CONTROL = [
    "!sync_stats 2days",
    "!sync_today",
    "!sync_week",
    "!sync_month",
    "!sync_all",
    "!sync_cancel",
    "!start_monitoring",
    "!stop_monitoring",
    "!backup",
]
SLASH_CONTROL = [
    ("sync", sync_options("2days")),
    ("sync_cancel", []),
    ("monitoring", monitoring("start")),
    ("monitoring", monitoring("stop")),
    ("backup", []),
]


def bot_config(discord: FakeDiscord, admins: Admins, guild_ids: frozenset[int]) -> BotConfig:
    return BotConfig("token", "!", discord.api_base, admins, True, guild_ids, progress_every_s=0.2)


@asynccontextmanager
async def bot_running(nats_url: str, discord: FakeDiscord, conf: BotConfig) -> AsyncIterator[Any]:
    async with running("bot", bot_main, conf, nats_url) as bot:
        await asyncio.wait_for(discord.identified.wait(), 20)
        await wait_until(lambda: commands_registered(discord), what="slash commands synced")
        yield bot


async def prefix_answer(discord: FakeDiscord, content: str, who: dict[str, Any]) -> str:
    """The bot's first message after `who` typed `content` (in their guild or DM)."""
    channel = channel_of(who.get("guild", GUILD_ID))
    before = len(discord.posts(channel))
    await discord.message(content, **who)
    await wait_until(lambda: len(discord.posts(channel)) > before, what=f"an answer to {content}")
    return str(discord.posts(channel)[before]["content"])


async def slash_answer(
    discord: FakeDiscord, name: str, options: list[dict[str, Any]], who: dict[str, Any]
) -> tuple[str, bool]:
    """The interaction's first response (empty while deferred) and whether it is private."""
    token = await discord.slash(name, options, **who)
    await wait_until(lambda: discord.interactions[token].answered, what=f"/{name} answered")
    original = discord.interactions[token].original
    assert original is not None
    return original["content"], bool(original["flags"] & EPHEMERAL)


async def assert_control(discord: FakeDiscord, who: dict[str, Any], allowed: bool) -> None:
    for content in PREFIX_CONTROL:
        said = await prefix_answer(discord, content, who)
        assert (said != REFUSAL) == allowed, f"{content} by {who}: {said!r}"
    for name, options in SLASH_CONTROL:
        said, private = await slash_answer(discord, name, options, who)
        if allowed:
            assert said != REFUSAL, f"/{name} by {who}"
        else:
            assert (said, private) == (REFUSAL, True), f"/{name} by {who}: {said!r}"


@pytest.mark.service
@pytest.mark.parametrize(
    ("admins", "guild_ids", "allowed", "refused"),
    [
        # Configured admins, in the configured home guild only.
        (
            Admins(frozenset({int(ADMIN_ROLE_ID)}), frozenset()),
            frozenset({int(GUILD_ID)}),
            [HOME_ADMIN],
            [MEMBER, OTHER_OWNER, IN_DM, HOME_OWNER],
        ),
        (
            Admins(frozenset(), frozenset({int(OTHER_OWNER_ID)})),
            frozenset({int(GUILD_ID)}),
            [],
            [OTHER_OWNER, IN_DM | {"user_id": OTHER_OWNER_ID}, HOME_ADMIN],
        ),
        # None configured: the home guild's owner and members with Manage Server.
        (
            Admins(frozenset(), frozenset()),
            frozenset({int(GUILD_ID)}),
            [HOME_ADMIN, HOME_OWNER],
            [MEMBER, OTHER_OWNER, IN_DM],
        ),
    ],
    ids=["admin-role", "admin-user-elsewhere", "no-admin-settings"],
)
async def test_control_commands_obey_the_admins_of_the_home_guild(
    nats_server,
    discord: FakeDiscord,
    admins: Admins,
    guild_ids: frozenset[int],
    allowed: list[dict[str, Any]],
    refused: list[dict[str, Any]],
) -> None:
    async with bot_running(nats_server.url, discord, bot_config(discord, admins, guild_ids)):
        for who in allowed:
            await assert_control(discord, who, allowed=True)
        for who in refused:
            await assert_control(discord, who, allowed=False)
        assert await prefix_answer(discord, "!help", OTHER_OWNER) != REFUSAL  # STATUS_OPEN
    # Discord hides the control commands from members without Manage Server.
    registered = {c["name"]: c for cs in discord.app_commands.values() for c in cs}
    control = {name for name, _ in SLASH_CONTROL}
    assert {n for n, c in registered.items() if c.get("default_member_permissions") == "32"} == (
        control
    )
    unanswered = [i.token for i in discord.interactions.values() if not i.answered]
    assert unanswered == [], "every interaction acknowledged within 3 s"


@pytest.mark.service
async def test_the_one_guild_is_home_and_several_unnamed_are_none(
    nats_server, discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    nobody = Admins(frozenset(), frozenset())
    discord.guild_ids = [GUILD_ID]
    async with bot_running(nats_server.url, discord, bot_config(discord, nobody, frozenset())):
        assert await prefix_answer(discord, "!backup", HOME_OWNER) != REFUSAL
    discord.gateways.clear()
    discord.identified.clear()
    discord.guild_ids = [GUILD_ID, OTHER_GUILD_ID]
    with caplog.at_level(logging.WARNING, "services.bot.context"):
        async with bot_running(nats_server.url, discord, bot_config(discord, nobody, frozenset())):
            for who in (HOME_OWNER, HOME_ADMIN, OTHER_OWNER):
                assert await prefix_answer(discord, "!backup", who) == REFUSAL
    told = [r.getMessage() for r in caplog.records if "DISCORD_GUILD_IDS" in r.getMessage()]
    assert len(told) == 1 and "set DISCORD_GUILD_IDS" in told[0], "said once, how to fix it"


@pytest.mark.service
async def test_interactions_are_acknowledged_in_time_with_a_silent_fetcher(
    nats_server, discord: FakeDiscord
) -> None:
    """A fetcher that takes the request and never answers: autocomplete answers from the
    cache at once, commands defer; Discord's 3 s are never missed."""
    conf = bot_config(
        discord, Admins(frozenset({int(ADMIN_ROLE_ID)}), frozenset()), frozenset({int(GUILD_ID)})
    )
    async with bot_running(nats_server.url, discord, conf) as bot:
        await bot.runtime.bus.nc.subscribe(FETCHER_STATUS.subject, queue="q")  # silent
        source = {"name": "source", "type": 3, "value": "b", "focused": True}
        for name, options in [
            ("sync", [*sync_options("2days"), source]),
            ("monitoring", [{"name": "stop", "type": 1, "options": [source]}]),
        ]:
            assert await discord.autocomplete(name, options, admin=True) == []
        for name, options in [
            ("monitoring", monitoring("stop")),
            ("status", []),
            ("sync_cancel", []),
        ]:
            await discord.slash(name, options, admin=True)
        await wait_until(
            lambda: all(i.answered for i in discord.interactions.values()),
            within=discord.ack_within_s + 1,  # a late answer is refused, never "answered"
            what="every interaction acknowledged within 3 s",
        )


def following(discord: FakeDiscord) -> list[dict[str, Any]]:
    """The messages that follow a sync's progress now."""
    return [m for m in discord.replies() if re.match(r"Sync \w+ running\.\n", m["content"])]


@pytest.mark.service
async def test_a_second_sync_is_refused_and_the_first_can_be_cancelled(
    nats_server, database_url, discord: FakeDiscord, tmp_path: Path
) -> None:
    """No parser: the fetched files are never stored, so a sync waits (as a long one
    would) until it is cancelled. Each sync has a file no one published before (one
    already on the bus is not awaited); monitoring leaves them all: they are older
    than its catch-up window."""
    from tests.test_ops_cli import cli

    box = tmp_path / "box"
    box.mkdir()
    for age in (1, 10):
        name, body = dated_file(500 + age, age)
        write_aged(box / name, body, timedelta(days=age))
    url = nats_server.url
    source = SourceConfig("box", dir=box)
    conf = bot_config(
        discord, Admins(frozenset({int(ADMIN_ROLE_ID)}), frozenset()), frozenset({int(GUILD_ID)})
    )
    settings = fetcher_conf(source, catchup=timedelta(hours=1), sync_settle_s=120)
    async with (
        running("storage", storage_main, StorageConfig(database_url, 2), url),
        running("fetcher", fetcher_main, settings, url),
        bot_running(url, discord, conf),
    ):
        await discord.message("!sync_stats 2days", admin=True)
        await wait_until(lambda: len(following(discord)) == 1, what="the first sync running")
        (first,) = following(discord)
        sync_id = first["content"].split()[1]
        running_one = f"sync {sync_id} (`2days`, asked by user001 via discord-prefix)"

        second = await discord.slash("sync", sync_options("today"), admin=True)
        refusal = (
            f"Sync not started: {running_one} is already running for box."
            f" Cancel it with `/sync_cancel {sync_id}` or wait for it."
        )
        await wait_until(lambda: answer(discord, second) == refusal, what="the refusal")
        code, out, err = await cli(url, "sync", "today")
        assert code == 1 and out == ""
        assert err.strip() == (
            f"etstats: not started: sync {sync_id} (`2days`, asked by user001 via"
            f" discord-prefix) is already running for box; cancel it with"
            f" `etstats sync --cancel {sync_id}` or wait for it"
        )

        assert await prefix_answer(discord, "!sync_cancel", HOME_ADMIN) == (
            f"Cancelling {running_one}: rounds already imported stay."
        )
        await wait_until(
            lambda: first["content"].endswith("cancelled"), what="the first sync cancelled"
        )
        assert first["content"].startswith(f"sync {sync_id} cancelled in")
        assert answer(discord, second) == refusal, "never the first sync's result"

        # The CLI cancels what it finds running, and says when nothing runs.
        await discord.message("!sync_stats all", admin=True)
        await wait_until(lambda: len(following(discord)) == 1, what="another sync")
        (third,) = following(discord)
        third_id = third["content"].split()[1]
        code, out, _ = await cli(url, "sync", "--cancel")
        assert code == 0
        assert out.strip() == (
            f"cancelling sync {third_id} (`all`, asked by user001 via discord-prefix);"
            " rounds already imported stay"
        )
        await wait_until(lambda: third["content"].endswith("cancelled"), what="cancelled")

        async def unlocked() -> bool:
            code, out, _ = await cli(url, "sync", "--cancel")
            return code == 0 and out.strip() == "no sync is running"

        await wait_until(unlocked, within=15, what="no sync left")
        code, _, err = await cli(url, "sync", "--cancel", "nosuch")
        assert code == 1 and "no running sync nosuch" in err
        assert await prefix_answer(discord, "!sync_cancel nosuch", HOME_ADMIN) == (
            "No running sync nosuch."
        )


ADMIN_CHANNEL = "700000000000000077"


@pytest.mark.service
async def test_without_the_message_content_intent_the_bot_runs_and_says_what_to_switch_on(
    nats_server, discord: FakeDiscord
) -> None:
    discord.message_content_allowed = False  # as the developer portal has it by default
    conf = replace(
        bot_config(discord, Admins(frozenset(), frozenset()), frozenset({int(GUILD_ID)})),
        admin_channel=int(ADMIN_CHANNEL),
        watchdog_every_s=0.2,
        intent_recheck_s=0.5,
    )

    def notices(title: str) -> list[str]:
        return [m["content"] for m in discord.posts(ADMIN_CHANNEL) if title in m["content"]]

    async with bot_running(nats_server.url, discord, conf):
        said, _ = await slash_answer(discord, "status", [], MEMBER)
        assert "not answering" in said  # slash commands work; no fetcher runs here
        await wait_until(lambda: bool(notices("Prefix commands are off")), what="the notice")
        [notice] = notices("Prefix commands are off")
        assert "Message Content Intent" in notice and "developer portal" in notice
        assert not discord.ready_intents or not discord.ready_intents & MESSAGE_CONTENT_INTENT

        discord.message_content_allowed = True  # the admin switches it on
        await wait_until(
            lambda: bool((discord.ready_intents or 0) & MESSAGE_CONTENT_INTENT),
            what="the bot reconnects with the intent",
        )
        assert "!sync_stats" in await prefix_answer(discord, "!help", MEMBER)
        await wait_until(lambda: bool(notices("recovered")), what="the all-clear")
        assert len(notices("Prefix commands are off")) == 2  # the notice and its all-clear


@pytest.mark.service
async def test_typos_get_a_suggestion_and_extra_words_the_usage_line(
    nats_server, discord: FakeDiscord
) -> None:
    conf = bot_config(discord, Admins(frozenset(), frozenset()), frozenset({int(GUILD_ID)}))
    async with bot_running(nats_server.url, discord, conf):
        assert await prefix_answer(discord, "!sync", HOME_ADMIN) == (
            "Unknown command. Did you mean `!sync_all`, `!sync_cancel`, `!sync_month`,"
            " `!sync_stats`, `!sync_today`, `!sync_week`?"
        )
        assert await prefix_answer(discord, "!sync_stat today", MEMBER) == (
            "Unknown command. Did you mean `!sync_stats`?"
        )
        assert await prefix_answer(discord, "!cancel", OTHER_OWNER) == (
            "Unknown command. Did you mean `!sync_cancel`?"
        )
        assert await prefix_answer(discord, "!sync_today banana", HOME_ADMIN) == (
            "That command does not take those words."
            " Usage: `!sync_today`: Import today's missing rounds."
        )
        assert await prefix_answer(discord, "!sync_today banana", MEMBER) == REFUSAL
        assert await prefix_answer(discord, "!health now", MEMBER) == (
            "That command does not take those words."
            " Usage: `!health`: Every service instance, and any that does not answer."
        )
        await discord.message("!xyzzy")  # nothing like ours: maybe another bot's
        assert (await prefix_answer(discord, "!help", MEMBER)).startswith("etstats commands")


@pytest.mark.service
@pytest.mark.parametrize("ended_meanwhile", [False, True])
async def test_a_sync_message_reaches_its_end_across_bot_restarts(
    ended_meanwhile: bool, nats_server, bus, database_url, discord: FakeDiscord, tmp_path: Path
) -> None:
    """The bot is killed while its message says "running"; the next one follows the
    job again, or finds its result when it ended meanwhile, and shows it. No parser
    at first: the sync waits for storage until the parser starts."""
    from tests.test_sync_faults import stored_result

    box = tmp_path / "box"
    box.mkdir()
    name, body = dated_file(520, 1)
    write_aged(box / name, body, timedelta(days=1))
    url = nats_server.url
    conf = bot_config(
        discord, Admins(frozenset({int(ADMIN_ROLE_ID)}), frozenset()), frozenset({int(GUILD_ID)})
    )
    settings = fetcher_conf(SourceConfig("box", dir=box), catchup=timedelta(hours=1))
    async with (
        running("storage", storage_main, StorageConfig(database_url, 2), url),
        running("fetcher", fetcher_main, settings, url),
    ):
        async with bot_running(url, discord, conf) as first_bot:
            await discord.message("!sync_stats 2days", admin=True)
            await wait_until(lambda: len(following(discord)) == 1, what="the sync running")
            (message,) = following(discord)
            sync_id = message["content"].split()[1]
            await first_bot.kill()
        async with running("parser", parser_main, ParserConfig(batch=8), url):
            if ended_meanwhile:
                await stored_result(bus, sync_id)
            assert message["content"].startswith(f"Sync {sync_id} running.")
            async with running("bot", bot_main, conf, url):
                await wait_until(
                    lambda: message["content"].startswith(f"sync {sync_id} done"),
                    within=30,
                    what="the message at its end",
                )
    assert "1 imported" in message["content"]
