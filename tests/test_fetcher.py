"""The fetcher against real SSH servers (asyncssh in-process and OpenSSH's sshd),
a real nats-server, and the real parser and storage services."""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from etstats.contract import common_pb2, control_pb2, files_pb2
from etstats.statsfile.generator import generate_match
from services.common.bus import Bus
from services.common.control import Control
from services.common.reports import status_text
from services.common.rpc import ServiceFailed
from services.common.sources import SourceConfig
from services.fetcher.service import SWITCH_READ_S, FetcherConfig, make_source
from services.fetcher.service import main as fetcher_main
from tests.inprocess import Running, running
from tests.sshservers import SshServer, ensure_sshd, start_asyncssh, start_sshd
from tests.tcp_cut import CuttableLink
from tests.waiting import wait_until

pytestmark = pytest.mark.service

POLL = 0.3


@pytest.fixture(scope="session")
def sshd_missing() -> str | None:
    return ensure_sshd()


@pytest.fixture(params=["asyncssh", "openssh"])
async def ssh_server(request, tmp_path: Path, sshd_missing):
    if request.param == "openssh":
        if sshd_missing:
            pytest.skip(sshd_missing)
        server = start_sshd(tmp_path)
    else:
        server = await start_asyncssh(tmp_path)
    yield server
    server.close()


class Raw:
    """Every raw file published on the bus, in order."""

    def __init__(self) -> None:
        self.files: list[files_pb2.RawFile] = []

    async def start(self, bus: Bus) -> Raw:
        async def on_msg(msg) -> None:
            self.files.append(files_pb2.RawFile.FromString(msg.data))

        await bus.nc.subscribe("stats.raw.>", cb=on_msg)
        await bus.nc.flush()  # subscribed at the server before anything is published
        return self

    def names(self) -> list[str]:
        return [f.file.filename for f in self.files]


def conf(*sources: SourceConfig, **over) -> FetcherConfig:
    base = FetcherConfig(
        sources=list(sources),
        poll_interval=POLL,
        catchup=timedelta(days=36500),
        lease_s=3,
        instance="fetcher-a",
        sync_concurrency=4,
        sync_settle_s=30,
        ssh_keepalive_s=5,
        stable_s=0.3,
    )
    return replace(base, **over)


def round_file(seed: int, when: datetime) -> tuple[str, bytes]:
    r1, _ = generate_match(random.Random(seed), when, players=6)
    return r1.filename, r1.body


def write_aged(path: Path, body: bytes, age: timedelta) -> None:
    """A file last modified `age` ago, as a round played then would be."""
    path.write_bytes(body)
    then = time.time() - age.total_seconds()
    os.utime(path, (then, then))


def write_slowly(path: Path, body: bytes, pause: float) -> None:
    """Write in small pieces over several polls, as a slow writer would."""
    with path.open("wb") as fh:
        for start in range(0, len(body), 300):
            fh.write(body[start : start + 300])
            fh.flush()
            time.sleep(pause)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def polled(source: str, times: int = 2) -> None:
    """Until `times` more polls of `source` have run to the end.

    "Nothing else is published" is then checked over real polls, not a guess
    at how long they take. The counter counts a poll as it starts, so one
    start more than `times` means `times` have ended.
    """
    start = sample("etstats_fetcher_polls_total", source=source)
    await wait_until(
        lambda: sample("etstats_fetcher_polls_total", source=source) >= start + times + 1,
        what=f"{times} more polls of {source}",
    )


async def next_second(directory: Path) -> None:
    """Until the clock has left the second of the directory's last change.

    SFTP (version 3, what OpenSSH and asyncssh speak) gives mtimes in whole
    seconds, and the fetcher lists a directory only when its mtime changed: a
    file added in the same second as the change it last listed goes unseen
    until the directory changes again (a gap of the fetcher, not of the test).
    """
    await wait_until(
        lambda: time.time() >= int(directory.stat().st_mtime) + 1,
        within=3,
        what=f"a new second after {directory}'s last change",
    )


