"""`round_sessions`, the one definition of a gaming session (migration 0004),
against a real PostgreSQL: random rounds over random ranges and gaps, checked
against the rule stated plainly here."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import asyncpg
import pytest

from services.storage.migrations import migrate

pytestmark = pytest.mark.service

BASE = datetime(2026, 11, 20, 18, 0)


async def add_round(
    db: asyncpg.Connection, source: str, stamp: datetime, *, bot: bool = False
) -> int:
    """A bare round row: sessions look at source, stamp and the bot flag only."""
    await db.execute("INSERT INTO sources (name) VALUES ($1) ON CONFLICT DO NOTHING", source)
    name = f"{stamp:%Y-%m-%d-%H%M%S}-{random.random():.12f}-supply-round-1.txt"
    file_id = await db.fetchval(
        "INSERT INTO files (source, filename, sha256, size, status, msg_id, origin)"
        " VALUES ($1, $2, '00', 1, 'imported', $2, 'sync') RETURNING id",
        source,
        name,
    )
    return await db.fetchval(
        "INSERT INTO rounds (file_id, source, map, round, stamp, server_name, config,"
        " defender_team, winner_team, time_limit_s, next_time_limit_s, header_fields,"
        " teams_low_confidence, bot)"
        " VALUES ($1, $2, 'supply', 1, $3, 's', 'c', 1, 1, 600, 600, 9, false, $4) RETURNING id",
        file_id,
        source,
        stamp,
        bot,
    )


def expected(
    rounds: list[tuple[int, str, datetime, bool]],
    source: str | None,
    since: datetime | None,
    until: datetime | None,
    gap: timedelta,
) -> list[tuple[str, datetime, datetime, int, int, int, list[int]]]:
    """The rule in plain Python: per source, rounds in play order (bot rounds
    left out) split where one is more than `gap` after the one before; the
    sessions with a round in the range, whole."""
    found = []
    for name in sorted({s for _, s, _, _ in rounds}):
        if source is not None and name != source:
            continue
        played = sorted((stamp, rid) for rid, s, stamp, bot in rounds if s == name and not bot)
        sessions: list[list[tuple[datetime, int]]] = []
        for stamp, rid in played:
            if sessions and stamp - sessions[-1][-1][0] <= gap:
                sessions[-1].append((stamp, rid))
            else:
                sessions.append([(stamp, rid)])
        for session in sessions:
            inside = [
                s
                for s, _ in session
                if (since is None or s >= since) and (until is None or s < until)
            ]
            if inside:
                ids = [rid for _, rid in session]
                found.append((name, session[0][0], session[-1][0], len(ids), ids[0], ids[-1], ids))
    return sorted(found, key=lambda s: (s[1], s[0]))


async def sessions(db: asyncpg.Connection, *args: object) -> list[tuple[object, ...]]:
    rows = await db.fetch("SELECT * FROM round_sessions($1, $2, $3, $4)", *args)
    return [tuple(r) for r in rows]


async def test_sessions_follow_the_gap_rule_over_random_rounds_and_ranges(
    db: asyncpg.Connection,
) -> None:
    await migrate(db)
    rng = random.Random(4)
    rounds: list[tuple[int, str, datetime, bool]] = []
    for source in ("main", "second"):
        stamp = BASE
        for _ in range(300):
            # Mostly a round every 10-25 minutes, now and then a pause of hours,
            # some exactly at the gap, a few at the same second, some bot rounds.
            step = rng.choice([0, 60, 600, 900, 1500, 3600, 3601, 5400, 7200, 40000])
            stamp += timedelta(seconds=step)
            bot = rng.random() < 0.1
            rounds.append((await add_round(db, source, stamp, bot=bot), source, stamp, bot))
    last = max(r[2] for r in rounds)
    for case in range(150):
        asked = rng.choice([None, "main", "second", "elsewhere"])
        since = None if case % 7 == 0 else BASE + (last - BASE) * rng.random()
        until = None if case % 5 == 0 else (since or BASE) + timedelta(hours=rng.choice([1, 6, 24]))
        gap = timedelta(minutes=rng.choice([10, 30, 60, 90, 600]))
        got = await sessions(db, asked, since, until, gap)
        assert got == expected(rounds, asked, since, until, gap), (asked, since, until, gap)


async def test_a_session_the_range_cuts_is_whole_and_the_default_gap_is_an_hour(
    db: asyncpg.Connection,
) -> None:
    await migrate(db)
    evening = [BASE + timedelta(minutes=m) for m in (0, 20, 80, 140, 200)]  # gaps of 60 min
    ids = [await add_round(db, "main", s) for s in evening]
    late = await add_round(db, "main", BASE + timedelta(minutes=261))  # 61 min later: a new one
    rows = await db.fetch(
        "SELECT * FROM round_sessions('main', $1, $2)",
        BASE + timedelta(minutes=100),
        BASE + timedelta(minutes=150),
    )
    assert [r["round_ids"] for r in rows] == [ids]
    assert rows[0]["first_stamp"] == evening[0] and rows[0]["last_stamp"] == evening[-1]
    everything = await db.fetch("SELECT round_ids FROM round_sessions(NULL, NULL, NULL)")
    assert [r["round_ids"] for r in everything] == [ids, [late]]


async def test_no_rounds_no_sessions(db: asyncpg.Connection) -> None:
    await migrate(db)
    assert await sessions(db, None, None, None, timedelta(hours=1)) == []
    await add_round(db, "main", BASE, bot=True)
    assert await sessions(db, "main", None, None, timedelta(hours=1)) == []


async def test_a_day_of_a_long_history_reads_the_index_not_the_history(
    db: asyncpg.Connection,
) -> None:
    """The edges step along `rounds_source_stamp`; no scan of every round."""
    await migrate(db)
    await db.execute("INSERT INTO sources (name) VALUES ('main')")
    await db.execute(
        "INSERT INTO files (source, filename, sha256, size, status, msg_id, origin)"
        " SELECT 'main', 'f' || i, '00', 1, 'imported', 'f' || i, 'sync'"
        " FROM generate_series(1, 20000) i"
    )
    await db.execute(
        "INSERT INTO rounds (file_id, source, map, round, stamp, server_name, config,"
        " defender_team, winner_team, time_limit_s, next_time_limit_s, header_fields,"
        " teams_low_confidence)"
        " SELECT f.id, 'main', 'supply', 1, $1::timestamp + (f.id / 8) * interval '1 day'"
        "   + (f.id % 8) * interval '20 minutes', 's', 'c', 1, 1, 600, 600, 9, false"
        " FROM files f",
        BASE,
    )
    await db.execute("ANALYZE rounds")
    plan = "\n".join(
        r[0]
        for r in await db.fetch(
            "EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM round_sessions('main', $1, $2)",
            BASE + timedelta(days=1000),
            BASE + timedelta(days=1001),
        )
    )
    assert "Seq Scan on rounds" not in plan, plan
    rows = await sessions(
        db, "main", BASE + timedelta(days=1000), BASE + timedelta(days=1001), timedelta(hours=1)
    )
    assert len(rows) == 1 and rows[0][3] == 8


async def test_grafanas_read_only_role_can_call_it(db: asyncpg.Connection) -> None:
    """The dashboard's reader has SELECT on the tables and nothing more
    (deploy/postgres/initdb): the function needs no other right."""
    await migrate(db)
    first = await add_round(db, "main", BASE)
    reader = f"reader_{random.getrandbits(32):08x}"
    await db.execute(f"CREATE ROLE {reader}")
    await db.execute(f"GRANT USAGE ON SCHEMA public TO {reader}")
    await db.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}")
    await db.execute(f"SET ROLE {reader}")
    try:
        rows = await db.fetch(
            "SELECT first_stamp AS time, source, round_count FROM round_sessions(NULL, $1, $2)",
            BASE - timedelta(days=1),
            BASE + timedelta(days=1),
        )
        assert [tuple(r) for r in rows] == [(BASE, "main", 1)]
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await db.execute("DELETE FROM rounds WHERE id = $1", first)
    finally:
        await db.execute("RESET ROLE")
