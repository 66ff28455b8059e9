"""Storage's player read side: the daily sums its triggers keep, and the stats,
leaderboard and link endpoints over NATS, checked against the league's truth."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from etstats.contract import reads_pb2
from etstats.contract.players import key_to_message, totals_from_message
from etstats.period import Period
from etstats.players.lookup import PlayerKey
from etstats.players.totals import Totals
from etstats.statsfile.generator import GeneratedFile, generate_match
from services.common.bus import Bus
from services.common.endpoints import STORAGE_LINK, STORAGE_STATS, STORAGE_TOP, STORAGE_UNLINK
from services.common.rpc import ServiceFailed, ask
from services.storage import migrations, player_stats
from services.storage.importer import import_round
from services.storage.migrations import migrate
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.inprocess import running
from tests.players_data import START, key_of, league, store, truth, weapon_truth
from tests.rounds import parsed
from tests.waiting import wait_until

pytestmark = pytest.mark.service

FIREFOX = PlayerKey("AAAA0001")
OLZ = PlayerKey("AAAA0004")
BOT_FOX = PlayerKey("OMNIBOT0", "[BOT]Fox")

RECOUNT = """
SELECT t.day, t.guid, t.bot_name, sum(t.rounds), sum(t.kills), sum(t.deaths),
       round(sum(t.damage_given)::numeric, 3), round(sum(t.minutes)::numeric, 3)
FROM player_rounds p CROSS JOIN LATERAL player_round_totals(p) t GROUP BY 1, 2, 3
"""
KEPT = """
SELECT start, guid, bot_name, rounds, kills, deaths, round(damage_given::numeric, 3),
       round(minutes::numeric, 3) FROM player_sums WHERE span = 'day' AND rounds <> 0
"""
# Months, years and all time hold what their days add up to.
SPANS_ADD_UP = """
SELECT s.span, s.guid, s.bot_name, s.start, s.rounds, s.kills, s.hits, round(s.minutes::numeric, 3)
FROM player_sums s WHERE s.span <> 'day' AND (s.rounds <> 0 OR s.hits <> 0)
EXCEPT
SELECT x.span, d.guid, d.bot_name, span_start(x.span, d.start), sum(d.rounds), sum(d.kills),
       sum(d.hits), round(sum(d.minutes)::numeric, 3)
FROM player_sums d CROSS JOIN (VALUES ('month'), ('year')) x(span)
WHERE d.span = 'day'
GROUP BY 1, 2, 3, 4
"""
WEAPON_RECOUNT = """
SELECT t.day, t.guid, t.bot_name, t.weapon, sum(t.hits), sum(t.attempts), sum(t.kills)
FROM weapon_rounds w CROSS JOIN LATERAL weapon_round_totals(w) t GROUP BY 1, 2, 3, 4
HAVING sum(t.hits) <> 0 OR sum(t.attempts) <> 0 OR sum(t.kills) <> 0
"""
SHOTS_RECOUNT = """
SELECT t.day, t.guid, t.bot_name, sum(t.hits), sum(t.attempts)
FROM weapon_rounds w CROSS JOIN LATERAL weapon_round_totals(w) t GROUP BY 1, 2, 3
HAVING sum(t.hits) <> 0 OR sum(t.attempts) <> 0
"""
SHOTS_KEPT = """
SELECT start, guid, bot_name, hits, attempts FROM player_sums
WHERE span = 'day' AND (hits <> 0 OR attempts <> 0)
"""
WEAPONS_KEPT = """
SELECT start, guid, bot_name, weapon, hits, attempts, kills FROM player_weapon_sums
WHERE span = 'day' AND (hits <> 0 OR attempts <> 0 OR kills <> 0)
"""


READ_TABLES = ("player_sums", "player_weapon_sums", "player_names")


def _rounded(rows: list[asyncpg.Record]) -> list[tuple[Any, ...]]:
    return sorted(
        tuple(round(v, 6) if isinstance(v, float) else v for v in r)
        for r in rows
        if r.get("rounds", 1) or r.get("hits", 0) or r.get("attempts", 0)
    )


def close_to(got: Totals, want: Totals) -> bool:
    return all(getattr(got, f) == pytest.approx(getattr(want, f), abs=1e-6) for f in want.__slots__)


async def assert_sums_kept(db: asyncpg.Connection) -> None:
    assert sorted(map(tuple, await db.fetch(KEPT))) == sorted(map(tuple, await db.fetch(RECOUNT)))
    assert await db.fetch(SPANS_ADD_UP) == []
    shots = sorted(map(tuple, await db.fetch(SHOTS_KEPT)))
    assert shots == sorted(map(tuple, await db.fetch(SHOTS_RECOUNT)))
    weapons = sorted(map(tuple, await db.fetch(WEAPONS_KEPT)))
    assert weapons == sorted(map(tuple, await db.fetch(WEAPON_RECOUNT)))


async def fold(db: asyncpg.Connection) -> None:
    """What storage's fold loop does, to the end."""
    while await db.fetchval("SELECT player_sums_fold(1000)"):
        pass