async def caught_up(fetcher: Running, bus: Bus, source: str, instance: str = "fetcher-a") -> None:
    """Until `instance` holds `source` and has caught up (its readiness check):
    a file written afterwards is new to the monitor, not part of the catch-up."""
    check = fetcher.runtime.health.checks["catch-up"]

    async def done() -> bool:
        return (await status(bus))[source].lease_holder == instance and check()

    await wait_until(done, what=f"{instance} caught up on {source}")


async def test_new_file_is_published_once(
    ssh_server: SshServer, nats_server, bus, pipeline
) -> None:
    raw = await Raw().start(bus)
    settings = conf(ssh_server.source())
    async with running("fetcher", fetcher_main, settings, nats_server.url) as fetcher:
        await caught_up(fetcher, bus, "main")
        await next_second(ssh_server.root)
        name, body = round_file(1, datetime.now() - timedelta(hours=1))
        (ssh_server.root / name).write_bytes(body)
        (ssh_server.root / (name[:-4] + "_ws.txt")).write_bytes(b"sidecar")
        await wait_until(lambda: raw.names() == [name], what="the file on the bus")
        await polled("main")  # neither the file again nor the sidecar
    assert raw.names() == [name]
    assert raw.files[0].body == body
    assert raw.files[0].file.origin == common_pb2.ORIGIN_MONITOR
    assert raw.files[0].file.msg_id.startswith(f"main/{name}/")


async def test_file_still_being_written_is_not_fetched_early(
    ssh_server: SshServer, nats_server, bus, pipeline
) -> None:
    raw = await Raw().start(bus)
    name, body = round_file(2, datetime.now() - timedelta(hours=1))
    settings = conf(ssh_server.source())
    async with running("fetcher", fetcher_main, settings, nats_server.url) as fetcher:
        await caught_up(fetcher, bus, "main")
        await next_second(ssh_server.root)
        await asyncio.to_thread(write_slowly, ssh_server.root / name, body, POLL / 3)
        await wait_until(lambda: len(raw.files) == 1, what="the complete file")
        await polled("main")
    assert len(raw.files) == 1
    assert raw.files[0].body == body


async def test_hostile_names_are_ignored(ssh_server: SshServer, nats_server, bus, pipeline) -> None:
    raw = await Raw().start(bus)
    before = sample("etstats_fetcher_hostile_names_total", source="main")
    hostile = ["2026-11-24-201443-..-round-1.txt", "2026-11-24-201443-a\nb-round-1.txt"]
    name, body = round_file(3, datetime.now() - timedelta(hours=1))
    settings = conf(ssh_server.source())
    async with running("fetcher", fetcher_main, settings, nats_server.url) as fetcher:
        await caught_up(fetcher, bus, "main")
        await next_second(ssh_server.root)
        for bad in hostile:
            (ssh_server.root / bad).write_bytes(body)
        (ssh_server.root / name).write_bytes(body)
        await wait_until(lambda: raw.names() == [name])
        await polled("main")
    assert raw.names() == [name]
    assert sample("etstats_fetcher_hostile_names_total", source="main") == before + 2


async def status(bus: Bus) -> dict[str, control_pb2.SourceStatus]:
    return {s.source: s for s in (await Control(bus).fetcher_status()).sources}


async def test_unknown_host_key_is_refused(
    ssh_server: SshServer, nats_server, bus, pipeline
) -> None:
    other = ssh_server.known_hosts_file.read_text().split()[0]
    import asyncssh

    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    ssh_server.known_hosts_file.write_text(f"{other} {impostor}\n")
    raw = await Raw().start(bus)
    name, body = round_file(4, datetime.now() - timedelta(hours=1))
    (ssh_server.root / name).write_bytes(body)
    async with running("fetcher", fetcher_main, conf(ssh_server.source()), nats_server.url):

        async def refused() -> bool:
            return "is not in" in (await status(bus))["main"].last_error

        await wait_until(refused, what="the host key refused")
        await polled("main")  # and refused again, with nothing fetched
        state = (await status(bus))["main"]
    assert raw.files == []
    assert not state.connected
    assert "is not in" in state.last_error
    assert "never accepted automatically" in state.last_error
    assert sample("etstats_fetcher_ssh_errors_total", source="main", kind="host_key") >= 1


