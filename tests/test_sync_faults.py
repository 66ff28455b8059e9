"""A sync job outlives outages of its source and of NATS: what fails while they are
away is tried again once they are back, within the same job, and the job always
ends with a result that names what is still missing."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from nats.js.errors import NotFoundError

from etstats.contract import control_pb2
from services.common.bus import Bus
from services.common.control import Control
from services.common.endpoints import STORAGE_UNKNOWN_FILES
from services.common.reports import status_text
from services.common.rpc import ask
from services.common.subjects import SYNC_RESULT_TTL_S, SYNC_RESULTS_BUCKET
from services.fetcher import sync
from services.fetcher.service import main as fetcher_main
from services.parser.service import ParserConfig
from services.parser.service import main as parser_main
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.inprocess import running
from tests.sshservers import SshServer
from tests.test_fetcher import AGES, Raw, conf, dated_file, request_sync, sample
from tests.test_ops_cli import cli
from tests.waiting import wait_until

pytestmark = pytest.mark.service


def serve_rounds(server: SshServer, seed: int) -> list[str]:
    """One round per age in AGES; the names in the order a sync takes them."""
    names = []
    for age in AGES:
        name, body = dated_file(seed + age, age)
        (server.root / name).write_bytes(body)
        names.append(name)
    return sorted(names)


async def stored_result(bus: Bus, sync_id: str) -> control_pb2.SyncResult:
    """The job's result as late followers find it (a core subscription could miss
    it while the test's own connection is still reconnecting)."""
    found: list[control_pb2.SyncResult] = []

    async def ended() -> bool:
        results = await bus.key_value(SYNC_RESULTS_BUCKET, ttl=SYNC_RESULT_TTL_S)
        try:
            entry = await results.get(sync_id)
        except NotFoundError:
            return False
        found.append(control_pb2.SyncResult.FromString(entry.value or b""))
        return True

    await wait_until(ended, within=60, what=f"the result of sync {sync_id}")
    return found[0]


def complete(result: control_pb2.SyncResult, count: int) -> None:
    ((progress),) = result.sources
    assert (progress.fetched, progress.stored, progress.failed) == (count, count, 0), result
    assert not result.error, result.error
    assert list(result.missing) == [] and result.missing_total == 0


@pytest.mark.usefixtures("pipeline")
async def test_a_sync_waits_for_its_source_to_come_back(
    asyncssh_server: SshServer, nats_server, bus
) -> None:
    names = serve_rounds(asyncssh_server, 800)
    asyncssh_server.on_read[names[2]] = asyncssh_server.kill  # in the middle of a download
    assert asyncssh_server.restart is not None
    await Control(bus).set_monitoring("main", False, "test")
    raw = await Raw().start(bus)
    refused = sample("etstats_fetcher_ssh_errors_total", source="main", kind="connect")
    settings = conf(asyncssh_server.source(), sync_concurrency=1)
    async with running("fetcher", fetcher_main, settings, nats_server.url):
        accepted = await request_sync(bus, "all")
        await wait_until(
            lambda: (
                sample("etstats_fetcher_ssh_errors_total", source="main", kind="connect")
                >= refused + 3
            ),
            within=60,
            what="three connections refused while the server is away",
        )
        await asyncssh_server.restart()
        result = await stored_result(bus, accepted.sync_id)
    complete(result, len(names))
    assert sorted(set(raw.names())) == names


@pytest.mark.usefixtures("pipeline")
async def test_a_sync_waits_for_nats_to_come_back_and_lets_go_of_its_source(
    asyncssh_server: SshServer, nats_server, bus
) -> None:
    names = serve_rounds(asyncssh_server, 900)
    asyncssh_server.on_read[names[2]] = nats_server.stop  # read, then nowhere to publish
    await Control(bus).set_monitoring("main", False, "test")
    retried = sample("etstats_fetcher_sync_retries_total", cause="nats")
    # A file storage was handling when NATS went down comes back only after its ack
    # wait (30 s), and the live lane waits for it: the job's patience must be longer,
    # as its default (5 min) is.
    settings = conf(asyncssh_server.source(), sync_concurrency=1, sync_settle_s=90)
    async with running("fetcher", fetcher_main, settings, nats_server.url):
        accepted = await request_sync(bus, "all")
        await wait_until(
            lambda: sample("etstats_fetcher_sync_retries_total", cause="nats") >= retried + 2,
            within=30,
            what="publishing tried again while NATS is away",
        )
        nats_server.start()
        result = await stored_result(bus, accepted.sync_id)
        complete(result, len(names))

        async def released() -> bool:
            return await Control(bus).running_syncs() == []

        await wait_until(released, what="the job's lock released")
        again = await request_sync(bus, "all")
        assert not again.already_running
        complete(await stored_result(bus, again.sync_id), 0)


