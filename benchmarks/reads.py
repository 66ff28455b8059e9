"""The players' read endpoints on a database of 100,000 rounds: each should
answer within 200 ms at p95.

The database is built fast, not through the pipeline: 300 generated matches
(etstats.statsfile.generator) are replayed 50,000 times with players drawn from
a pool of 3,000 (a few regulars in a third of all rounds, most now and then, a
fifth with a second name, four Omni-bots), two sources, 24 maps an evening,
ending today, and bulk-copied into PostgreSQL with the triggers off; the daily
sums are then made at once (`player_reads_rebuild`, as the migration does for
older rounds). Then the storage service runs as a process and every read
endpoint is timed over NATS, as the bot asks (BENCH_READS=session: only the
requests with that in their label).
"""

from __future__ import annotations

import asyncio
import bisect
import os
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

import asyncpg
from google.protobuf.message import Message

from benchmarks.storage_stack import servers, storage_service
from etstats.contract import control_pb2, reads_pb2
from etstats.statsfile import Player
from etstats.statsfile.generator import NAMES, GeneratedFile, generate_match
from etstats.statsfile.parser import clean_name
from services.common.bus import Bus
from services.common.endpoints import (
    STORAGE_LINK,
    STORAGE_ROUND,
    STORAGE_SESSION,
    STORAGE_STATS,
    STORAGE_TOP,
    STORAGE_UNLINK,
)
from services.common.rpc import Endpoint, ServiceFailed, ask
from services.storage.db import found
from services.storage.importer import PLAYER_COLUMNS, WEAPON_COLUMNS
from services.storage.migrations import migrate

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "100000"))
ONLY = os.environ.get("BENCH_READS", "")  # time only the requests whose label has this
TEMPLATES = 300
PLAYERS = 3000
REQUESTS = 50
LIMIT_MS = 200.0
CHUNK = 4000  # rounds per COPY
SOURCES = ("main", "cup")
MAPS_PER_EVENING = 24


@dataclass(frozen=True)
class Person:
    guid: str
    names: tuple[str, ...]  # as written, the later name after the earlier


def pool(rng: random.Random) -> tuple[list[Person], list[float]]:
    """The players and how often each plays: weights falling with rank."""
    people = []
    for i in range(PLAYERS):
        first = f"{rng.choice(NAMES)}{i}"
        names = (first, f"^{rng.randint(1, 9)}{first}x") if rng.random() < 0.2 else (first,)
        people.append(Person(f"{rng.getrandbits(32):08X}", names))
    for i in range(4):
        people.append(Person("OMNIBOT0", (f"[BOT]^3{NAMES[i]}",)))
    weights = list(accumulate(1 / (rank + 3) ** 0.9 for rank in range(len(people))))
    return people, weights


def draw(rng: random.Random, weights: list[float], count: int) -> list[int]:
    """`count` different players, the regulars likelier."""
    chosen: set[int] = set()
    while len(chosen) < count:
        chosen.add(bisect.bisect(weights, rng.random() * weights[-1]))
    return list(chosen)


def templates(rng: random.Random) -> list[tuple[GeneratedFile, GeneratedFile]]:
    start = datetime(2020, 1, 1)
    return [
        generate_match(rng, start, players=rng.randint(12, 20), map_name=f"map{i % 12}")
        for i in range(TEMPLATES)
    ]


