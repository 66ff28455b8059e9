"""The real disnake bot against the fake Discord gateway, with the real stack behind it."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest

from services.bot.permissions import Admins
from services.bot.service import BotConfig
from services.bot.service import main as bot_main
from services.common.control import Control
from services.common.sources import SourceConfig
from services.fetcher.service import main as fetcher_main
from services.parser.service import ParserConfig
from services.parser.service import main as parser_main
from services.poster.service import PosterConfig
from services.poster.service import main as poster_main
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.fake_discord import ADMIN_ROLE_ID, TEXT_CHANNEL_ID, FakeDiscord
from tests.inprocess import running
from tests.test_fetcher import conf as fetcher_conf
from tests.test_fetcher import dated_file


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


async def until(check, within: float = 20, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def texts(discord: FakeDiscord) -> list[str]:
    return [m["content"] for m in discord.replies()]


async def test_commands_end_to_end(nats_server, database_url, discord, tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    for age in (1, 3):
        name, body = dated_file(800 + age, age)
        (box / name).write_bytes(body)
    url = nats_server.url
    source = SourceConfig("box", dir=box)
    bot_conf = BotConfig(
        "token",
        "!",
        discord.api_base,
        Admins(frozenset({int(ADMIN_ROLE_ID)}), frozenset()),
        True,
        frozenset(),
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
            await asyncio.sleep(1.5)

            await discord.message("!sync_stats 2days")  # not an admin
            await until(
                lambda: "Only etstats admins can do that." in texts(discord), what="refusal"
            )

            await discord.message("!sync_stats fortnight", admin=True)
            await until(
                lambda: any("is not a period. Accepted:" in t for t in texts(discord)),
                what="the accepted forms",
            )

            await discord.message("!sync_stats 2days", admin=True)
            await until(lambda: any("1 imported" in t for t in texts(discord)), what="the result")
            await until(
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
            await until(lambda: "Monitoring off for box." in texts(discord), what="monitoring off")
            await discord.message("!ssh_stats")
            await until(
                lambda: any("monitoring off" in t for t in texts(discord)),
                what="status",
            )
            await discord.message("!start_monitoring box", admin=True)
            await until(lambda: "Monitoring on for box." in texts(discord), what="monitoring on")

            # The slash form: /monitoring stop really stops the fetcher polling the source.
            control = Control(running_bus)
            await discord.slash(
                "monitoring",
                [
                    {
                        "name": "stop",
                        "type": 1,
                        "options": [{"name": "source", "type": 3, "value": "box"}],
                    }
                ],
                admin=True,
            )
            await until(
                lambda: any(
                    r.get("data", {}).get("content") == "Monitoring off for box."
                    for r in discord.interaction_replies
                ),
                what="/monitoring stop",
            )
            (fetcher, _) = await control.statuses()
            assert fetcher is not None and not fetcher.sources[0].monitoring
            name, body = dated_file(900, 0)
            polls = fetcher.sources[0].last_poll_ms
            (box / name).write_bytes(body)
            await asyncio.sleep(1.5)
            (fetcher, _) = await control.statuses()
            assert fetcher.sources[0].files_total == 0 and fetcher.sources[0].last_poll_ms == polls
            await discord.slash(
                "monitoring",
                [
                    {
                        "name": "start",
                        "type": 1,
                        "options": [{"name": "source", "type": 3, "value": "box"}],
                    }
                ],
                admin=True,
            )
            await until(
                lambda: any(
                    r.get("data", {}).get("content") == "Monitoring on for box."
                    for r in discord.interaction_replies
                ),
                what="/monitoring start",
            )
            for _ in range(100):  # monitoring resumed: the new file is fetched
                (fetcher, _) = await control.statuses()
                if fetcher is not None and fetcher.sources[0].files_total == 1:
                    break
                await asyncio.sleep(0.1)
            assert fetcher is not None and fetcher.sources[0].files_total == 1
            await discord.slash("monitoring", [{"name": "stop", "type": 1, "options": []}])
            await until(
                lambda: any(
                    r.get("data", {}).get("content") == "Only etstats admins can do that."
                    for r in discord.interaction_replies
                ),
                what="slash refusal",
            )

            await discord.message("!health")
            await until(
                lambda: any("storage" in t and "ready" in t for t in texts(discord)), what="health"
            )
        started = time.monotonic()
        before = len(texts(discord))
        await discord.message("!health")
        await until(lambda: len(texts(discord)) > before, within=10, what="health without storage")
        assert time.monotonic() - started < 3
        assert "storage  NOT ANSWERING" in texts(discord)[-1]
    assert all(
        m["allowed_mentions"] == {"parse": [], "replied_user": False}
        or m["allowed_mentions"] == {"parse": []}
        for m in discord.replies()
        if m.get("allowed_mentions") is not None
    )
    assert TEXT_CHANNEL_ID


def test_readme_command_reference_matches_the_bot() -> None:
    import re

    from services.bot.service import make_bot

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Commands", 1)[1].split("\n## ", 1)[0]
    documented_prefix = set(re.findall(r"`!(\w+)", section))
    documented_slash = set(re.findall(r"`/(\w+)", section))

    async def commands() -> tuple[set[str], set[str]]:
        bot = make_bot(
            BotConfig("t", "!", None, Admins(frozenset(), frozenset()), True, frozenset()), None
        )  # type: ignore[arg-type]
        return {c.name for c in bot.commands}, {c.name for c in bot.slash_commands}

    prefix, slash = asyncio.run(commands())
    assert documented_prefix == prefix
    assert documented_slash == slash


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
        await asyncio.sleep(2.5)  # detected, parsed, stored: but nobody posts it
        async with running("fetcher", fetcher_main, fetcher_conf(source), url) as spare:
            for _ in range(20):  # until the watchdog has seen both fetchers
                await watchdog.check()
                if list(watchdog.instances.values()).count("fetcher") == 2:
                    break
            await spare.kill()  # an instance disappears
        await watchdog.check()
        await watchdog.notices.flush()
        assert {
            "poster not answering: 1",
            "Pipeline stalled: 1",
            "fetcher instance gone: 1",
        } <= set(sent)
        async with running("poster", poster_main, poster_conf, url):
            for _ in range(50):
                await watchdog.check()
                await watchdog.notices.flush()
                if {"Pipeline stalled: recovered: 1", "poster not answering: recovered: 1"} <= set(
                    sent
                ):
                    break
                await asyncio.sleep(0.2)
        assert "poster not answering: recovered: 1" in sent
        assert "Pipeline stalled: recovered: 1" in sent
