"""Storage on a real PostgreSQL: pairing in every order, replicas, backups, queries."""

from __future__ import annotations

import asyncio
import os
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.js.errors import NotFoundError

from etstats.contract import control_pb2
from etstats.statsfile.generator import (
    MAPS,
    Evening,
    GeneratedFile,
    generate_evening,
    generate_match,
)
from etstats.statsfile.stopwatch import Outcome as StopwatchOutcome
from services.common.control import Control
from services.common.endpoints import STORAGE_ROUND, STORAGE_UNKNOWN_FILES
from services.common.render import OUTCOMES, round_embeds
from services.common.rpc import ServiceFailed, ask
from services.storage.backup import find_pg_dump
from services.storage.importer import Outcome, import_batch, import_round
from services.storage.migrations import migrate
from services.storage.queries import stored_round
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.inprocess import running
from tests.rounds import parsed
from tests.truth import assert_matches_truth
from tests.waiting import wait_until

pytestmark = pytest.mark.service


async def round_values(conn: asyncpg.Connection, filename: str) -> dict[tuple[str, str], tuple]:
    rows = await conn.fetch(
        "SELECT p.guid, p.clean_name, p.round_kills, p.round_deaths, p.round_values, p.basis"
        " FROM player_rounds p JOIN rounds r ON r.id = p.round_id JOIN files f ON f.id = r.file_id"
        " WHERE f.filename = $1",
        filename,
    )
    return {
        (r["guid"], r["clean_name"]): (
            r["round_kills"],
            r["round_deaths"],
            r["round_values"],
            r["basis"],
        )
        for r in rows
    }


def truth(generated: GeneratedFile) -> dict[tuple[str, str], tuple]:
    return {
        (p.guid, p.clean_name): (p.kills, p.deaths, list(p.values)) for p in generated.round_players
    }


def assert_true_values(stored: dict, expected: dict) -> None:
    assert stored.keys() == expected.keys()
    for key, (kills, deaths, values, basis) in stored.items():
        assert (kills, deaths) == expected[key][:2], key
        assert values == pytest.approx(expected[key][2]), key
        assert basis in ("round1", "difference", "joined", "reset")


@pytest.mark.parametrize("order", ["r1_first", "r2_first"])
@pytest.mark.parametrize("start", [datetime(2026, 11, 24, 20, 0), datetime(2026, 11, 24, 23, 40)])
async def test_pairing_gives_true_round_values(db: asyncpg.Connection, order: str, start) -> None:
    await migrate(db)
    r1, r2 = next(
        (r1, r2)
        for seed in range(100)
        for r1, r2 in [generate_match(random.Random(seed), start, players=10, churn=True, bots=2)]
        if start.hour != 23 or r1.filename[:10] != r2.filename[:10]  # across midnight
    )
    first, second = (r1, r2) if order == "r1_first" else (r2, r1)
    await import_round(db, parsed(first))
    if order == "r2_first":  # an orphan until its round 1 arrives
        assert await db.fetchval("SELECT orphan FROM rounds") is True
        assert all(v[2] is None for v in (await round_values(db, r2.filename)).values())
    await import_round(db, parsed(second))
    assert_true_values(await round_values(db, r1.filename), truth(r1))
    assert_true_values(await round_values(db, r2.filename), truth(r2))
    bases = {v[3] for v in (await round_values(db, r2.filename)).values()}
    assert bases == {"difference", "joined", "reset"}
    assert await db.fetchval("SELECT count(*) FROM rounds WHERE orphan") == 0
    match = await db.fetchrow("SELECT * FROM matches")
    assert match is not None
    assert r2.outcome is not None and match["outcome"] == r2.outcome.value