async def test_dropped_connection_mid_download_loses_nothing(
    asyncssh_server: SshServer, nats_server, bus, pipeline
) -> None:
    raw = await Raw().start(bus)
    name, body = round_file(5, datetime.now() - timedelta(hours=1))
    asyncssh_server.aborts.append(name)
    settings = conf(asyncssh_server.source())
    async with running("fetcher", fetcher_main, settings, nats_server.url) as fetcher:
        await caught_up(fetcher, bus, "main")
        await next_second(asyncssh_server.root)
        (asyncssh_server.root / name).write_bytes(body)
        await wait_until(lambda: raw.names() == [name], within=20)
        await polled("main")  # the retried download is not published twice
        state = (await status(bus))["main"]
    assert asyncssh_server.aborts == [], "the test server never dropped the connection"
    assert raw.names() == [name] and raw.files[0].body == body
    assert state.connected and state.errors >= 1


async def test_monitoring_off_fetches_nothing_and_on_resumes(
    nats_server, bus, pipeline, tmp_path: Path
) -> None:
    (tmp_path / "box").mkdir()
    local = SourceConfig("box", dir=tmp_path / "box")
    raw = await Raw().start(bus)
    async with running("fetcher", fetcher_main, conf(local), nats_server.url) as fetcher:
        await caught_up(fetcher, bus, "box")
        await Control(bus).set_monitoring("box", False, "test")
        await wait_until(
            lambda: sample("etstats_fetcher_monitoring", source="box") == 0,
            what="the fetcher to see monitoring off",
        )
        name, body = round_file(6, datetime.now() - timedelta(hours=1))
        (tmp_path / "box" / name).write_bytes(body)
        # Nothing to wait for: the point is that nothing happens. With monitoring
        # on, a whole file is on the bus within a poll; give it 3.
        await asyncio.sleep(3 * POLL)
        assert raw.files == []
        assert not (await status(bus))["box"].monitoring
        await Control(bus).set_monitoring("box", True, "test")
        await wait_until(lambda: raw.names() == [name])
        assert (await status(bus))["box"].monitoring


async def test_a_switch_written_while_the_fetcher_was_cut_off_is_read_on_reconnect(
    nats_server, bus, pipeline, tmp_path: Path
) -> None:
    (tmp_path / "box").mkdir()
    local = SourceConfig("box", dir=tmp_path / "box")
    link = await CuttableLink(nats_server.port).start()
    try:
        async with running("fetcher", fetcher_main, conf(local), link.url) as fetcher:
            await caught_up(fetcher, bus, "box")
            assert sample("etstats_fetcher_monitoring", source="box") == 1
            link.cut()
            await wait_until(lambda: not fetcher.runtime.bus.connected, what="cut off")
            # Written while the fetcher cannot hear of it: it reads the switch when
            # it is back, not only at its next regular read (SWITCH_READ_S).
            await Control(bus).set_monitoring("box", False, "test")
            link.mend()
            await wait_until(
                lambda: sample("etstats_fetcher_monitoring", source="box") == 0,
                within=SWITCH_READ_S / 2,
                what="the fetcher to see monitoring off once reconnected",
            )
    finally:
        await link.close()


