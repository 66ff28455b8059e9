"""Storage against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime

import asyncpg
import pytest

from etstats.contract import common_pb2
from etstats.statsfile.generator import generate_match
from services.storage.importer import Outcome, import_round, unknown_files
from services.storage.migrations import available, migrate
from tests.rounds import parsed

pytestmark = pytest.mark.service


def parsed_round(seed: int = 1, source: str = "main", filename: str | None = None):
    r1, _ = generate_match(random.Random(seed), datetime(2026, 11, 24, 20, 0))
    return parsed(r1, source, filename=filename, sha256="ab" * 32, origin=common_pb2.ORIGIN_MONITOR)


async def test_migrations_apply_once_even_when_started_together(database_url: str) -> None:
    conns = [await asyncpg.connect(database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        assert sorted(len(r) for r in results) == [0, 0, len(available())]
        assert await migrate(conns[0]) == []
    finally:
        for conn in conns:
            await conn.close()


async def test_import_is_idempotent(db: asyncpg.Connection) -> None:
    await migrate(db)
    message = parsed_round()
    first = await import_round(db, message)
    again = await import_round(db, message)
    assert first.outcome is Outcome.IMPORTED
    assert again.outcome is Outcome.REDELIVERED
    assert again.round_id == first.round_id
    assert await db.fetchval("SELECT count(*) FROM rounds") == 1
    players = await db.fetchval("SELECT count(*) FROM player_rounds")
    assert players == len(message.players)
    kills = await db.fetchval("SELECT sum(kills) FROM weapon_rounds")
    assert kills == sum(p.kills for p in message.players)


async def test_same_payload_under_another_name_is_a_duplicate(db: asyncpg.Connection) -> None:
    await migrate(db)
    original = parsed_round()
    await import_round(db, original)
    copy = parsed_round(filename="2026-11-24-220000-" + original.header.map + "-round-1.txt")
    result = await import_round(db, copy)
    assert result.outcome is Outcome.DUPLICATE
    first = await db.fetchval("SELECT id FROM rounds")
    assert result.round_id == first
    again = await import_round(db, copy)
    assert (again.outcome, again.round_id) == (Outcome.REDELIVERED, first)
    assert await db.fetchval("SELECT count(*) FROM rounds") == 1
    status = await db.fetchval("SELECT status FROM files WHERE id = $1", result.file_id)
    assert status == "duplicate"


async def test_unknown_files_in_one_query(db: asyncpg.Connection) -> None:
    await migrate(db)
    message = parsed_round()
    await import_round(db, message)
    names = [message.file.filename] + [f"2026-01-01-0000{i:02d}-x-round-1.txt" for i in range(50)]
    unknown = await unknown_files(db, "main", names)
    assert sorted(unknown) == sorted(names[1:])
    assert await unknown_files(db, "other", names[:1]) == names[:1]