def server_back(server: SshServer) -> Callable[[], Awaitable[bool]]:
    """Starts the killed server again once its old listener has closed."""
    restart = server.restart
    assert restart is not None

    async def back() -> bool:
        try:
            await restart()
        except OSError:  # the old listener is still closing
            return False
        return True

    return back


async def unknown_to_storage(bus: Bus, names: list[str]) -> list[str]:
    request = control_pb2.KnownFilesRequest(source="main", filenames=names)
    return list((await ask(bus, STORAGE_UNKNOWN_FILES, request)).unknown)


@pytest.mark.usefixtures("pipeline")
async def test_a_sync_whose_fetcher_dies_is_resumed_by_another(
    asyncssh_server: SshServer, nats_server, bus
) -> None:
    names = serve_rounds(asyncssh_server, 900)
    reached = asyncio.Event()

    def stall() -> None:  # the job is under way, and waits for its source
        reached.set()
        asyncssh_server.kill()

    asyncssh_server.on_read[names[2]] = stall
    await Control(bus).set_monitoring("main", False, "test")
    source = asyncssh_server.source()
    first = conf(source, instance="fetcher-a", sync_concurrency=1)
    second = conf(source, instance="fetcher-b", sync_concurrency=1)
    async with running("fetcher", fetcher_main, first, nats_server.url) as a:
        accepted = await request_sync(bus, "all")  # only fetcher-a runs: its job
        await asyncio.wait_for(reached.wait(), 30)
        async with running("fetcher", fetcher_main, second, nats_server.url):
            await a.kill()  # as kill -9: no result, no lock released
            refused = await request_sync(bus, "today")
            assert refused.already_running and refused.sync_id == accepted.sync_id
            await wait_until(server_back(asyncssh_server), what="the server back")
            result = await stored_result(bus, accepted.sync_id)  # from fetcher-b
            assert not result.error and result.missing_total == 0, result
            assert await unknown_to_storage(bus, names) == []

            async def released() -> bool:
                return await Control(bus).running_syncs() == []

            await wait_until(released, within=10, what="the job's locks released")


@pytest.mark.usefixtures("pipeline")
async def test_a_sync_is_cancelled_from_a_fetcher_that_does_not_run_it(
    asyncssh_server: SshServer, nats_server, bus
) -> None:
    names = serve_rounds(asyncssh_server, 950)
    asyncssh_server.on_read[names[1]] = asyncssh_server.kill  # the job waits for the source
    await Control(bus).set_monitoring("main", False, "test")
    source = asyncssh_server.source()
    first = conf(source, instance="fetcher-a", sync_concurrency=1)
    second = conf(source, instance="fetcher-b", sync_concurrency=1)
    async with running("fetcher", fetcher_main, first, nats_server.url) as a:
        accepted = await request_sync(bus, "all")
        async with running("fetcher", fetcher_main, second, nats_server.url):
            await a.runtime.micro.stop()  # from now on fetcher-b answers every request
            assert await Control(bus).cancel_sync(accepted.sync_id)
            result = await stored_result(bus, accepted.sync_id)  # from fetcher-a
            assert result.cancelled
            assert not await Control(bus).cancel_sync("nosuchsync")


@pytest.mark.usefixtures("pipeline")
async def test_status_counts_what_a_sync_imported_and_no_advice_to_sync_during_one(
    asyncssh_server: SshServer, nats_server, bus
) -> None:
    names = serve_rounds(asyncssh_server, 990)
    old = time.time() - 2 * 86400  # files of rounds played two days ago
    for name in names:
        os.utime(asyncssh_server.root / name, (old, old))
    asyncssh_server.on_read[names[2]] = asyncssh_server.kill  # the job waits for the source
    settings = conf(asyncssh_server.source(), sync_concurrency=1, catchup=timedelta(hours=1))
    control = Control(bus)
    async with running("fetcher", fetcher_main, settings, nats_server.url):

        async def older_counted() -> bool:
            (fetcher, _) = await control.statuses()
            return fetcher is not None and fetcher.sources[0].older_unimported > 0

        await wait_until(older_counted, what="the old files counted, not imported")
        accepted = await request_sync(bus, "all")
        (fetcher, _) = await control.statuses()
        assert fetcher is not None and fetcher.sources[0].older_unimported == 0
        assert "older files not imported" not in status_text(fetcher, None)
        await wait_until(server_back(asyncssh_server), what="the server back")
        result = await stored_result(bus, accepted.sync_id)
        assert result.missing_total == 0
        (fetcher, _) = await control.statuses()
        assert fetcher is not None
        imported = sum(p.fetched for p in result.sources)
        assert fetcher.sources[0].files_total == imported > 0
        assert fetcher.sources[0].last_new_file_ms > 0