async def test_lease_holder_dies_and_another_replica_takes_over(
    nats_server, bus, pipeline, tmp_path: Path
) -> None:
    (tmp_path / "box").mkdir()
    local = SourceConfig("box", dir=tmp_path / "box")
    raw = await Raw().start(bus)
    async with running(
        "fetcher", fetcher_main, conf(local, instance="fetcher-a"), nats_server.url
    ) as a:
        await caught_up(a, bus, "box")
        async with running(
            "fetcher", fetcher_main, conf(local, instance="fetcher-b"), nats_server.url
        ):
            # Nothing to wait for: b must not take the lease. It tries at start
            # and every POLL; two tries are enough to see it fail.
            await asyncio.sleep(2 * POLL)
            assert (await status(bus))["box"].lease_holder == "fetcher-a"
            await a.kill()
            killed = time.monotonic()
            name, body = round_file(7, datetime.now() - timedelta(hours=1))
            (tmp_path / "box" / name).write_bytes(body)
            await wait_until(lambda: raw.names() == [name], within=15)
            assert time.monotonic() - killed < 3 + 6 * POLL + 2
            assert (await status(bus))["box"].lease_holder == "fetcher-b"
    assert raw.names() == [name]


async def test_catch_up_fetches_recent_and_counts_older(
    nats_server, bus, pipeline, tmp_path: Path
) -> None:
    box = tmp_path / "box"
    box.mkdir()
    recent, recent_body = round_file(8, datetime.now() - timedelta(hours=3))
    old, old_body = round_file(9, datetime.now() - timedelta(days=5))
    (box / recent).write_bytes(recent_body)
    write_aged(box / old, old_body, timedelta(days=5))
    raw = await Raw().start(bus)
    settings = conf(SourceConfig("box", dir=box), catchup=timedelta(hours=48))
    async with running("fetcher", fetcher_main, settings, nats_server.url):
        await wait_until(lambda: raw.names() == [recent])
        await polled("box")  # the older file stays counted, not fetched
        state = (await status(bus))["box"]
    assert raw.files[0].file.origin == common_pb2.ORIGIN_CATCH_UP
    assert raw.files[0].file.recent, "a file of the catch-up window is posted"
    assert raw.names() == [recent]
    assert state.older_unimported == 1


class SyncResults:
    """The final result of every sync, by id (they are published when a sync ends)."""

    def __init__(self) -> None:
        self.by_id: dict[str, control_pb2.SyncResult] = {}

    async def start(self, bus: Bus) -> SyncResults:
        async def on_msg(msg) -> None:
            result = control_pb2.SyncResult.FromString(msg.data)
            self.by_id[result.sync_id] = result

        await bus.nc.subscribe("stats.sync.result.>", cb=on_msg)
        await bus.nc.flush()
        return self

    async def wait_for(self, sync_id: str) -> control_pb2.SyncResult:
        await wait_until(lambda: sync_id in self.by_id, within=30, what=f"sync {sync_id} ended")
        return self.by_id[sync_id]


async def request_sync(bus: Bus, period: str, sources=()) -> control_pb2.SyncAccepted:
    return await Control(bus).sync(period, list(sources))


TODAY = datetime.combine(datetime.now().date(), datetime.min.time())
AGES = [0, 1, 3, 10, 20, 45]  # file ages in days


def dated_file(seed: int, age: int) -> tuple[str, bytes]:
    """A round file stamped `age` days ago (today: just after midnight)."""
    r1, _ = generate_match(random.Random(seed), TODAY, players=4)
    when = TODAY - timedelta(days=age) + (timedelta(hours=12) if age else timedelta(minutes=1))
    return f"{when:%Y-%m-%d-%H%M%S}-{r1.header.map}-round-1.txt", r1.body


def many_files(box: Path, count: int, seed: int) -> Path:
    """A directory of `count` round files three days old: one round under many
    names, quick to write, for syncs that take a while."""
    box.mkdir()
    name, body = dated_file(seed, 3)
    stamp, rest = name[:17], name[17:]
    for i in range(count):
        (box / f"{stamp[:-2]}{i % 60:02d}{rest[:-11]}{i // 60}-round-1.txt").write_bytes(body)
    return box


def day(age: int) -> str:
    return f"{TODAY - timedelta(days=age):%Y-%m-%d}"