async def test_orphan_round_two_keeps_cumulative_numbers_out(db: asyncpg.Connection) -> None:
    await migrate(db)
    r1, r2 = generate_match(random.Random(3), datetime(2026, 11, 24, 20), players=6)
    far_r1, _ = generate_match(random.Random(3), datetime(2026, 11, 24, 18), players=6)
    await import_round(db, parsed(far_r1))  # same seed, same map, two hours earlier
    result = await import_round(db, parsed(r2))
    assert result.round_id is not None
    row = await db.fetchrow("SELECT orphan, round FROM rounds WHERE id = $1", result.round_id)
    assert row is not None and row["orphan"] and row["round"] == 2
    assert all(v[2] is None for v in (await round_values(db, r2.filename)).values())
    stored = await stored_round(db, result.round_id)
    assert stored is not None and stored.flags.orphan
    assert not stored.HasField("map_result")
    assert all(p.basis == "" for p in stored.players)
    del r1


async def test_stored_event_of_a_round_two_has_result_and_totals(db: asyncpg.Connection) -> None:
    await migrate(db)
    r1, r2 = generate_match(random.Random(4), datetime(2026, 11, 24, 20), players=8)
    await import_round(db, parsed(r1))
    result = await import_round(db, parsed(r2))
    assert result.round_id is not None
    stored = await stored_round(db, result.round_id)
    assert stored is not None
    assert stored.paired_filename == r1.filename
    assert r2.outcome is not None and stored.map_result.outcome == r2.outcome.value
    assert stored.map_result.time_to_beat_s == (
        r1.header.time_limit_s
        if r1.header.winner_team == r1.header.defender_team
        else r1.header.next_time_limit_s
    )
    true = {(p.guid, p.clean_name): p for p in r2.round_players}
    for p in stored.players:
        assert p.kills == true[(p.guid, p.clean_name)].kills
    in_file = {(p.guid, p.clean_name): p for p in r2.players}
    for total in stored.match_totals:
        assert total.kills == in_file[(total.guid, total.clean_name)].kills


async def test_partial_round_two_never_pairs(db: asyncpg.Connection) -> None:
    await migrate(db)
    r1, r2 = generate_match(random.Random(5), datetime(2026, 11, 24, 20), players=4)
    partial = parsed(r2)
    partial.flags.partial = True
    await import_round(db, parsed(r1))
    result = await import_round(db, partial)
    assert await db.fetchval("SELECT count(*) FROM matches") == 0
    assert all(v[2] is None for v in (await round_values(db, r2.filename)).values())
    assert result.outcome is Outcome.IMPORTED


async def test_same_messages_twice_to_two_replicas_give_one_set_of_rows(
    nats_server, bus, database_url: str
) -> None:
    matches = [
        generate_match(random.Random(i), datetime(2026, 11, 20) + timedelta(hours=i))
        for i in range(6)
    ]
    files = [f for pair in matches for f in pair]
    conf = StorageConfig(database_url, 3)
    async with (
        running("storage", storage_main, conf, nats_server.url),
        running("storage", storage_main, conf, nats_server.url),
    ):
        for attempt in range(2):
            for generated in files:
                msg = parsed(generated)
                # a different Nats-Msg-Id so the stream does not drop the repeat
                await bus.publish(
                    "stats.parsed.main",
                    msg.SerializeToString(),
                    msg_id=f"parsed:{msg.file.msg_id}:{attempt}",
                )
        conn = await asyncpg.connect(database_url)
        try:

            async def all_handled() -> bool:
                """The replicas share one durable consumer: every message, repeats
                included, has been handled and acknowledged."""
                try:
                    info = await bus.js.consumer_info(bus.stream, "storage")
                except NotFoundError:  # not created yet
                    return False
                return info.num_pending == 0 and info.num_ack_pending == 0

            await wait_until(all_handled, what="every message handled by a replica")
            assert await conn.fetchval("SELECT count(*) FROM rounds") == len(files)
            assert await conn.fetchval("SELECT count(*) FROM files") == len(files)
            assert await conn.fetchval("SELECT count(*) FROM matches") == len(matches)
            for _, r2 in matches:
                assert_true_values(await round_values(conn, r2.filename), truth(r2))
        finally:
            await conn.close()


