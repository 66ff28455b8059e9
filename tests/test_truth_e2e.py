"""A generated corpus of 300+ maps through the running parser and two storage
replicas, in shuffled order: the database agrees with the generator's truth,
value by value (pairs, orphans, match rows, every round value)."""

from __future__ import annotations

import random
from datetime import datetime

import asyncpg
import pytest

from etstats.statsfile.generator import Evening, generate_evening
from services.common.bus import Bus
from services.parser.service import ParserConfig
from services.parser.service import main as parser_main
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.inprocess import running
from tests.rounds import publish_raw
from tests.truth import assert_matches_truth
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

MAPS = 320


async def test_a_shuffled_corpus_through_two_storage_replicas_is_stored_true(
    nats_server, bus: Bus, database_url: str
) -> None:
    evening = generate_evening(random.Random(2026), datetime(2026, 11, 24, 19, 0), MAPS)
    assert sum(1 for f in evening.files if f.header.round == 2) >= 300 * 0.9
    arrival = list(evening.files)
    random.Random(7).shuffle(arrival)
    conf = StorageConfig(database_url, 4)
    async with (
        running("storage", storage_main, conf, nats_server.url),
        running("storage", storage_main, conf, nats_server.url),
        running("parser", parser_main, ParserConfig(batch=16), nats_server.url),
    ):
        for generated in arrival:
            await publish_raw(bus, generated.filename, generated.body)
        conn = await asyncpg.connect(database_url)
        try:

            async def all_stored() -> bool:
                stored = await conn.fetchval("SELECT count(*) FROM rounds")
                return bool(stored == len(arrival))

            await wait_until(all_stored, within=240, what=f"{len(arrival)} rounds stored")
            await assert_matches_truth(conn, evening, "main")
            assert await counts(conn) == expected_counts(evening)
        finally:
            await conn.close()


async def counts(conn: asyncpg.Connection) -> tuple[int, int, int]:
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM matches), (SELECT count(*) FROM rounds WHERE orphan),"
        " (SELECT count(*) FROM files WHERE status <> 'imported')"
    )
    assert row is not None
    return row[0], row[1], row[2]


def expected_counts(evening: Evening) -> tuple[int, int, int]:
    paired = sum(1 for r1 in evening.round1_of.values() if r1 is not None)
    return paired, len(evening.round1_of) - paired, 0