@pytest.mark.parametrize("fold_each", [True, False], ids=["folded-at-once", "folded-later"])
async def test_sums_follow_imports_in_any_order_repairs_and_deletes(
    db: asyncpg.Connection, fold_each: bool
) -> None:
    """Folded at once, a re-paired round 2 changes the sums in its import; folded
    later, the fold adds what the rows are by then."""
    await migrate(db)
    rng = random.Random(8)
    files: list[GeneratedFile] = []
    for i in range(5):  # one map around midnight, with bots and churn: repairs pair anew
        pair = generate_match(
            rng, datetime(2026, 11, 1, 23, 0) + timedelta(minutes=30 * i),
            map_name="supply", players=8, bots=2, churn=True,
        )  # fmt: skip
        files += reversed(pair) if i % 2 else pair  # a round 2 before its round 1
    for g in files:
        await import_round(db, parsed(g))
        if fold_each:
            await fold(db)
    await fold(db)
    await assert_sums_kept(db)
    names = await db.fetchval("SELECT count(*) FROM player_names WHERE bot_name <> ''")
    assert names >= 2, "bots sharing a guid are kept apart by name"
    kept = [await db.fetch(f"TABLE {t}") for t in READ_TABLES]
    await db.execute("SELECT player_reads_rebuild()")  # as the migration fills older rounds
    rebuilt = [await db.fetch(f"TABLE {t}") for t in READ_TABLES]
    assert [_rounded(t) for t in rebuilt] == [_rounded(t) for t in kept]
    await db.execute("DELETE FROM rounds WHERE id IN (SELECT id FROM rounds ORDER BY id LIMIT 3)")
    await assert_sums_kept(db)
    await import_round(db, parsed(files[0]))  # noted, then deleted before any fold
    await db.execute("DELETE FROM rounds WHERE id = (SELECT max(id) FROM rounds)")
    assert await db.fetchval("SELECT count(*) FROM player_sums_pending") == 0
    await assert_sums_kept(db)