async def test_known_files_query_on_10000_names_is_one_round_trip(
    nats_server, bus, database_url: str
) -> None:
    async with running("storage", storage_main, StorageConfig(database_url, 2), nats_server.url):
        names = [f"2026-01-01-{i:06d}-supply-round-1.txt" for i in range(10_000)]
        request = control_pb2.KnownFilesRequest(source="main", filenames=names)
        unknown = (await ask(bus, STORAGE_UNKNOWN_FILES, request)).unknown
    assert len(unknown) == 10_000


async def test_queries_status_backup_and_restore(
    nats_server, bus, database_url: str, postgres, tmp_path: Path
) -> None:
    conf = StorageConfig(database_url, 2, backup_dir=tmp_path / "backups", backup_keep=2)
    pairs = [
        generate_match(random.Random(i), datetime(2026, 11, 21) + timedelta(hours=i))
        for i in range(3)
    ]
    async with running("storage", storage_main, conf, nats_server.url):
        conn = await asyncpg.connect(database_url)  # migrated: storage is ready
        for r1, r2 in pairs:
            await import_round(conn, parsed(r1))
            await import_round(conn, parsed(r2))
        last = await ask(bus, STORAGE_ROUND, control_pb2.RoundQuery(source="main"))
        by_id = await ask(bus, STORAGE_ROUND, control_pb2.RoundQuery(round_id=1))
        with pytest.raises(ServiceFailed) as missing:
            await ask(bus, STORAGE_ROUND, control_pb2.RoundQuery(round_id=999))
        status = await Control(bus).storage_status()
        backups = [await Control(bus).backup("test") for _ in range(3)]
        before = {
            t: await conn.fetchval(f"SELECT count(*) FROM {t}")
            for t in ("files", "rounds", "player_rounds", "weapon_rounds", "matches", "players")
        }
        values_before = await conn.fetch(
            "SELECT round_id, slot, round_values FROM player_rounds ORDER BY round_id, slot"
        )
        await conn.close()
    assert last.round.file.filename == pairs[-1][1].filename
    assert by_id.round.round_id == 1
    assert str(missing.value) == "no round #999 is stored (storage round, error 404)"
    assert status.counters["rounds"] == 6 and status.counters["files_imported"] == 6
    assert all(b.size > 0 for b in backups), backups
    kept = sorted((tmp_path / "backups").iterdir())
    assert [p.name for p in kept] == sorted(b.filename for b in backups)[-2:]

    restored_url = postgres.create_database(
        "restored_" + Path(database_url).name[:20].replace("?", "_")
    )
    pg_dump = find_pg_dump(None)
    assert pg_dump is not None
    pg_restore = Path(pg_dump).with_name("pg_restore")
    restore = await asyncio.create_subprocess_exec(
        str(pg_restore), "--no-owner", f"--dbname={restored_url}", str(kept[-1])
    )
    assert await restore.wait() == 0
    restored = await asyncpg.connect(restored_url)
    try:
        after = {t: await restored.fetchval(f"SELECT count(*) FROM {t}") for t in before}
        values_after = await restored.fetch(
            "SELECT round_id, slot, round_values FROM player_rounds ORDER BY round_id, slot"
        )
    finally:
        await restored.close()
    assert after == before
    assert values_after == values_before


