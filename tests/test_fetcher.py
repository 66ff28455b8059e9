"""The fetcher against real SSH servers (asyncssh in-process and OpenSSH's sshd),
a real nats-server, and the real parser and storage services."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from nats.errors import NoRespondersError
from prometheus_client import REGISTRY

from etstats.contract import common_pb2, control_pb2, files_pb2
from etstats.statsfile.generator import generate_match
from etstats_cli.embedded import EmbeddedNats
from services.common.bus import Bus
from services.common.control import Control
from services.common.sources import SourceConfig
from services.common.subjects import (
    FETCHER_STATUS,
    FETCHER_SYNC,
    FETCHER_SYNC_CANCEL,
)
from services.fetcher.service import FetcherConfig
from services.fetcher.service import main as fetcher_main
from services.parser.service import ParserConfig
from services.parser.service import main as parser_main
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.inprocess import running
from tests.sshservers import SshServer, ensure_sshd, start_asyncssh, start_sshd

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


@pytest.fixture
async def asyncssh_server(tmp_path: Path):
    server = await start_asyncssh(tmp_path)
    yield server
    server.close()


@pytest.fixture
async def pipeline(nats_server: EmbeddedNats, database_url: str):
    """Storage and parser running: the fetcher asks storage what is known."""
    async with (
        running("storage", storage_main, StorageConfig(database_url, 2), nats_server.url),
        running("parser", parser_main, ParserConfig(batch=16), nats_server.url),
    ):
        yield


class Raw:
    """Every raw file published on the bus, in order."""

    def __init__(self) -> None:
        self.files: list[files_pb2.RawFile] = []

    async def start(self, bus: Bus) -> Raw:
        async def on_msg(msg) -> None:
            self.files.append(files_pb2.RawFile.FromString(msg.data))

        await bus.nc.subscribe("stats.raw.>", cb=on_msg)
        return self

    def names(self) -> list[str]:
        return [f.file.filename for f in self.files]


async def wait_until(check: Callable[[], bool], within: float = 15, what: str = "") -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)


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
        settle_s=0.3,
    )
    return replace(base, **over)


def round_file(seed: int, when: datetime) -> tuple[str, bytes]:
    r1, _ = generate_match(random.Random(seed), when, players=6)
    return r1.filename, r1.body


def write_slowly(path: Path, body: bytes, pause: float) -> None:
    """Write in small pieces over several polls, as a slow writer would."""
    with path.open("wb") as fh:
        for start in range(0, len(body), 300):
            fh.write(body[start : start + 300])
            fh.flush()
            time.sleep(pause)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_new_file_is_published_once(
    ssh_server: SshServer, nats_server, bus, pipeline
) -> None:
    raw = await Raw().start(bus)
    async with running("fetcher", fetcher_main, conf(ssh_server.source()), nats_server.url):
        await asyncio.sleep(3 * POLL)
        name, body = round_file(1, datetime.now() - timedelta(hours=1))
        (ssh_server.root / name).write_bytes(body)
        (ssh_server.root / (name[:-4] + "_ws.txt")).write_bytes(b"sidecar")
        await wait_until(lambda: raw.names() == [name], what="the file on the bus")
        await asyncio.sleep(6 * POLL)
    assert raw.names() == [name]
    assert raw.files[0].body == body
    assert raw.files[0].file.origin == common_pb2.ORIGIN_MONITOR
    assert raw.files[0].file.msg_id.startswith(f"main/{name}/")


async def test_file_still_being_written_is_not_fetched_early(
    ssh_server: SshServer, nats_server, bus, pipeline
) -> None:
    raw = await Raw().start(bus)
    name, body = round_file(2, datetime.now() - timedelta(hours=1))
    async with running("fetcher", fetcher_main, conf(ssh_server.source()), nats_server.url):
        await asyncio.sleep(3 * POLL)
        await asyncio.to_thread(write_slowly, ssh_server.root / name, body, POLL / 3)
        await wait_until(lambda: len(raw.files) == 1, what="the complete file")
        await asyncio.sleep(4 * POLL)
    assert len(raw.files) == 1
    assert raw.files[0].body == body


async def test_hostile_names_are_ignored(ssh_server: SshServer, nats_server, bus, pipeline) -> None:
    raw = await Raw().start(bus)
    before = sample("etstats_fetcher_hostile_names_total", source="main")
    hostile = ["2026-11-24-201443-..-round-1.txt", "2026-11-24-201443-a\nb-round-1.txt"]
    name, body = round_file(3, datetime.now() - timedelta(hours=1))
    async with running("fetcher", fetcher_main, conf(ssh_server.source()), nats_server.url):
        for bad in hostile:
            (ssh_server.root / bad).write_bytes(body)
        (ssh_server.root / name).write_bytes(body)
        await wait_until(lambda: raw.names() == [name])
        await asyncio.sleep(3 * POLL)
    assert raw.names() == [name]
    assert sample("etstats_fetcher_hostile_names_total", source="main") == before + 2


async def ask(bus: Bus, subject: str, payload: bytes):
    """A request to a service that may still be starting."""
    for _ in range(100):
        try:
            return await bus.nc.request(subject, payload, timeout=5)
        except NoRespondersError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"nobody answers {subject}")


async def status(bus: Bus) -> dict[str, control_pb2.SourceStatus]:
    msg = await ask(bus, FETCHER_STATUS, b"")
    return {s.source: s for s in control_pb2.StatusReply.FromString(msg.data).sources}


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
        await asyncio.sleep(4 * POLL)
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
    async with running("fetcher", fetcher_main, conf(asyncssh_server.source()), nats_server.url):
        (asyncssh_server.root / name).write_bytes(body)
        await wait_until(lambda: raw.names() == [name], within=20)
        await asyncio.sleep(4 * POLL)
        state = (await status(bus))["main"]
    assert asyncssh_server.aborts == [], "the test server never dropped the connection"
    assert raw.names() == [name] and raw.files[0].body == body
    assert state.connected and state.errors >= 1


async def test_monitoring_off_fetches_nothing_and_on_resumes(
    nats_server, bus, pipeline, tmp_path: Path
) -> None:
    local = SourceConfig("box", dir=tmp_path / "box")
    raw = await Raw().start(bus)
    async with running("fetcher", fetcher_main, conf(local), nats_server.url):
        await asyncio.sleep(3 * POLL)
        await Control(bus).set_monitoring("box", False, "test")
        await asyncio.sleep(2 * POLL)
        name, body = round_file(6, datetime.now() - timedelta(hours=1))
        (tmp_path / "box" / name).write_bytes(body)
        await asyncio.sleep(6 * POLL)
        assert raw.files == []
        assert not (await status(bus))["box"].monitoring
        await Control(bus).set_monitoring("box", True, "test")
        await wait_until(lambda: raw.names() == [name])
        assert (await status(bus))["box"].monitoring


async def test_lease_holder_dies_and_another_replica_takes_over(
    nats_server, bus, pipeline, tmp_path: Path
) -> None:
    local = SourceConfig("box", dir=tmp_path / "box")
    raw = await Raw().start(bus)
    async with running(
        "fetcher", fetcher_main, conf(local, instance="fetcher-a"), nats_server.url
    ) as a:
        await asyncio.sleep(3 * POLL)
        async with running(
            "fetcher", fetcher_main, conf(local, instance="fetcher-b"), nats_server.url
        ):
            await asyncio.sleep(3 * POLL)
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
    (box / old).write_bytes(old_body)
    raw = await Raw().start(bus)
    settings = conf(SourceConfig("box", dir=box), catchup=timedelta(hours=48))
    async with running("fetcher", fetcher_main, settings, nats_server.url):
        await wait_until(lambda: raw.names() == [recent])
        await asyncio.sleep(3 * POLL)
        state = (await status(bus))["box"]
    assert raw.files[0].file.origin == common_pb2.ORIGIN_CATCH_UP
    assert raw.names() == [recent]
    assert state.older_unimported == 1


async def request_sync(bus: Bus, period: str, sources=()) -> control_pb2.SyncAccepted:
    request = control_pb2.SyncRequest(period=period, sources=list(sources))
    msg = await ask(bus, FETCHER_SYNC, request.SerializeToString())
    return control_pb2.SyncAccepted.FromString(msg.data)


TODAY = datetime.combine(datetime.now().date(), datetime.min.time())
AGES = [0, 1, 3, 10, 20, 45]  # file ages in days


def dated_file(seed: int, age: int) -> tuple[str, bytes]:
    """A round file stamped `age` days ago (today: just after midnight)."""
    r1, _ = generate_match(random.Random(seed), TODAY, players=4)
    when = TODAY - timedelta(days=age) + (timedelta(hours=12) if age else timedelta(minutes=1))
    return f"{when:%Y-%m-%d-%H%M%S}-{r1.header.map}-round-1.txt", r1.body


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
    await Control(bus).set_monitoring("main", False, "test")
    async with running("fetcher", fetcher_main, conf(asyncssh_server.source()), nats_server.url):
        first = await request_sync(bus, period)
        assert first.sync_id and not first.error
        expected = [names[age] for age in sorted(ages, reverse=True)]  # oldest first
        await wait_until(lambda: raw.names() == expected, within=20, what=f"files of {period}")
        # The next sync of everything fetches only what is still unknown.
        for _ in range(200):
            second = await request_sync(bus, "all")
            if not second.already_running:
                break
            await asyncio.sleep(0.1)
        rest = [names[age] for age in sorted(set(AGES) - set(ages), reverse=True)]
        await wait_until(lambda: raw.names() == expected + rest, within=20, what="the rest")
        await asyncio.sleep(0.5)
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
        await wait_until(lambda: results, within=30, what="the sync result")
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
        accepted = await request_sync(bus, "fortnight")
        unknown = await request_sync(bus, "2d", sources=["nope"])
    assert not accepted.sync_id
    assert "'fortnight' is not a period. Accepted: today, yesterday, all" in accepted.error
    assert unknown.error == "unknown source 'nope'; sources: box"


async def test_a_sync_can_be_cancelled(nats_server, bus, pipeline, tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    name, body = dated_file(400, 3)
    stamp, rest = name[:17], name[17:]
    for i in range(1500):  # the same round under many names: quick to write
        (box / f"{stamp[:-2]}{i % 60:02d}{rest[:-11]}{i // 60}-round-1.txt").write_bytes(body)
    await Control(bus).set_monitoring("box", False, "test")
    results: list[control_pb2.SyncResult] = []

    async def on_result(msg) -> None:
        results.append(control_pb2.SyncResult.FromString(msg.data))

    await bus.nc.subscribe("stats.sync.result.>", cb=on_result)
    async with running(
        "fetcher", fetcher_main, conf(SourceConfig("box", dir=box)), nats_server.url
    ):
        accepted = await request_sync(bus, "all")
        reply = await ask(
            bus,
            FETCHER_SYNC_CANCEL,
            control_pb2.SyncCancel(sync_id=accepted.sync_id).SerializeToString(),
        )
        assert control_pb2.SyncCancelled.FromString(reply.data).found
        await wait_until(lambda: results, within=30, what="the result of the cancelled sync")
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
    async with running(
        "fetcher", fetcher_main, conf(SourceConfig("box", dir=box)), nats_server.url
    ):
        request = control_pb2.SyncRequest(period="today", files=[names[1], "not-there.txt"])
        msg = await ask(bus, FETCHER_SYNC, request.SerializeToString())
        assert control_pb2.SyncAccepted.FromString(msg.data).sync_id
        await wait_until(lambda: raw.names() == [names[1]])
        await asyncio.sleep(0.5)
    assert raw.names() == [names[1]]
