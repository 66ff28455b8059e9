"""The community dashboard's SQL, sent as Grafana sends it, as Grafana's read-only
role, against a migrated PostgreSQL holding leagues stored through the importer.

Every query runs for several ranges, source choices and metrics, with the
players' sums partly folded and then wholly; what it returns is compared with
what the generated rounds say (their true round values), never with SQL.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from etstats.players.lookup import PlayerKey
from etstats.players.totals import METRIC_KEYS, Totals, metric_named
from etstats.statsfile import Player
from etstats.statsfile.generator import GeneratedFile, generate_match
from etstats.statsfile.names import classify_name
from etstats.statsfile.writer import write
from services.storage.importer import import_round
from services.storage.migrations import migrate
from tests.deploy_files import DEPLOY, grafana_reader_url
from tests.grafana_sql import (
    ALL,
    MacroError,
    Variable,
    defaults_of,
    grafana_sql,
    references,
    variables_of,
)
from tests.players_data import ROSTER, key_of, league, truth
from tests.rounds import parsed

pytestmark = pytest.mark.deploy

DASHBOARD = json.loads(
    (DEPLOY / "grafana" / "dashboards" / "community.json").read_text(encoding="utf-8")
)
SOURCES = ("main", "second")
FIRST_EVENING = datetime(2026, 11, 20, 21, 0)
SECOND_EVENING = datetime(2026, 11, 22, 20, 0)


@dataclass(frozen=True)
class Stored:
    """A stored round and whether the read side counts it."""

    source: str
    file: GeneratedFile
    counted: bool  # neither a bot round nor a short one
    session: int | None  # the session it was played in, as made here (None: a bot round)

    @property
    def stamp(self) -> datetime:
        stamp = classify_name(self.file.filename).stamp
        assert stamp is not None
        return stamp


def short(g: GeneratedFile) -> GeneratedFile:
    """The round cut to 20 s of play: under 30 s, a short round."""
    header = replace(g.header, playtime_ms=20_000, next_time_limit_s=20)
    return replace(g, header=header, body=write(header, g.players))


def deathless(g: GeneratedFile) -> GeneratedFile:
    """The round with its first player never killed: K/D without deaths."""
    guid = g.round_players[0].guid

    def spared(p: Player) -> Player:
        if p.guid != guid:
            return p
        weapons = tuple(w._replace(deaths=0) for w in p.weapons)
        return replace(p, weapons=weapons, deaths=0)

    players = tuple(spared(p) for p in g.players)
    truth = tuple(spared(p) for p in g.round_players)
    return replace(g, body=write(g.header, players), players=players, round_players=truth)


def rounds_stored() -> tuple[list[Stored], list[Stored]]:
    """(folded into the sums before the checks, left noted); both in play order."""
    first = [Stored("main", g, True, 1) for g in league(6, seed=5, start=FIRST_EVENING)]
    rng = random.Random(8)
    bots_r1, bots_r2 = generate_match(rng, datetime(2026, 11, 21, 18, 0), players=6, bots=4)
    short_r1, _ = generate_match(rng, datetime(2026, 11, 21, 19, 0), players=4)
    # Four of the six people, on the other server, two evenings later.
    regulars = (*ROSTER[:4], ROSTER[6], ROSTER[7])
    second = [
        Stored("second", g, True, 3)
        for g in league(4, seed=6, start=SECOND_EVENING, roster=regulars)
    ]
    spared, _ = generate_match(rng, datetime(2026, 11, 23, 20, 0), players=4)
    later = [
        Stored("main", bots_r1, False, None),  # bot rounds belong to no session
        Stored("main", bots_r2, False, None),
        Stored("main", short(short_r1), False, 2),  # 18 hours after the first evening
        *second,
        Stored("second", deathless(spared), True, 4),  # the next evening
    ]
    return first, later


def within(
    stored: Iterable[Stored], start: datetime, end: datetime, sources: Sequence[str]
) -> list[Stored]:
    return [s for s in stored if start <= s.stamp <= end and s.source in sources]


def people(counted: Sequence[Stored]) -> dict[PlayerKey, Totals]:
    files = [s.file for s in counted]
    keys = {key_of(p.guid, p.name) for g in files for p in g.round_players}
    return {k: truth(files, k) for k in keys if not k.bot_name}


People = Mapping[PlayerKey, Totals]  # each person and their totals


def metric_value(metric: str, t: Totals) -> float:
    return float(metric_named(metric).value(t))


async def run(
    reader: asyncpg.Connection,
    title: str,
    start: datetime,
    end: datetime,
    variables: Mapping[str, Variable],
    chosen: Mapping[str, str | Sequence[str]],
) -> list[asyncpg.Record]:
    [sql] = [t["rawSql"] for p in DASHBOARD["panels"] if p["title"] == title for t in p["targets"]]
    try:
        return await reader.fetch(grafana_sql(sql, start, end, variables, chosen))
    except asyncpg.PostgresError as exc:
        raise AssertionError(f"{title} ({start} to {end}, {chosen}): {exc}") from None


def day_of(epoch: Any) -> date:
    return datetime.fromtimestamp(float(epoch), UTC).date()


def approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-9, abs=1e-9)


Panel = Callable[..., Awaitable[list[asyncpg.Record]]]


async def check_counts(panel: Panel, rounds: Sequence[Stored], totals: People) -> None:
    """The stats at the top and the series over time."""
    [row] = await panel("Rounds")
    assert row["rounds"] == len(rounds)
    [row] = await panel("Active players")
    assert row["players"] == len(totals)
    [row] = await panel("Maps")
    assert row["maps"] == sum(s.file.header.round == 1 for s in rounds)
    [row] = await panel("Hours played")
    assert float(row["hours"]) == approx(sum(t.minutes for t in totals.values()) / 60)

    got = await panel("Rounds per day")
    assert {day_of(r["time"]): r["rounds"] for r in got} == Counter(s.stamp.date() for s in rounds)
    assert [r["time"] for r in got] == sorted(r["time"] for r in got)

    per_day: dict[date, set[str]] = defaultdict(set)
    per_week: dict[date, set[str]] = defaultdict(set)
    for s in rounds:
        for p in s.file.round_players:
            if not key_of(p.guid, p.name).bot_name:
                per_day[s.stamp.date()].add(p.guid)
                per_week[s.stamp.date() - timedelta(days=s.stamp.weekday())].add(p.guid)
    got = await panel("Active players per day")
    assert {day_of(r["time"]): r["players"] for r in got} == {d: len(g) for d, g in per_day.items()}
    got = await panel("Active players per week")
    assert {r["time"].date(): r["players"] for r in got} == {d: len(g) for d, g in per_week.items()}


async def check_maps(panel: Panel, rounds: Sequence[Stored]) -> None:
    maps = await panel("Maps played")
    plays = Counter(s.file.header.map for s in rounds if s.file.header.round == 1)
    played = Counter(s.file.header.map for s in rounds)
    assert {r["map"]: (r["plays"], r["rounds"]) for r in maps} == {
        m: (plays[m], n) for m, n in played.items()
    }
    for r in maps:  # no share without a round 1 in the range (and no division by zero)
        total = sum(plays.values())
        assert r["share"] == (approx(plays[r["map"]] / total) if total else None)
    assert [r["plays"] for r in maps] == sorted((r["plays"] for r in maps), reverse=True)


async def check_players(panel: Panel, totals: People) -> None:
    """The top players by every metric, play time per player and its brackets."""
    for minimum in ("0", "60"):
        ranked = {k: t for k, t in totals.items() if t.minutes >= int(minimum)}
        for metric in METRIC_KEYS:
            got = await panel("Top players by ${metric:text}", metric=metric, min_minutes=minimum)
            want = sorted(
                ranked.items(), key=lambda kt: (-metric_value(metric, kt[1]), -kt[1].rounds)
            )[:25]
            assert [float(r["value"]) for r in got] == [
                approx(metric_value(metric, t)) for _, t in want
            ], metric
            assert {r["guid"]: float(r["value"]) for r in got} == {
                k.guid: approx(metric_value(metric, t)) for k, t in want
            }, metric
            for r in got:
                t = totals[PlayerKey(r["guid"])]
                assert (r["rounds"], r["kills"], r["deaths"], r["headshots"]) == (
                    t.rounds,
                    t.kills,
                    t.deaths,
                    t.headshots,
                )
                assert float(r["kd"]) == approx(t.kd) and float(r["dpm"]) == approx(t.dpm)
                assert float(r["accuracy"]) == approx(t.accuracy)
                assert float(r["hours"]) == approx(t.minutes / 60)
                assert r["player"]  # a name, never empty
        got = await panel("Play time per player", min_minutes=minimum)
        hours = sorted((t.minutes / 60 for t in ranked.values()), reverse=True)
        assert [float(r["hours"]) for r in got] == [approx(h) for h in hours]
        assert {r["guid"]: (float(r["hours"]), r["rounds"]) for r in got} == {
            k.guid: (approx(t.minutes / 60), t.rounds) for k, t in ranked.items()
        }

    got = await panel("Players by play time")
    bounds = [30, 120, 300, 600, 1200]
    brackets = Counter(sum(t.minutes >= b for b in bounds) for t in totals.values())
    assert [r["players"] for r in got] == [brackets[i] for i in range(len(bounds) + 1)]
    assert sum(float(r["hours"]) for r in got) == approx(
        sum(t.minutes for t in totals.values()) / 60
    )


async def check_sessions(
    panel: Panel, stored: Sequence[Stored], picked: Sequence[str], start: datetime, end: datetime
) -> None:
    """Every session with a round in the range, whole, newest first."""
    sessions: dict[int, list[Stored]] = defaultdict(list)
    for s in stored:
        if s.session is not None and s.source in picked:
            sessions[s.session].append(s)
    want = []
    newest_first = sorted(sessions.values(), key=lambda rs: -min(s.stamp for s in rs).timestamp())
    for rounds in newest_first:
        if any(start <= s.stamp < end for s in rounds):
            counted = [s for s in rounds if s.counted]
            maps = [s.file.header.map for s in rounds if s.file.header.round == 1]
            want.append(
                {
                    "source": rounds[0].source,
                    "start": min(s.stamp for s in rounds),
                    "end": max(s.stamp for s in rounds),
                    "rounds": len(rounds),
                    "players": len(people(counted)),
                    "maps": len(maps),
                    "map list": ", ".join(maps),
                }
            )
    for gap in ("60", "120"):  # the made sessions are hours apart, their rounds minutes
        got = await panel("Sessions", session_gap=gap)
        assert [{k: r[k] for k in w} for r, w in zip(got, want, strict=True)] == want
        for r in got:
            assert float(r["duration"]) == (r["end"] - r["start"]).total_seconds()


async def check_range(
    reader: asyncpg.Connection,
    stored: Sequence[Stored],
    start: datetime,
    end: datetime,
    variables: Mapping[str, Variable],
    sources: Sequence[str] | str,
) -> None:
    """Every panel of the dashboard over one range and choice of sources."""
    picked = SOURCES if sources == ALL else sources
    rounds = [s for s in within(stored, start, end, picked) if s.counted]
    chosen = {"source": sources, "metric": "kills", "min_minutes": "0", "session_gap": "60"}
    ran = set()

    async def panel(title: str, **choices: str) -> list[asyncpg.Record]:
        ran.add(title)
        return await run(reader, title, start, end, variables, {**chosen, **choices})

    totals = people(rounds)
    await check_counts(panel, rounds, totals)
    await check_maps(panel, rounds)
    await check_players(panel, totals)
    await check_sessions(panel, stored, picked, start, end)
    assert ran == {p["title"] for p in DASHBOARD["panels"]}


def ranges(stored: Sequence[Stored]) -> list[tuple[datetime, datetime]]:
    """Whole days; edges inside both evenings (and a fraction of a second, as
    Grafana's "now" has); a round 2 without its round 1; nothing at all."""
    r1, r2 = stored[0].stamp, stored[1].stamp
    return [
        (datetime(2026, 11, 20), datetime(2026, 11, 24)),
        (datetime(2026, 11, 20, 22, 0), datetime(2026, 11, 22, 21, 30, 0, 250_000)),
        (r1 + timedelta(seconds=1), r2 + timedelta(seconds=1)),
        (datetime(2026, 10, 1), datetime(2026, 10, 2)),
    ]


async def test_every_community_query_returns_what_the_stored_rounds_say(database_url: str) -> None:
    """The reader is made first, as compose's init script does, then storage's
    migrations make the tables; rounds of two sources go in through the importer."""
    folded, noted = rounds_stored()
    reader_url = await grafana_reader_url(database_url)
    owner = await asyncpg.connect(database_url)
    reader: asyncpg.Connection | None = None
    try:
        await migrate(owner)
        for s in folded:
            await import_round(owner, parsed(s.file, s.source))
        await owner.fetchval("SELECT player_sums_fold(100000)")
        for s in noted:
            await import_round(owner, parsed(s.file, s.source))
        # Far from UTC: the stamps carry no zone, and neither may the answers depend on one.
        reader = await asyncpg.connect(reader_url, server_settings={"timezone": "Pacific/Chatham"})

        variables = variables_of(DASHBOARD)
        assert variables["metric"].options == METRIC_KEYS  # the players' commands' metrics
        [source] = [v for v in DASHBOARD["templating"]["list"] if v["name"] == "source"]
        options = [r[0] for r in await reader.fetch(source["query"])]
        assert options == list(SOURCES)
        variables["source"] = replace(variables["source"], options=tuple(options))

        stored = folded + noted
        # First with the second evening only noted (read from its rows), then folded.
        assert await owner.fetchval("SELECT count(*) FROM player_sums_pending") == len(noted)
        for fold in (False, True):
            if fold:
                await owner.fetchval("SELECT player_sums_fold(100000)")
                assert await owner.fetchval("SELECT count(*) FROM player_sums_pending") == 0
            for start, end in ranges(stored):
                for sources in (ALL, ["main", "second"], ["second"], ["main"]):
                    await check_range(reader, stored, start, end, variables, sources)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reader.execute("DELETE FROM player_sums")
    finally:
        await owner.close()
        if reader is not None:
            await reader.close()


# Would take a session-level advisory lock if it ran as SQL: a lock that, unlike a
# setting, outlasts the statement's error and rollback, so it shows even when the
# injected query then fails. The key is only this test's.
LOCK = "pg_try_advisory_lock(7365)"
HOSTILE = (
    "x' OR pg_sleep(5) IS NULL --",
    "1; DROP TABLE rounds",
    "0 OR pg_sleep(5) IS NULL",
    f"{LOCK}::int",  # no quote needed where a number is meant
    f"{LOCK}::text",
    f"kills' || {LOCK}::text || '",
    f"kills\\' || {LOCK}::text || '",  # a backslash does not escape the quote after it
    f'kills" || {LOCK}::text || "',
    f"main') OR {LOCK} OR s.name IN ('main",
    f"$${LOCK}$$",
)


async def locked(reader: asyncpg.Connection) -> bool:
    """Whether the reader's session took the lock (and frees it)."""
    held = await reader.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
    )
    await reader.execute("SELECT pg_advisory_unlock_all()")
    return bool(held)


