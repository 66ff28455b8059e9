"""The monitor sees every new round once, and never an old one as new."""

from __future__ import annotations

import os
import time
from collections import Counter
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
    sample,
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


def cut_inside_a_line(body: bytes, near: int) -> int:
    """A length of `body` near `near` that ends inside a line, as a buffer flush does."""
    return next(n for n in range(near, len(body)) if body[n - 1 : n] != b"\n")


def cut_at_a_line_end(body: bytes, near: int) -> int:
    """A length of `body` at or after `near` that ends a line: a shorter, sound round."""
    return body.index(b"\n", near) + 1


@pytest.mark.usefixtures("pipeline")
async def test_a_file_written_slowly_in_parts_is_published_only_whole(
    asyncssh_server: SshServer, nats_server, bus
) -> None:
    """First seen cut inside a line, then ending at the end of a line (it would
    parse as a round with fewer players), then whole; written over several polls
    and more than a second, each pause well within STABLE_DELAY. Over SFTP the
    mtimes are whole seconds: parts written within one second differ in size only."""
    raw = await Raw().start(bus)
    name, body = round_file(80, datetime.now() - timedelta(minutes=1))
    first, second = cut_inside_a_line(body, 300), cut_at_a_line_end(body, len(body) // 2)
    path = asyncssh_server.root / name
    settings = conf(asyncssh_server.source(), stable_s=20.0)
    async with running("fetcher", fetcher_main, settings, nats_server.url) as fetcher:
        await caught_up(fetcher, bus, "main")
        await next_second(asyncssh_server.root)
        path.write_bytes(body[:first])
        await polled("main", times=2)
        with path.open("ab") as fh:
            fh.write(body[first:second])
        await polled("main", times=2)
        with path.open("ab") as fh:
            fh.write(body[second:])
        await wait_until(published(raw, name), within=60, what="the whole file")
        await polled("main")
    assert raw.names() == [name]
    assert raw.files[0].body == body


@pytest.mark.usefixtures("pipeline")
async def test_a_file_seen_growing_is_remembered_across_a_failed_read(
    asyncssh_server: SshServer, nats_server, bus
) -> None:
    """The connection drops during the read of a file first seen cut inside a
    line, and meanwhile it grows to the end of a line: after the reconnect it
    is a file seen changing, which only holding still makes whole."""
    raw = await Raw().start(bus)
    name, body = round_file(84, datetime.now() - timedelta(minutes=1))
    first, second = cut_inside_a_line(body, 300), cut_at_a_line_end(body, len(body) // 2)
    path = asyncssh_server.root / name

    def grow() -> None:
        with path.open("ab") as fh:
            fh.write(body[first:second])

    asyncssh_server.on_read[name] = grow
    asyncssh_server.aborts.append(name)  # that first read drops the connection
    settings = conf(asyncssh_server.source(), stable_s=20.0)
    async with running("fetcher", fetcher_main, settings, nats_server.url) as fetcher:
        await caught_up(fetcher, bus, "main")
        await next_second(asyncssh_server.root)
        connects = sample("etstats_fetcher_ssh_connects_total", source="main")
        path.write_bytes(body[:first])
        await wait_until(lambda: not asyncssh_server.aborts, what="the read that fails")
        await wait_until(
            lambda: sample("etstats_fetcher_ssh_connects_total", source="main") > connects,
            what="a new connection",
        )
        await polled("main", times=2)  # the file listed again since
        with path.open("ab") as fh:
            fh.write(body[second:])
        await wait_until(published(raw, name), within=60, what="the whole file")
        await polled("main")
    assert raw.names() == [name]
    assert raw.files[0].body == body


@pytest.mark.usefixtures("pipeline")
async def test_a_file_written_in_one_go_is_published_without_waiting_for_it_to_hold_still(
    asyncssh_server: SshServer, nats_server, bus
) -> None:
    """STABLE_DELAY longer than the test waits: a fixed wait would time it out."""
    raw = await Raw().start(bus)
    name, body = round_file(81, datetime.now() - timedelta(minutes=1))
    settings = conf(asyncssh_server.source(), stable_s=600.0)
    async with running("fetcher", fetcher_main, settings, nats_server.url) as fetcher:
        await caught_up(fetcher, bus, "main")
        await next_second(asyncssh_server.root)
        (asyncssh_server.root / name).write_bytes(body)
        await wait_until(published(raw, name), what="the file, without the wait")
        await polled("main")
    assert raw.names() == [name]
    assert raw.files[0].body == body


@pytest.mark.usefixtures("pipeline")
async def test_an_idle_poll_is_one_directory_stat(
    asyncssh_server: SshServer, nats_server, bus
) -> None:
    """Nothing new: a poll asks the server for one stat of the directory and
    neither lists it nor opens a file, so polling often stays cheap."""
    name, body = round_file(82, datetime.now() - timedelta(minutes=1))
    (asyncssh_server.root / name).write_bytes(body)
    async with running(
        "fetcher", fetcher_main, conf(asyncssh_server.source()), nats_server.url
    ) as fetcher:
        await caught_up(fetcher, bus, "main")
        await polled("main", times=5)  # the directory's last second is surely over
        before = Counter(asyncssh_server.requests)
        await polled("main", times=4)
        after = Counter(asyncssh_server.requests)
    assert after["scandir"] == before["scandir"], "an idle poll listed the directory"
    assert after["open"] == before["open"], "an idle poll opened a file"
    # 4 polls, and the stat of the ones under way at either end
    assert 4 <= after["stat"] - before["stat"] <= 6


@pytest.mark.usefixtures("pipeline")
async def test_a_new_file_costs_two_listings(
    asyncssh_server: SshServer, nats_server, bus, tmp_path: Path
) -> None:
    """One when the directory changed, and one once the second of that change
    is surely over (a file added later in it leaves the directory's whole-second
    time as it was), not one at every poll until then: a game server's
    directory holds thousands of files, and each listing reads them all."""
    raw = await Raw().start(bus)
    name, body = round_file(83, datetime.now() - timedelta(minutes=1))
    (tmp_path / name).write_bytes(body)
    async with running(
        "fetcher", fetcher_main, conf(asyncssh_server.source()), nats_server.url
    ) as fetcher:
        await caught_up(fetcher, bus, "main")
        await polled("main", times=5)  # the directory's last second is surely over
        before = Counter(asyncssh_server.requests)
        (tmp_path / name).rename(asyncssh_server.root / name)  # whole at once
        await wait_until(published(raw, name), what="the new file")
        await polled("main", times=6)  # well over a second
        after = Counter(asyncssh_server.requests)
    assert after["scandir"] - before["scandir"] == 2


@pytest.mark.usefixtures("pipeline")
async def test_poll_time_leaves_out_the_waits_between_polls_and_for_a_file_to_hold_still(
    tmp_path: Path, nats_server, bus
) -> None:
    """The sources dashboard's poll latency and the status's average poll time are
    the source's (stat, listing, fetch), not the pause between polls nor the wait
    for a file that is not evidently whole to hold still."""
    box = tmp_path / "box"
    box.mkdir()
    raw = await Raw().start(bus)
    wait_s = 3.0  # above the 2.5 s bucket: a poll that counted either wait lands beyond
    source = SourceConfig("waiting", dir=box)
    settings = conf(source, poll_interval=wait_s, stable_s=wait_s)
    async with running("fetcher", fetcher_main, settings, nats_server.url) as fetcher:
        await caught_up(fetcher, bus, "waiting")
        name, body = round_file(90, datetime.now() - timedelta(minutes=1))
        (box / name).write_bytes(body[: cut_inside_a_line(body, 300)])  # waits to hold still
        await wait_until(published(raw, name), within=30, what="the file fetched")
        state = (await status(bus))["waiting"]

    def polls(le: str) -> float:
        labels = {"source": "waiting", "le": le}
        return REGISTRY.get_sample_value("etstats_fetcher_poll_seconds_bucket", labels) or 0.0

    assert polls("+Inf") >= 3  # the catch-up, the file's first sighting, its fetch
    assert polls("2.5") == polls("+Inf"), "a poll was observed with a wait in it"
    assert 0 < state.avg_poll_seconds < 2.5, "the status's average has a wait in it"
