"""Storage's session endpoint over NATS, checked against the league's truth: the
rounds, maps, score and every player's totals of a session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from etstats.contract import reads_pb2
from etstats.contract.players import key_from_message, totals_from_message
from etstats.statsfile.parser import clean_name
from etstats.statsfile.stopwatch import Outcome
from services.common.bus import Bus
from services.common.endpoints import STORAGE_SESSION
from services.common.rpc import ServiceFailed, ask
from services.storage.migrations import migrate
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.inprocess import running
from tests.players_data import ROSTER, START, key_of, league, store, truth
from tests.test_player_reads import close_to

pytestmark = pytest.mark.service

EVENING = league()  # six maps from 21:00, 40 minutes apart: one session
NEXT_DAY = league(matches=2, seed=7, start=START + timedelta(days=1))


@pytest.fixture
async def sessions(nats_server, database_url: str, bus: Bus) -> AsyncIterator[Bus]:
    conn = await asyncpg.connect(database_url)
    await migrate(conn)
    await store(conn, EVENING + NEXT_DAY)
    await conn.close()
    conf = StorageConfig(database_url, 2, session_gap_s=3600)
    async with running("storage", storage_main, conf, nats_server.url):
        yield bus


async def session(bus: Bus, **request: object) -> reads_pb2.SessionReply:
    return await ask(bus, STORAGE_SESSION, reads_pb2.SessionRequest(**request))  # type: ignore[arg-type]


async def test_a_days_session_is_summed_up_as_played(sessions: Bus) -> None:
    reply = await session(sessions, day="2026-11-20")
    assert reply.day == "2026-11-20"
    (evening,) = reply.sessions
    assert (evening.source, evening.gap_s) == ("main", 3600)
    assert [r.stamp for r in evening.rounds] == sorted(
        f"{g.filename[:10]} {g.filename[11:13]}:{g.filename[13:15]}:{g.filename[15:17]}"
        for g in EVENING
    )
    assert evening.first_round_id == evening.rounds[0].round_id
    assert (evening.first_stamp, evening.last_stamp) == (
        evening.rounds[0].stamp,
        evening.rounds[-1].stamp,
    )
    assert len(evening.maps) == 6
    outcomes = [g.outcome for g in EVENING[1::2] if g.outcome is not None]
    assert len(outcomes) == 6
    assert [m.result.outcome for m in evening.maps] == [o.value for o in outcomes]
    # Round 1's attackers are the roster's odd places every map: one stretch.
    (score,) = evening.scores
    for team, places in ((score.team_a, ROSTER[1::2]), (score.team_b, ROSTER[::2])):
        names = [(g.startswith("OMNIBOT"), clean_name(n)) for g, n in places]
        assert list(team) == [n for _, n in sorted(names, key=lambda bn: (bn[0], bn[1].lower()))]
    assert score.maps == 6
    assert score.wins_a == outcomes.count(Outcome.ROUND1_ATTACKERS)
    assert score.wins_b == outcomes.count(Outcome.ROUND2_ATTACKERS)
    assert score.draws == outcomes.count(Outcome.DRAW)
    assert [m.winner for m in evening.maps] == [
        {Outcome.ROUND1_ATTACKERS: 1, Outcome.ROUND2_ATTACKERS: 2}.get(o, 0) for o in outcomes
    ]
    # Everyone's totals over the evening, bots too, most kills first.
    shown = {key_from_message(p.player.ref): totals_from_message(p.totals) for p in evening.players}
    assert set(shown) == {key_of(g, n) for g, n in ROSTER}
    for key, totals in shown.items():
        assert close_to(totals, truth(EVENING, key)), key
    kills = [p.totals.kills for p in evening.players]
    assert kills == sorted(kills, reverse=True)


async def test_the_last_session_the_one_holding_a_round_and_none(sessions: Bus) -> None:
    last = await session(sessions)
    (next_day,) = last.sessions
    assert next_day.first_stamp.startswith("2026-11-21") and len(next_day.rounds) == 4
    assert (await session(sessions, source="main")).sessions[0] == next_day
    first = (await session(sessions, day="2026-11-20")).sessions[0]
    middle = first.rounds[5].round_id
    assert (await session(sessions, round_id=middle)).sessions == [first]
    assert (await session(sessions, day="2026-11-19")).sessions == []


@pytest.mark.parametrize(
    ("request_", "said"),
    [
        ({"day": "banana"}, "'banana' is not a day: give a date (2026-11-24), today or yesterday"),
        ({"day": "2026-02-30"}, "'2026-02-30': 2026-02-30 is not a real date"),
        ({"source": "other"}, "no rounds of a source 'other' are stored (sources: main)"),
        ({"round_id": 999}, "no round #999 is stored"),
    ],
)
async def test_requests_it_cannot_answer_say_why(
    sessions: Bus, request_: dict[str, object], said: str
) -> None:
    with pytest.raises(ServiceFailed) as failed:
        await session(sessions, **request_)
    assert failed.value.description == said
    assert failed.value.code in ("400", "404")