async def test_rejected_file_is_recorded_logged_and_reimported(
    nats_server, bus, database_url: str, tmp_path: Path
) -> None:
    from services.common.sources import SourceConfig
    from services.fetcher.service import main as fetcher_main
    from services.parser.service import ParserConfig
    from services.parser.service import main as parser_main
    from tests.test_fetcher import conf as fetcher_conf

    box = tmp_path / "box"
    box.mkdir()
    good, _ = generate_match(random.Random(9), datetime.now() - timedelta(hours=2), players=4)
    (box / good.filename).write_bytes(b"not\\a\\header\n")
    async with (
        running("storage", storage_main, StorageConfig(database_url, 2), nats_server.url),
        running("parser", parser_main, ParserConfig(batch=8), nats_server.url),
        running(
            "fetcher", fetcher_main, fetcher_conf(SourceConfig("box", dir=box)), nats_server.url
        ),
    ):
        conn = await asyncpg.connect(database_url)
        try:

            async def status_of() -> str | None:
                return await conn.fetchval(
                    "SELECT status FROM files WHERE filename = $1", good.filename
                )

            async def recorded() -> bool:
                return await status_of() is not None

            await wait_until(recorded, what="the file recorded")
            assert await status_of() == "rejected"
            error = await conn.fetchval(
                "SELECT error FROM files WHERE filename = $1", good.filename
            )
            assert error == "parser: line 1: header has 3 fields, expected 8 or 9"
            known = await ask(
                bus,
                STORAGE_UNKNOWN_FILES,
                control_pb2.KnownFilesRequest(source="box", filenames=[good.filename]),
            )
            assert list(known.unknown) == []

            (box / good.filename).write_bytes(good.body)  # the file is fixed on the server
            reply = await Control(bus).reimport("box", "test")
            assert (reply.files, len(reply.sync_ids)) == (1, 1)

            async def imported() -> bool:
                return await status_of() == "imported"

            await wait_until(imported, what="the fixed file imported")
            outcomes: set[tuple[str, str]] = set()

            async def stored_event() -> bool:
                outcomes.update(
                    (r["stage"], r["outcome"])
                    for r in await conn.fetch(
                        "SELECT stage, outcome FROM pipeline_events WHERE filename = $1",
                        good.filename,
                    )
                )
                return ("storage", "stored") in outcomes

            await wait_until(stored_event, what="storage's event recorded")
            assert {
                ("fetcher", "detected"),
                ("fetcher", "fetched"),
                ("parser", "rejected"),
                ("parser", "parsed"),
                ("storage", "stored"),
            } <= outcomes
            status = await Control(bus).storage_status()
            assert status.counters["errors_last_hour"] == 1
            assert f"parser rejected {good.filename}: line 1" in status.last_error
        finally:
            await conn.close()


@pytest.mark.parametrize("order", ["r1_first", "r2_first"])
async def test_event_built_at_import_equals_the_one_read_back(
    db: asyncpg.Connection, order
) -> None:
    await migrate(db)
    r1, r2 = generate_match(random.Random(21), datetime(2026, 11, 24, 20), players=7, churn=True)
    for generated in (r1, r2) if order == "r1_first" else (r2, r1):
        result = await import_round(db, parsed(generated, recent=True))  # rounds to post
        assert result.stored is not None and result.round_id is not None
        again = await stored_round(db, result.round_id, result.stored.file)
        assert again is not None
        again.stored_at_ms = result.stored.stored_at_ms
        assert again == result.stored


async def test_a_round_not_to_post_is_announced_without_its_players(
    db: asyncpg.Connection,
) -> None:
    """Only the sync that fetched an old file hears of its round, to count it by map."""
    await migrate(db)
    r1, _ = generate_match(random.Random(22), datetime(2026, 11, 24, 20), players=7)
    result = await import_round(db, parsed(r1))
    assert result.stored is not None and result.round_id is not None
    assert not result.stored.players and not result.stored.match_totals
    assert (result.stored.round_id, result.stored.header.map) == (result.round_id, "supply")
    assert result.stored.file.filename == r1.filename


async def test_backups_are_scheduled_and_rotated(nats_server, database_url: str, tmp_path) -> None:
    from prometheus_client import REGISTRY

    def made() -> float:
        return REGISTRY.get_sample_value("etstats_storage_backups_total", {"outcome": "done"}) or 0

    before = made()
    conf = StorageConfig(
        database_url, 2, backup_dir=tmp_path / "b", backup_interval_s=1, backup_keep=2
    )
    async with running("storage", storage_main, conf, nats_server.url):
        await wait_until(lambda: made() >= before + 3, what="three scheduled backups")
    assert len(list((tmp_path / "b").glob("etstats-*.dump"))) == 2  # the oldest rotated out