@pytest.mark.parametrize(
    ("period", "ages"),
    [
        ("today", [0]),
        ("yesterday", [1]),
        ("2d", [0, 1]),
        ("4 Days", [0, 1, 3]),
        ("2weeks", [0, 1, 3, 10]),
        ("1m", [0, 1, 3, 10, 20]),
        ("all", AGES),
        (day(10), [10]),
        (f"{day(20)}..{day(3)}", [3, 10, 20]),
    ],
)
async def test_sync_fetches_exactly_the_unknown_files_oldest_first(
    period: str, ages: list[int], asyncssh_server: SshServer, nats_server, bus, pipeline
) -> None:
    names = {}
    for age in AGES:
        name, body = dated_file(300 + age, age)
        names[age] = name
        (asyncssh_server.root / name).write_bytes(body)
    raw = await Raw().start(bus)
    done = await SyncResults().start(bus)
    await Control(bus).set_monitoring("main", False, "test")
    async with running("fetcher", fetcher_main, conf(asyncssh_server.source()), nats_server.url):
        first = await request_sync(bus, period)
        assert first.sync_id and not first.already_running
        expected = [names[age] for age in sorted(ages, reverse=True)]  # oldest first
        await wait_until(lambda: raw.names() == expected, within=20, what=f"files of {period}")
        # The next sync of everything (once the first has let go of the source)
        # fetches only what is still unknown.
        started: list[control_pb2.SyncAccepted] = []

        async def second_started() -> bool:
            started[:] = [await request_sync(bus, "all")]
            return not started[0].already_running

        await wait_until(second_started, what="a second sync to start")
        (second,) = started
        rest = [names[age] for age in sorted(set(AGES) - set(ages), reverse=True)]
        await wait_until(lambda: raw.names() == expected + rest, within=20, what="the rest")
        await done.wait_for(second.sync_id)  # nothing more comes from it
    assert raw.names() == expected + rest
    assert {f.file.sync_id for f in raw.files[: len(expected)]} == {first.sync_id}


async def test_sync_fetches_unknown_files_in_order_and_reports(
    asyncssh_server: SshServer, nats_server, bus, pipeline
) -> None:
    files = []
    for age in AGES:
        name, body = dated_file(200 + age, age)
        files.append(name)
        (asyncssh_server.root / name).write_bytes(body)
    (asyncssh_server.root / "2026-01-01-000000-bad-round-1.txt").write_bytes(b"broken\n")
    raw = await Raw().start(bus)
    await Control(bus).set_monitoring("main", False, "test")
    results = []

    async def on_result(msg) -> None:
        results.append(control_pb2.SyncResult.FromString(msg.data))

    await bus.nc.subscribe("stats.sync.result.>", cb=on_result)
    async with running("fetcher", fetcher_main, conf(asyncssh_server.source()), nats_server.url):
        accepted = await request_sync(bus, "1m")
        again = await request_sync(bus, "2d")
        await wait_until(lambda: bool(results), within=30, what="the sync result")
    assert again.already_running and again.sync_id == accepted.sync_id
    (result,) = results
    expected = sorted(files[:5])  # 45 days is outside 1m; names sort by stamp
    assert raw.names() == expected
    assert all(
        f.file.origin == common_pb2.ORIGIN_SYNC and f.file.sync_id == accepted.sync_id
        for f in raw.files
    )
    assert (result.imported, result.duplicates, result.rejected) == (5, 0, 0)
    assert sum(result.rounds_per_map.values()) == 5


async def test_bad_period_gets_the_accepted_forms(nats_server, bus, pipeline, tmp_path) -> None:
    async with running(
        "fetcher", fetcher_main, conf(SourceConfig("box", dir=tmp_path)), nats_server.url
    ):
        with pytest.raises(ServiceFailed) as bad_period:
            await request_sync(bus, "fortnight")
        with pytest.raises(ServiceFailed) as bad_source:
            await request_sync(bus, "2d", sources=["nope"])
        with pytest.raises(ServiceFailed) as beyond:
            await request_sync(bus, "9999-12-31..0001-01-01")
    assert bad_period.value.code == "400"
    assert "'fortnight' is not a period. Accepted: today, yesterday, all" in str(bad_period.value)
    assert str(bad_source.value) == (
        "unknown source 'nope'; sources: box (fetcher sync, error 404)"
    )
    assert "the range ends before it starts" in str(beyond.value)