async def test_upgrade_keeps_weapon_days_only_and_the_sums_right(
    db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database folded with sums over four spans (before migration 0005) keeps
    the weapons' days and the players' days, months and years; reads, folds and
    rebuilds agree afterwards."""
    shipped = migrations.available()
    monkeypatch.setattr(migrations, "available", lambda: [m for m in shipped if m[0] < 5])
    await migrate(db)
    files = league(matches=8, start=datetime(2026, 11, 30, 21, 0))  # past the month's end
    await store(db, files[:10])
    await fold(db)
    assert await db.fetchval("SELECT count(*) FROM player_weapon_sums WHERE span = 'all'") > 0
    monkeypatch.setattr(migrations, "available", lambda: shipped)
    assert await migrate(db) == [m[1] for m in shipped if m[0] >= 5]
    assert await db.fetchval("SELECT count(*) FROM player_weapon_sums WHERE span <> 'day'") == 0
    assert await db.fetchval("SELECT count(*) FROM player_sums WHERE span = 'all'") == 0
    await store(db, files[10:])
    await fold(db)
    await assert_sums_kept(db)
    everything = Period("all", None, None)
    totals = await player_stats.player_totals(db, FIREFOX, everything)
    assert close_to(totals, truth(files, FIREFOX))
    weapons = await player_stats.top_weapons(db, FIREFOX, everything, limit=99)
    assert {w["weapon"]: tuple(w)[1:] for w in weapons} == weapon_truth(files, FIREFOX)
    kept = [await db.fetch(f"TABLE {t}") for t in READ_TABLES]
    await db.execute("SELECT player_reads_rebuild()")
    rebuilt = [await db.fetch(f"TABLE {t}") for t in READ_TABLES]
    assert list(map(_rounded, rebuilt)) == list(map(_rounded, kept))


@pytest.mark.parametrize("folded", [False, True], ids=["from-rows", "from-sums"])
async def test_periods_add_up_from_sums_and_rows(db: asyncpg.Connection, folded: bool) -> None:
    """Part days are read from the rounds, whole spans from the sums; rounds not
    folded in yet from their rows: the numbers are the same either way."""
    await migrate(db)
    files = league(matches=8, start=datetime(2026, 11, 20, 21, 0))  # past midnight
    await store(db, files)
    if folded:
        await fold(db)
    assert bool(await db.fetchval("SELECT count(*) FROM player_sums_pending")) != folded
    start, end = START + timedelta(minutes=50), START + timedelta(hours=4, minutes=10)
    inside = [g for g in files if start <= _stamp(g.filename) < end]
    for period in (Period("part", start, end), Period("open", start, None)):
        within = inside if period.end else [g for g in files if _stamp(g.filename) >= start]
        got = await player_stats.player_totals(db, FIREFOX, period)
        assert close_to(got, truth(within, FIREFOX))
    for years in (Period("years", datetime(2025, 3, 2, 5), None), Period("to", None, end)):
        got = await player_stats.player_totals(db, FIREFOX, years)  # years, months, days
        want = [g for g in files if _stamp(g.filename) in years]
        assert close_to(got, truth(want, FIREFOX))
    for period in (Period("part", start, end), Period("years", datetime(2025, 3, 2, 5), None),
                   Period("to", None, end), Period("all", None, None)):  # fmt: skip
        weapons = await player_stats.top_weapons(db, FIREFOX, period, limit=99)
        want = [g for g in files if _stamp(g.filename) in period]
        assert {w["weapon"]: tuple(w)[1:] for w in weapons} == weapon_truth(want, FIREFOX)
    recent = await player_stats.recent_rounds(db, FIREFOX, Period("all", None, None))
    newest = sorted((_stamp(g.filename) for g in files), reverse=True)[:5]
    assert [r["round_stamp"] for r, _ in recent] == newest
    everything = await player_stats.player_totals(db, BOT_FOX, Period("all", None, None))
    assert close_to(everything, truth(files, BOT_FOX))
    assert everything.rounds == len(files)


def _stamp(filename: str) -> datetime:
    return datetime.strptime(filename[:17], "%Y-%m-%d-%H%M%S")


@pytest.fixture
async def reads(nats_server, database_url: str, bus: Bus) -> AsyncIterator[Bus]:
    """Storage running over the league's database."""
    conn = await asyncpg.connect(database_url)
    await migrate(conn)
    await store(conn, league())
    await conn.close()
    async with running("storage", storage_main, StorageConfig(database_url, 2), nats_server.url):
        yield bus


async def test_storage_folds_noted_rounds_into_the_sums(reads: Bus, database_url: str) -> None:
    """The league was imported before storage started: every round noted, none
    folded. Storage folds them in the background, and the answers stay the same."""
    request = reads_pb2.StatsRequest(player=by_text("firefox"))
    conn = await asyncpg.connect(database_url)
    try:

        async def folded() -> bool:
            return bool(await conn.fetchval("SELECT count(*) = 0 FROM player_sums_pending"))

        before = await ask(reads, STORAGE_STATS, request)
        await wait_until(folded, what="the noted rounds folded in")
        assert await conn.fetchval("SELECT count(*) FROM player_sums WHERE span = 'year'") == 8
        after = await ask(reads, STORAGE_STATS, request)
        assert after == before
    finally:
        await conn.close()


def by_text(text: str) -> reads_pb2.PlayerQuery:
    return reads_pb2.PlayerQuery(text=text)


async def refused(bus: Bus, endpoint, request) -> ServiceFailed:
    with pytest.raises(ServiceFailed) as caught:
        await ask(bus, endpoint, request)
    return caught.value


async def test_stats_of_a_player_add_up_to_the_truth(reads: Bus) -> None:
    files = league()
    reply = await ask(reads, STORAGE_STATS, reads_pb2.StatsRequest(player=by_text("FIREFOX")))
    assert reply.player.name == "FireFox" and reply.period == "all"
    assert close_to(totals_from_message(reply.totals), truth(files, FIREFOX))
    assert 1 <= len(reply.weapons) <= 3
    kills = [w.kills for w in reply.weapons]
    assert kills == sorted(kills, reverse=True)
    stamps = [r.stamp for r in reply.recent]
    assert len(stamps) == 5 and stamps == sorted(stamps, reverse=True)
    newest = [g for g in files if key_of("AAAA0001", "^1Fire^7Fox")][-1]
    assert reply.recent[0].map == newest.header.map and reply.recent[0].round == 2

    by_ref = reads_pb2.PlayerQuery(ref=key_to_message(FIREFOX))
    same = await ask(reads, STORAGE_STATS, reads_pb2.StatsRequest(player=by_ref))
    assert same.totals == reply.totals


async def test_names_partial_ambiguous_bots_unknown_and_periods(reads: Bus) -> None:
    async def stats(text: str, period: str = "") -> reads_pb2.StatsReply:
        request = reads_pb2.StatsRequest(player=by_text(text), period=period)
        return await ask(reads, STORAGE_STATS, request)

    assert (await stats("trot")).player.name == "Foxtrot"  # a part of one name
    choice = (await stats("fox")).choice
    assert [p.name for p in choice.players][:1] == ["Foxtrot"]  # starts with it: first
    assert {p.name for p in choice.players} == {"Foxtrot", "FireFox", "[BOT]Fox"}
    assert choice.total == 3
    bot = await stats("[bot]FOX")
    assert (bot.player.ref.guid, bot.player.ref.bot_name) == ("OMNIBOT0", "[BOT]Fox")
    bots = (await stats("omnibot0")).choice
    assert {p.ref.bot_name for p in bots.players} == {"[BOT]Fox", "[BOT]Nyx"}
    assert (await stats("omnibot0/[bot]nyx")).player.name == "[BOT]Nyx"

    unknown = await refused(reads, STORAGE_STATS, reads_pb2.StatsRequest(player=by_text("olzz")))
    assert unknown.code == "404" and "did you mean olz?" in unknown.description
    nothing = await refused(reads, STORAGE_STATS, reads_pb2.StatsRequest(player=by_text("qqqq")))
    assert nothing.description == "no player matches 'qqqq'"

    empty = await stats("olz", "2026-11-01")
    assert empty.player.name == "olz" and empty.totals.rounds == 0 and not empty.recent
    day = await stats("olz", "2026-11-20")  # the league goes on past midnight
    on_the_day = [g for g in league() if _stamp(g.filename).day == 20]
    assert day.totals.rounds == truth(on_the_day, OLZ).rounds < 12
    future = await refused(
        reads, STORAGE_STATS, reads_pb2.StatsRequest(player=by_text("olz"), period="9999-01-01")
    )
    assert future.code == "400" and "nothing to show yet" in future.description


async def test_leaderboards_rank_people_with_enough_rounds(reads: Bus) -> None:
    files = league()
    top = await ask(reads, STORAGE_TOP, reads_pb2.TopRequest(metric="kills"))
    people = [p for p in {key_of(*r) for r in _roster()} if not p.is_bot]
    assert top.total == len(people) and top.min_rounds == 10
    want = sorted((truth(files, k).kills for k in people), reverse=True)
    assert [int(e.value) for e in top.entries] == want
    assert [e.rank for e in top.entries] == list(range(1, len(people) + 1))

    page = await ask(reads, STORAGE_TOP, reads_pb2.TopRequest(metric="K/D", offset=2, limit=2))
    assert page.metric == "kd" and [e.rank for e in page.entries] == [3, 4]
    assert page.entries[0].value >= page.entries[1].value
    nobody = await ask(reads, STORAGE_TOP, reads_pb2.TopRequest(metric="dpm", min_rounds=13))
    assert nobody.total == 0 and not nobody.entries
    typo = await refused(reads, STORAGE_TOP, reads_pb2.TopRequest(metric="kils"))
    assert typo.code == "400" and "Did you mean kills?" in typo.description


def _roster() -> list[tuple[str, str]]:
    from tests.players_data import ROSTER

    return list(ROSTER)


async def test_links(reads: Bus) -> None:
    async def link(member: str, text: str, admin: bool = False) -> reads_pb2.LinkReply:
        request = reads_pb2.LinkRequest(
            discord_id=member, player=by_text(text), linked_by=member, admin=admin
        )
        return await ask(reads, STORAGE_LINK, request)

    mine = reads_pb2.PlayerQuery(discord_id="11")
    not_linked = await refused(reads, STORAGE_STATS, reads_pb2.StatsRequest(player=mine))
    assert not_linked.code == "404" and "no player is linked" in not_linked.description
    assert (await link("11", "olz")).player.name == "olz"
    stats = await ask(reads, STORAGE_STATS, reads_pb2.StatsRequest(player=mine))
    assert stats.player.name == "olz"
    assert (await link("11", "fox")).choice.total == 3  # nothing linked while choosing
    taken = await refused(
        reads, STORAGE_LINK, reads_pb2.LinkRequest(discord_id="22", player=by_text("olz"))
    )
    assert taken.code == "409" and "an etstats admin can change that" in taken.description
    moved = await link("22", "olz", admin=True)
    assert moved.replaced_discord_id == "11"
    bot = await refused(
        reads, STORAGE_LINK, reads_pb2.LinkRequest(discord_id="33", player=by_text("[bot]nyx"))
    )
    assert bot.code == "400" and "bots cannot be linked" in bot.description
    gone = await ask(reads, STORAGE_UNLINK, reads_pb2.UnlinkRequest(discord_id="22"))
    assert gone.player.name == "olz"
    again = await ask(reads, STORAGE_UNLINK, reads_pb2.UnlinkRequest(discord_id="22"))
    assert not again.HasField("player")