async def test_a_hostile_variable_value_is_an_error_or_a_literal_never_sql(
    database_url: str,
) -> None:
    """Grafana takes any value for a variable (typed, or `?var-name=...` in a link):
    run as the read-only role with one in each variable, every panel using it either
    fails on the value (a number that is not one, a metric that is none) or reads
    it as a name, and nothing in it runs. The same values in the panels' SQL with
    the formats taken out (each variable written bare) do run: the check can fail."""
    reader_url = await grafana_reader_url(database_url)
    owner = await asyncpg.connect(database_url)
    reader = await asyncpg.connect(reader_url)
    try:
        await migrate(owner)
        for g in generate_match(random.Random(3), datetime(2026, 11, 24, 21, 0), players=6):
            await import_round(owner, parsed(g))
        rounds = await owner.fetchval("SELECT count(*) FROM rounds")
        variables = variables_of(DASHBOARD)
        variables["source"] = replace(variables["source"], options=("main",))
        defaults = {**defaults_of(DASHBOARD), "min_minutes": "0"}
        start, end = datetime(2026, 11, 24), datetime(2026, 11, 26)
        sqls = [t["rawSql"] for p in DASHBOARD["panels"] for t in p["targets"]]
        ran = 0
        bare_ran: set[str] = set()  # the variables whose bare reference ran the value
        for name in variables:
            using = [sql for sql in sqls if any(references(sql, {name: variables[name]}))]
            assert using, name
            for value in HOSTILE:
                chosen = {**defaults, name: [value] if variables[name].multi else value}
                for sql in using:
                    began = time.monotonic()
                    # Refused: not a number, not a metric, or a macro Grafana does not know.
                    with contextlib.suppress(asyncpg.DataError, MacroError):
                        await reader.fetch(grafana_sql(sql, start, end, variables, chosen))
                    assert time.monotonic() - began < 5, (name, value)
                    assert not await locked(reader), (name, value, sql)
                    ran += 1
                    bare = sql.replace(f"${{{name}:sqlstring}}", f"${name}")
                    if bare != sql:
                        with contextlib.suppress(asyncpg.PostgresError, MacroError):
                            await reader.fetch(grafana_sql(bare, start, end, variables, chosen))
                        if await locked(reader):
                            bare_ran.add(name)
        assert ran > 100
        assert bare_ran == {"metric", "min_minutes", "session_gap"}  # the source is quoted
        assert await owner.fetchval("SELECT count(*) FROM rounds") == rounds
    finally:
        await owner.close()
        await reader.close()