async def backup_job(**env: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.storage.backup_job",
        env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_backup_job_writes_a_dump_that_every_storage_replica_sees(
    nats_server, database_url: str, tmp_path
) -> None:
    from prometheus_client import REGISTRY

    code, out = await backup_job(
        NATS_URL=nats_server.url, DATABASE_URL=database_url, BACKUP_DIR=str(tmp_path / "job")
    )
    assert code == 0, out
    [dump] = (tmp_path / "job").glob("etstats-*.dump")
    assert dump.stat().st_size > 0

    conf = StorageConfig(database_url, 2, backup_dir=tmp_path / "replica")
    async with running("storage", storage_main, conf, nats_server.url):
        await wait_until(
            lambda: (
                REGISTRY.get_sample_value("etstats_storage_last_backup_timestamp_seconds")
                == pytest.approx(dump.stat().st_mtime, abs=0.01)
            ),
            what="the job's backup time seen by the replica",
        )


async def test_backup_job_failures_are_one_line_and_exit_nonzero(nats_server, tmp_path) -> None:
    code, out = await backup_job(
        NATS_URL=nats_server.url,
        DATABASE_URL="postgresql://etstats@127.0.0.1:9/etstats",
        BACKUP_DIR=str(tmp_path),
    )
    assert code == 1 and "backup failed: pg_dump failed" in out, out
    assert "Traceback" not in out

    code, out = await backup_job(NATS_URL=nats_server.url, BACKUP_DIR=str(tmp_path))
    assert code == 2, out
    assert (
        out.strip() == "etstats backup: configuration error: DATABASE_URL is required but not set"
    )


EVENING_START = datetime(2026, 11, 24, 22, 40)  # evenings run past midnight


async def reset(conn: asyncpg.Connection) -> None:
    await conn.execute("TRUNCATE files, rounds, matches, players CASCADE")


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # each example resets the db
)
@given(seed=st.integers(0, 2**32), shuffle=st.randoms())
def test_stored_pairing_is_the_truth_in_any_arrival_order(
    database_url: str, seed: int, shuffle: random.Random
) -> None:
    evening = generate_evening(random.Random(seed), EVENING_START, 10, pool=MAPS[:2])
    arrival = list(evening.files)
    shuffle.shuffle(arrival)

    async def scenario() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await migrate(conn)
            await reset(conn)
            for generated in arrival:
                await import_round(conn, parsed(generated))
            await assert_matches_truth(conn, evening, "main")
        finally:
            await conn.close()

    asyncio.run(scenario())


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # each example resets the db
)
@given(
    seed=st.integers(0, 2**32),
    shuffle=st.randoms(),
    sizes=st.lists(st.integers(1, 16), min_size=1, max_size=30),
    repeats=st.lists(st.integers(0, 29), max_size=4),
)
def test_batches_of_any_size_and_order_store_the_truth_once(
    database_url: str, seed: int, shuffle: random.Random, sizes: list[int], repeats: list[int]
) -> None:
    """Storage imports a batch per transaction: however the arrivals are cut into
    batches, with files delivered twice (in one batch or two), pairing and the
    values are the truth and every file is stored once."""
    evening = generate_evening(random.Random(seed), EVENING_START, 10, pool=MAPS[:2])
    arrival = [parsed(g) for g in evening.files]
    shuffle.shuffle(arrival)
    for index in repeats:  # redelivered: a second copy further on
        arrival.insert(shuffle.randrange(len(arrival) + 1), arrival[index % len(arrival)])
    batches, start = [], 0
    for size in sizes * len(arrival):
        if start >= len(arrival):
            break
        batches.append(arrival[start : start + size])
        start += size

    async def scenario() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await migrate(conn)
            await reset(conn)
            outcomes = [r.outcome for b in batches for r in await import_batch(conn, b)]
            await assert_matches_truth(conn, evening, "main")
            assert await conn.fetchval("SELECT count(*) FROM files") == len(evening.files)
        finally:
            await conn.close()
        assert outcomes.count(Outcome.IMPORTED) == len(evening.files)
        assert outcomes.count(Outcome.REDELIVERED) == len(arrival) - len(evening.files)

    asyncio.run(scenario())