async def test_a_sync_can_be_cancelled(nats_server, bus, pipeline, tmp_path: Path) -> None:
    box = many_files(tmp_path / "box", 1500, seed=400)
    await Control(bus).set_monitoring("box", False, "test")
    results: list[control_pb2.SyncResult] = []

    async def on_result(msg) -> None:
        results.append(control_pb2.SyncResult.FromString(msg.data))

    await bus.nc.subscribe("stats.sync.result.>", cb=on_result)
    async with running(
        "fetcher", fetcher_main, conf(SourceConfig("box", dir=box)), nats_server.url
    ):
        accepted = await request_sync(bus, "all")
        assert await Control(bus).cancel_sync(accepted.sync_id)
        await wait_until(lambda: bool(results), within=30, what="the result of the cancelled sync")
    (result,) = results
    assert result.cancelled
    (progress,) = result.sources
    assert progress.unknown == 1500
    assert progress.fetched < 1500


async def test_sync_of_named_files_fetches_only_those(nats_server, bus, pipeline, tmp_path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    names = []
    for age in (1, 2, 3):
        name, body = dated_file(500 + age, age)
        (box / name).write_bytes(body)
        names.append(name)
    await Control(bus).set_monitoring("box", False, "test")
    raw = await Raw().start(bus)
    done = await SyncResults().start(bus)
    async with running(
        "fetcher", fetcher_main, conf(SourceConfig("box", dir=box)), nats_server.url
    ):
        accepted = await Control(bus).sync("today", files=[names[1], "not-there.txt"])
        assert accepted.sync_id
        await wait_until(lambda: raw.names() == [names[1]])
        await done.wait_for(accepted.sync_id)  # nothing more comes from it
    assert raw.names() == [names[1]]


async def test_a_missing_directory_makes_the_fetcher_not_ready(
    nats_server, bus, pipeline, tmp_path: Path
) -> None:
    """Never created nor taken for empty: a wrong or unmounted path shows, until it is there."""
    box = tmp_path / "box"
    async with running(
        "fetcher", fetcher_main, conf(SourceConfig("box", dir=box)), nats_server.url
    ) as fetcher:
        checks = fetcher.runtime.health.checks

        async def reported() -> bool:
            return "does not exist" in (await status(bus))["box"].last_error

        await wait_until(reported, what="the missing directory in status")
        text = status_text(*await Control(bus).statuses())
        assert not checks["sources"]() and not checks["catch-up"]()
        assert not box.exists()
        box.mkdir()
        await wait_until(lambda: checks["sources"]() and checks["catch-up"](), what="ready")
        box.rmdir()
        await wait_until(lambda: not checks["sources"](), what="not ready again")
    assert text.splitlines()[0].startswith("box: NOT connected")
    assert f"(last: directory {box} does not exist)" in text.splitlines()[1]


@pytest.mark.service
async def test_a_file_is_read_whole_whatever_its_size_against_the_server_s_read_limit(
    ssh_server: SshServer,
) -> None:
    """The fetcher stops reading at a short answer instead of asking once more
    for end-of-file; a file longer than one answer (OpenSSH: 255 KiB) must still
    come whole, and one over the cap one byte over it."""
    max_bytes = 1_000_000
    sizes = [0, 1, 3600, 261_119, 261_120, 261_121, 700_000, max_bytes, max_bytes + 5]
    rng = random.Random(3)
    bodies = {f"f{size}.txt": rng.randbytes(size) for size in sizes}
    for name, body in bodies.items():
        (ssh_server.root / name).write_bytes(body)
    source = make_source(ssh_server.source(), keepalive_s=15)
    try:
        for name, body in bodies.items():
            assert await source.read(name, max_bytes) == body[: max_bytes + 1], name
    finally:
        await source.close()