@pytest.mark.usefixtures("pipeline")
async def test_a_reimport_while_a_sync_holds_the_source_is_refused_clearly(
    asyncssh_server: SshServer, nats_server, bus
) -> None:
    names = serve_rounds(asyncssh_server, 970)
    bad = names[0].replace("round-1", "round-2")  # a round 2 file that is not one
    (asyncssh_server.root / bad).write_bytes(b"not a stats file\n")
    await Control(bus).set_monitoring("main", False, "test")
    settings = conf(asyncssh_server.source(), sync_concurrency=1)
    async with running("fetcher", fetcher_main, settings, nats_server.url):
        first = await stored_result(bus, (await request_sync(bus, "all")).sync_id)
        assert first.rejected == 1
        (asyncssh_server.root / names[1]).unlink()  # a sync that waits for the source
        new, body = dated_file(975, 2)
        (asyncssh_server.root / new).write_bytes(body)
        asyncssh_server.on_read[new] = asyncssh_server.kill
        holding = await request_sync(bus, "all")
        code, out, err = await cli(nats_server.url, "reimport", "--rejected", "--source", "main")
        assert (code, out) == (2, ""), err
        assert f"sync {holding.sync_id}" in err and "is running for main" in err
        assert "rejected files are forgotten now, so the next sync of their days" in err


async def test_a_sync_runs_at_most_sync_ahead_files_ahead_of_storage(
    asyncssh_server: SshServer, nats_server, bus, database_url: str, monkeypatch
) -> None:
    """The stream holds what the stages have yet to take: a sync publishes no more
    than SYNC_AHEAD files that storage has not confirmed, so a stage that is away
    or slow bounds the stream instead of the whole sync piling up in it."""
    monkeypatch.setattr(sync, "SYNC_AHEAD", 3)
    names = serve_rounds(asyncssh_server, 1000)
    await Control(bus).set_monitoring("main", False, "test")
    raw = await Raw().start(bus)
    storage = running("storage", storage_main, StorageConfig(database_url, 2), nats_server.url)
    fetcher = running("fetcher", fetcher_main, conf(asyncssh_server.source()), nats_server.url)
    async with storage, fetcher:
        accepted = await request_sync(bus, "all")
        await wait_until(lambda: len(raw.names()) >= 3, what="three files published")
        await asyncio.sleep(1.5)  # the parser is away: nothing is confirmed
        assert len(raw.names()) == 3 < len(names)
        async with running("parser", parser_main, ParserConfig(batch=16), nats_server.url):
            result = await stored_result(bus, accepted.sync_id)
    complete(result, len(names))


@pytest.mark.usefixtures("pipeline")
async def test_a_file_gone_since_the_listing_is_missing_at_once(
    asyncssh_server: SshServer, nats_server, bus
) -> None:
    """ "No such file" is final: the file is not asked for again (it was, three times)."""
    names = serve_rounds(asyncssh_server, 900)
    gone = names[3]
    asyncssh_server.on_read[names[0]] = (asyncssh_server.root / gone).unlink
    await Control(bus).set_monitoring("main", False, "test")
    settings = conf(asyncssh_server.source(), sync_concurrency=1)
    async with running("fetcher", fetcher_main, settings, nats_server.url):
        accepted = await request_sync(bus, "all")
        result = await stored_result(bus, accepted.sync_id)
    ((progress),) = result.sources
    assert (progress.fetched, progress.stored) == (len(names) - 1, len(names) - 1)
    assert list(result.missing) == [f"main {gone}: gone since it was listed"]
    assert asyncssh_server.opened[gone] == 1


@pytest.mark.usefixtures("pipeline")
async def test_a_directory_moved_away_during_a_sync_is_waited_for(
    asyncssh_server: SshServer, nats_server, bus
) -> None:
    """A file of a directory that is gone is not "gone since it was listed": the
    source is away, and the job waits for it as for a server that is down."""
    names = serve_rounds(asyncssh_server, 1000)
    away = asyncssh_server.root.with_name("moved-away")

    def move_away() -> None:
        asyncssh_server.root.rename(away)

    asyncssh_server.on_read[names[0]] = move_away
    await Control(bus).set_monitoring("main", False, "test")
    retried = sample("etstats_fetcher_sync_retries_total", cause="source")
    settings = conf(asyncssh_server.source(), sync_concurrency=1)
    async with running("fetcher", fetcher_main, settings, nats_server.url):
        accepted = await request_sync(bus, "all")
        await wait_until(
            lambda: sample("etstats_fetcher_sync_retries_total", cause="source") >= retried + 2,
            within=30,
            what="the job waiting for its directory",
        )
        away.rename(asyncssh_server.root)
        result = await stored_result(bus, accepted.sync_id)
    complete(result, len(names))