async def test_a_batch_with_a_copy_under_another_name_stores_it_as_a_duplicate(
    db: asyncpg.Connection,
) -> None:
    await migrate(db)
    r1, r2 = generate_match(random.Random(5), datetime(2026, 11, 24, 20, 0))
    copy = parsed(r1)
    copy.file.filename = "2026-11-24-200000-copy-round-1.txt"
    copy.file.msg_id = "main/copy"
    # Rounds to post: their stored events carry every player.
    results = await import_batch(db, [parsed(r1, recent=True), copy, parsed(r2, recent=True)])
    assert [r.outcome for r in results] == [Outcome.IMPORTED, Outcome.DUPLICATE, Outcome.IMPORTED]
    assert results[1].round_id == results[0].round_id
    for result in (results[0], results[2]):  # the post built in memory is the one read back
        assert result.stored is not None and result.round_id is not None
        again = await stored_round(db, result.round_id)
        assert again is not None
        assert list(again.players) == list(result.stored.players)
        assert list(again.match_totals) == list(result.stored.match_totals)
        assert again.map_result == result.stored.map_result
    assert results[2].stored is not None and results[2].stored.paired_round_id
    later = await import_batch(db, [copy])
    assert later[0].outcome is Outcome.REDELIVERED and later[0].round_id == results[0].round_id
    assert await db.fetchval("SELECT count(*) FROM matches") == 1


async def test_the_same_map_twice_in_the_order_r1a_r2a_r2b_r1b_keeps_both_matches(
    db: asyncpg.Connection,
) -> None:
    await migrate(db)
    a = generate_match(random.Random(21), datetime(2026, 11, 24, 20, 0), map_name="supply")
    end_a = datetime.strptime(a[1].filename[:17], "%Y-%m-%d-%H%M%S")
    b = generate_match(random.Random(22), end_a + timedelta(minutes=2), map_name="supply")
    for generated in (a[0], a[1], b[1], b[0]):
        await import_round(db, parsed(generated))
    evening = Evening((*a, *b), {a[1].filename: a[0].filename, b[1].filename: b[0].filename})
    await assert_matches_truth(db, evening, "main")


async def test_two_importers_of_a_round_one_and_its_round_two_at_once_pair_them(
    database_url: str,
) -> None:
    """Two storage replicas, each in its own transaction: the advisory lock
    makes the second see the first's round."""
    first, second = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        await migrate(first)
        for attempt in range(20):
            r1, r2 = generate_match(
                random.Random(attempt), datetime(2026, 11, 1) + timedelta(hours=attempt)
            )
            await asyncio.gather(import_round(first, parsed(r1)), import_round(second, parsed(r2)))
            orphan = await first.fetchval(
                "SELECT orphan FROM rounds r JOIN files f ON f.id = r.file_id"
                " WHERE f.filename = $1",
                r2.filename,
            )
            assert orphan is False, f"attempt {attempt}: the round 2 was left an orphan"
    finally:
        await first.close()
        await second.close()


async def test_round_two_posts_tell_one_consistent_stopwatch_story(db: asyncpg.Connection) -> None:
    """'X held' in a round 2 means its attackers did not beat the time, and
    the match line says who won the map the same way."""
    await migrate(db)
    stories = set()
    for seed in range(30):
        r1, r2 = generate_match(random.Random(seed), datetime(2026, 11, 1) + timedelta(hours=seed))
        await import_round(db, parsed(r1))
        result = await import_round(db, parsed(r2))
        assert result.round_id is not None and r2.outcome is not None
        stored = await stored_round(db, result.round_id)
        assert stored is not None
        embeds = [e.to_dict() for e in round_embeds(stored)]
        text = "\n".join(
            part
            for e in embeds
            for part in [str(e.get("description", "")), *(f["value"] for f in e.get("fields", []))]
        )
        held = " held." in text
        assert held == (r2.outcome is not StopwatchOutcome.ROUND2_ATTACKERS), text
        assert OUTCOMES[r2.outcome.value] in text, text
        stories.add(r2.outcome)
    assert len(stories) == 3
