"""The monitor sees every new round once, and never an old one as new."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from services.common.sources import SourceConfig
from services.fetcher.service import main as fetcher_main
from tests.inprocess import running
from tests.sshservers import SshServer
from tests.test_fetcher import (
    Raw,
    caught_up,
    conf,
    next_second,
    polled,
    round_file,
    status,
    write_aged,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.service


@pytest.mark.usefixtures("pipeline")
async def test_a_reconnect_never_makes_older_files_new(
    asyncssh_server: SshServer, nats_server, bus
) -> None:
    old, old_body = round_file(61, datetime.now() - timedelta(days=5))
    write_aged(asyncssh_server.root / old, old_body, timedelta(days=5))
    recent, recent_body = round_file(62, datetime.now() - timedelta(minutes=5))
    asyncssh_server.aborts.append(recent)  # its first download drops the connection
    raw = await Raw().start(bus)
    settings = conf(asyncssh_server.source(), catchup=timedelta(days=1))
    async with running("fetcher", fetcher_main, settings, nats_server.url) as fetcher:
        await caught_up(fetcher, bus, "main")
        await next_second(asyncssh_server.root)
        (asyncssh_server.root / recent).write_bytes(recent_body)
        await wait_until(lambda: recent in raw.names(), what="the recent round fetched")
        await polled("main", times=4)  # after the reconnect's catch-up, and more polls
        state = (await status(bus))["main"]
    assert asyncssh_server.aborts == [], "the test server never dropped the connection"
    assert raw.names() == [recent]
    assert state.older_unimported == 1


@pytest.mark.usefixtures("pipeline")
async def test_a_file_added_in_the_same_second_as_the_last_listing_is_seen(
    tmp_path: Path, nats_server, bus
) -> None:
    """A directory time in whole seconds (as SFTP gives it) does not move for a file
    added in the second the monitor last listed; the file must still come in."""
    box = tmp_path / "box"
    box.mkdir()
    raw = await Raw().start(bus)
    async with running(
        "fetcher", fetcher_main, conf(SourceConfig("box", dir=box)), nats_server.url
    ) as fetcher:
        await caught_up(fetcher, bus, "box")
        for attempt in range(5):  # until B lands within A's second, as it would for real
            a, a_body = round_file(70 + 2 * attempt, datetime.now() - timedelta(minutes=3))
            b, b_body = round_file(71 + 2 * attempt, datetime.now() - timedelta(minutes=2))
            second = int(time.time())
            (box / a).write_bytes(a_body)
            os.utime(box, ns=(second * 10**9, second * 10**9))
            await wait_until(published(raw, a), what="the first file fetched")
            (box / b).write_bytes(b_body)
            os.utime(box, ns=(second * 10**9, second * 10**9))
            if time.time() < second + 1:
                break
        else:
            pytest.fail("could not write two files within one second here")
        await wait_until(published(raw, b), what="the file of the same second")


def published(raw: Raw, name: str) -> Callable[[], bool]:
    return lambda: name in raw.names()


@pytest.mark.usefixtures("pipeline")
async def test_poll_latency_leaves_out_the_wait_for_a_new_file_to_settle(
    tmp_path: Path, nats_server, bus
) -> None:
    """The sources dashboard's poll latency is the source's (stat, listing, fetch),
    not the pause the monitor takes before looking at a new file again."""
    box = tmp_path / "box"
    box.mkdir()
    raw = await Raw().start(bus)
    settle_s = 3.0  # above the 2.5 s bucket: a poll that counted it lands beyond
    settings = conf(SourceConfig("settling", dir=box), settle_s=settle_s)
    async with running("fetcher", fetcher_main, settings, nats_server.url) as fetcher:
        await caught_up(fetcher, bus, "settling")
        name, body = round_file(90, datetime.now() - timedelta(minutes=1))
        (box / name).write_bytes(body)
        await wait_until(published(raw, name), within=30, what="the new file fetched")

    def polls(le: str) -> float:
        labels = {"source": "settling", "le": le}
        return REGISTRY.get_sample_value("etstats_fetcher_poll_seconds_bucket", labels) or 0.0

    assert polls("+Inf") > 0
    assert polls("2.5") == polls("+Inf"), "a poll was observed with the settle wait in it"