def schedule(matches: int, today: datetime) -> Iterator[tuple[int, datetime, str]]:
    """(match, start, source): 12 maps an evening on each source, the last today."""
    per_day = MAPS_PER_EVENING
    first_day = today.date() - timedelta(days=matches // per_day)
    for m in range(matches):
        day, slot = divmod(m, per_day)
        source = SOURCES[slot % len(SOURCES)]
        start = datetime.combine(first_day + timedelta(days=day), datetime.min.time())
        yield m, start + timedelta(hours=18, minutes=40 * (slot // len(SOURCES))), source


def rows(rng: random.Random, today: datetime) -> Iterator[tuple[list[tuple[Any, ...]], ...]]:
    """Chunks of (files, rounds, player rows, weapon rows), ready to copy."""
    people, weights = pool(rng)
    made = templates(rng)
    files: list[tuple[Any, ...]] = []
    rounds: list[tuple[Any, ...]] = []
    players: list[tuple[Any, ...]] = []
    weapons: list[tuple[Any, ...]] = []
    round_id = 0
    for m, start, source in schedule(ROUNDS // 2, today):
        pair = made[m % TEMPLATES]
        cast = draw(rng, weights, len(pair[0].round_players))
        by_guid = {p.guid: people[cast[i]] for i, p in enumerate(pair[0].round_players)}
        late = m > ROUNDS // 4  # the second names came later
        for g in pair:
            round_id += 1
            seconds = g.header.next_time_limit_s
            stamp = start + timedelta(seconds=seconds + (0 if g.header.round == 1 else 900))
            name = f"{stamp:%Y-%m-%d-%H%M%S}-{g.header.map}-round-{g.header.round}.txt"
            sha = f"{round_id:064x}"
            files.append(
                (
                    round_id,
                    source,
                    name,
                    sha,
                    sha,
                    3000,
                    "imported",
                    f"{source}/{name}/{sha}",
                    "sync",
                )
            )
            h = g.header
            rounds.append((
                round_id, round_id, source, h.map, h.round, stamp, h.server_name, h.config,
                h.defender_team, h.winner_team, h.time_limit_s, h.next_time_limit_s,
                h.playtime_ms, h.fields, h.teams_low_confidence,
            ))  # fmt: skip
            truth = {p.guid: p for p in g.round_players}
            for slot, p in enumerate(g.players):
                person = by_guid[p.guid]
                written = person.names[-1] if late else person.names[0]
                t: Player = truth[p.guid]
                players.append((
                    round_id, slot, person.guid, written, clean_name(written), p.rounds, p.team,
                    person.guid == "OMNIBOT0", p.kills, p.deaths, p.headshots, list(p.values),
                    list(t.values), t.kills, t.deaths, t.headshots,
                    "round1" if g.header.round == 1 else "difference",
                ))  # fmt: skip
                own = {w.weapon: w for w in t.weapons}
                for w in p.weapons:
                    r = own.get(w.weapon)
                    mine = (r.hits, r.attempts, r.kills, r.deaths, r.headshots) if r else (0,) * 5
                    weapons.append((round_id, slot, w.weapon, w.hits, w.attempts, w.kills,
                                    w.deaths, w.headshots, *mine))  # fmt: skip
        if round_id % CHUNK == 0 or round_id >= ROUNDS:
            yield files, rounds, players, weapons
            files, rounds, players, weapons = [], [], [], []


ROUND_COLUMNS = [
    "id", "file_id", "source", "map", "round", "stamp", "server_name", "config",
    "defender_team", "winner_team", "time_limit_s", "next_time_limit_s", "playtime_ms",
    "header_fields", "teams_low_confidence",
]  # fmt: skip
FILE_COLUMNS = [
    "id", "source", "filename", "sha256", "payload_sha256", "size", "status", "msg_id", "origin",
]  # fmt: skip


async def fill(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    await migrate(conn)
    await conn.executemany("INSERT INTO sources (name) VALUES ($1)", [(s,) for s in SOURCES])
    # A bulk load: the triggers that keep the daily sums are off, and the sums are
    # made once at the end, set-based (imports keep them with the triggers on).
    await conn.execute("ALTER TABLE player_rounds DISABLE TRIGGER USER")
    await conn.execute("ALTER TABLE weapon_rounds DISABLE TRIGGER USER")
    for files, rounds, players, weapons in rows(random.Random(17), datetime.now()):
        async with conn.transaction():
            await conn.copy_records_to_table("files", columns=FILE_COLUMNS, records=files)
            await conn.copy_records_to_table("rounds", columns=ROUND_COLUMNS, records=rounds)
            await conn.copy_records_to_table(
                "player_rounds", columns=PLAYER_COLUMNS, records=players
            )
            await conn.copy_records_to_table(
                "weapon_rounds", columns=WEAPON_COLUMNS, records=weapons
            )
    await conn.execute("SELECT player_reads_rebuild()")
    await conn.execute("ALTER TABLE player_rounds ENABLE TRIGGER USER")
    await conn.execute("ALTER TABLE weapon_rounds ENABLE TRIGGER USER")
    await conn.execute("SELECT setval('files_id_seq', (SELECT max(id) FROM files))")
    await conn.execute("SELECT setval('rounds_id_seq', (SELECT max(id) FROM rounds))")
    await conn.execute("VACUUM ANALYZE")
    await conn.close()


async def probes(database_url: str) -> dict[str, tuple[Endpoint[Any, Any], Message]]:
    """The requests to time: the busiest player and a rare one, names and periods."""
    conn = await asyncpg.connect(database_url)
    by_rounds = (
        "SELECT guid, sum(rounds) AS n FROM player_sums WHERE span = 'year' AND bot_name = ''"
        " GROUP BY guid ORDER BY n {} LIMIT 1"
    )
    busiest = found(await conn.fetchrow(by_rounds.format("DESC")), "the busiest player")
    rare = found(await conn.fetchrow(by_rounds.format("ASC")), "a rare player")["guid"]
    name = await conn.fetchval(
        "SELECT name FROM player_names WHERE guid = $1 ORDER BY last_seen DESC LIMIT 1",
        busiest["guid"],
    )
    counts = found(
        await conn.fetchrow(
            "SELECT (SELECT count(*) FROM rounds) AS rounds, (SELECT count(*) FROM player_rounds)"
            " AS players, (SELECT count(*) FROM player_sums WHERE span = 'day') AS days,"
            " (SELECT count(*) FROM player_names) AS names"
        ),
        "the counts",
    )
    await conn.execute(  # the member whose stats are asked
        "INSERT INTO player_links (discord_id, guid, linked_by) VALUES ('1', $1, 'bench')",
        busiest["guid"],
    )
    await conn.close()
    print(
        f"reads: {counts['rounds']:,} rounds, {counts['players']:,} player rows,"
        f" {counts['days']:,} player-days, {counts['names']:,} names; the busiest player"
        f" has {busiest['n']:,} counted rounds"
    )

    def stats(query: reads_pb2.PlayerQuery, period: str = "") -> tuple[Endpoint[Any, Any], Message]:
        return STORAGE_STATS, reads_pb2.StatsRequest(player=query, period=period)

    def top(metric: str, period: str = "", page: int = 0) -> tuple[Endpoint[Any, Any], Message]:
        request = reads_pb2.TopRequest(metric=metric, period=period, offset=page * 10, limit=10)
        return STORAGE_TOP, request

    heavy = reads_pb2.PlayerQuery(ref=reads_pb2.PlayerRef(guid=busiest["guid"]))
    today = datetime.now().date()
    # Mid-month to mid-month: years, months and days of sums are added up.
    years = f"{today.replace(year=today.year - 5, day=10)}..{today.replace(day=20)}"
    named = reads_pb2.PlayerQuery(text=name)
    return {
        "stats, busiest player, all": stats(heavy),
        "stats, busiest player, 1 month": stats(heavy, "1month"),
        "stats, busiest player, 2 days (part days)": stats(heavy, "2days"),
        "stats, busiest player, 5 years of dates": stats(heavy, years),
        "stats, rare player, all": stats(reads_pb2.PlayerQuery(ref=reads_pb2.PlayerRef(guid=rare))),
        "stats by whole name": stats(named),
        "stats by a part of names (a choice)": stats(reads_pb2.PlayerQuery(text="fox")),
        "stats of an unknown name (did you mean)": stats(reads_pb2.PlayerQuery(text="qzqzqzq")),
        "stats of a linked member": stats(reads_pb2.PlayerQuery(discord_id="1")),
        **{f"top {m}, all": top(m) for m in ("kills", "kd", "dpm", "damage", "accuracy",
                                             "headshots", "revives", "objectives", "rounds")},
        "top kd, 1 month": top("kd", "1month"),
        "top kd, 2 days (part days)": top("kd", "2days"),
        "top accuracy, 5 years of dates": top("accuracy", years),
        "top kills, all, page 5": top("kills", "", 4),
        "round, last": (STORAGE_ROUND, control_pb2.RoundQuery()),
        "round by id": (STORAGE_ROUND, control_pb2.RoundQuery(round_id=ROUNDS // 2)),
        "link": (STORAGE_LINK, reads_pb2.LinkRequest(discord_id="2", player=named, admin=True)),
        "unlink": (STORAGE_UNLINK, reads_pb2.UnlinkRequest(discord_id="3")),
        **{label: (STORAGE_SESSION, request) for label, request in session_requests(today)},
    }  # fmt: skip


def session_requests(today: date) -> list[tuple[str, reads_pb2.SessionRequest]]:
    """A session is a source's evening: 24 rounds, about 16 players each."""
    a_day = (today - timedelta(days=100)).isoformat()
    return [
        ("session, last", reads_pb2.SessionRequest()),
        ("session, last of a source", reads_pb2.SessionRequest(source=SOURCES[1])),
        ("session, today (both sources)", reads_pb2.SessionRequest(day="today")),
        ("session, a date 100 days ago (both sources)", reads_pb2.SessionRequest(day=a_day)),
        ("session holding a round", reads_pb2.SessionRequest(round_id=ROUNDS // 2)),
    ]


def percentile(times: list[float], share: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def time_all(bus: Bus, requests: dict[str, tuple[Endpoint[Any, Any], Message]]) -> None:
    worst = 0.0
    for label, (endpoint, request) in requests.items():
        if ONLY not in label:
            continue
        times = []
        for _ in range(REQUESTS + 1):  # the first warms up
            started = time.perf_counter()
            try:
                await ask(bus, endpoint, request)
            except ServiceFailed as exc:  # an unknown name: the answer is a 404
                if exc.code != "404":
                    raise
            times.append((time.perf_counter() - started) * 1000)
        times = times[1:]
        p95 = percentile(times, 0.95)
        worst = max(worst, p95)
        print(
            f"reads: {label}: p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms,"
            f" max {max(times):.1f} ms ({p95 / LIMIT_MS:.2f} of the {LIMIT_MS:.0f} ms limit)"
        )
    verdict = "within" if worst <= LIMIT_MS else "OVER"
    print(f"reads: worst p95 {worst:.1f} ms: {verdict} the {LIMIT_MS:.0f} ms limit")


async def run(tmp: Path) -> None:
    async with servers(tmp) as (nats_url, database_url):
        started = time.perf_counter()
        await fill(database_url)
        print(f"reads: built {ROUNDS:,} rounds in {time.perf_counter() - started:.0f} s")
        requests = await probes(database_url)
        async with storage_service(nats_url, database_url) as bus:
            await time_all(bus, requests)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="etstats-reads-") as tmp:
        asyncio.run(run(Path(tmp)))


if __name__ == "__main__":
    main()
