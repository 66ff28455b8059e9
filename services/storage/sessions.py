"""Gaming sessions read back: a day's sessions, the last one, or the one holding
a round, each summed up (its rounds, maps and results, the score where the
teams stayed stable, every player's totals). Sessions are cut when asked for,
by `round_sessions` (migration 0004): nothing is written per round."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
from nats.micro.service import Service as MicroService

from etstats.contract import reads_pb2, rounds_pb2
from etstats.contract.players import STAMP, key_to_message, player_to_message, totals_to_message
from etstats.period import PeriodError
from etstats.players.lookup import PlayerKey
from etstats.players.totals import metric_named, ranked
from etstats.sessions import DayError, PlayedMap, session_day, stretches
from etstats.statsfile.stopwatch import Outcome
from services.common.endpoints import STORAGE_SESSION
from services.common.rpc import ServiceError, serve
from services.storage import player_stats
from services.storage.db import Conn
from services.storage.players import players
from services.storage.reads import Connection, planned

RANKED_BY = metric_named("kills")
ONE_TICK = timedelta(microseconds=1)


async def _sessions(
    conn: Conn, source: str | None, since: datetime | None, until: datetime | None, gap: timedelta
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM round_sessions($1, $2, $3, $4)", source, since, until, gap
    )


async def _known_source(conn: Conn, source: str) -> None:
    names = [r["name"] for r in await conn.fetch("SELECT name FROM sources ORDER BY name")]
    if source not in names:
        known = ", ".join(names) or "none yet"
        raise ServiceError("400", f"no rounds of a source {source!r} are stored (sources: {known})")


def _map_result(match: asyncpg.Record) -> rounds_pb2.MapResult:
    return rounds_pb2.MapResult(
        outcome=match["outcome"],
        time_to_beat_s=match["time_to_beat_s"],
        round2_time_s=match["round2_time_s"],
        fullhold=match["fullhold"],
    )


async def summary(conn: Conn, session: asyncpg.Record, gap_s: float) -> reads_pb2.SessionSummary:
    """One session summed up, from its rounds' rows."""
    ids = list(session["round_ids"])
    rounds = await conn.fetch(
        "SELECT id, stamp, map, round, playtime_ms, time_limit_s, defender_team, winner_team,"
        " partial, short, bot, orphan FROM rounds WHERE id = ANY($1::bigint[])"
        " ORDER BY stamp, id",
        ids,
    )
    matches = await conn.fetch(
        "SELECT * FROM matches WHERE r1_round_id = ANY($1::bigint[])"
        " OR r2_round_id = ANY($1::bigint[])",
        ids,
    )
    by_r1 = {m["r1_round_id"]: m for m in matches}
    by_r2 = {m["r2_round_id"]: m for m in matches}
    maps: list[tuple[str, int, int, asyncpg.Record | None]] = []
    for r in rounds:
        if r["round"] == 1:
            match = by_r1.get(r["id"])
            maps.append((r["map"], r["id"], match["r2_round_id"] if match else 0, match))
        elif r["id"] not in by_r2 or by_r2[r["id"]]["r1_round_id"] not in ids:
            match = by_r2.get(r["id"])  # its round 1 is in no session of these, or missing
            maps.append((r["map"], match["r1_round_id"] if match else 0, r["id"], match))
    sides = await conn.fetch(
        "SELECT p.round_id, p.guid, player_bot_name(p.bot, p.clean_name) AS bot_name,"
        " p.team = r.defender_team AS defending FROM player_rounds p"
        " JOIN rounds r ON r.id = p.round_id"
        " WHERE p.round_id = ANY($1::bigint[]) AND p.team IN (1, 2)",
        [r1 for _, r1, _, _ in maps if r1],
    )
    lineups: dict[tuple[int, bool], set[PlayerKey]] = {}
    for s in sides:
        lineups.setdefault((s["round_id"], s["defending"]), set()).add(
            PlayerKey(s["guid"], s["bot_name"])
        )
    played = [
        PlayedMap(
            frozenset(k.text for k in lineups.get((r1, False), ())),
            frozenset(k.text for k in lineups.get((r1, True), ())),
            Outcome(match["outcome"]) if match else None,
        )
        for _, r1, _, match in maps
    ]
    scores = stretches(played)
    totals = await player_stats.rounds_totals(conn, ids)
    keys = {k for k, _ in totals} | {k for side in lineups.values() for k in side}
    known = await players(conn, sorted(keys))
    by_text = {k.text: k for k in keys}

    def name(key: PlayerKey) -> str:
        return known[key].name if key in known else key.text

    def player(key: PlayerKey) -> reads_pb2.Player:
        if key in known:
            return player_to_message(known[key])
        return reads_pb2.Player(ref=key_to_message(key), name=key.text)

    def shown_first(text: str) -> tuple[bool, str]:
        """People before bots, then by name: a team is called after its first."""
        key = by_text[text]
        return key.is_bot, name(key).lower()

    where = {i: (n, s.winners[j]) for n, s in enumerate(scores) for j, i in enumerate(s.maps)}
    return reads_pb2.SessionSummary(
        source=session["source"],
        first_round_id=session["first_round_id"],
        first_stamp=session["first_stamp"].strftime(STAMP),
        last_stamp=session["last_stamp"].strftime(STAMP),
        gap_s=round(gap_s),
        rounds=[
            reads_pb2.SessionRound(
                round_id=r["id"],
                stamp=r["stamp"].strftime(STAMP),
                map=r["map"],
                round=r["round"],
                playtime_ms=r["playtime_ms"] or 0,
                time_limit_s=r["time_limit_s"],
                defender_team=r["defender_team"],
                winner_team=r["winner_team"],
                flags=rounds_pb2.RoundFlags(
                    partial=r["partial"], short=r["short"], bot=r["bot"], orphan=r["orphan"]
                ),
            )
            for r in rounds
        ],
        maps=[
            reads_pb2.SessionMap(
                map=name_of_map,
                r1_round_id=r1,
                r2_round_id=r2,
                result=_map_result(match) if match else None,
                winner=where[i][1] if i in where else 0,
                score=where[i][0] if i in where else -1,
            )
            for i, (name_of_map, r1, r2, match) in enumerate(maps)
        ],
        scores=[
            reads_pb2.SessionScore(
                team_a=[name(by_text[k]) for k in sorted(s.team_a, key=shown_first)],
                team_b=[name(by_text[k]) for k in sorted(s.team_b, key=shown_first)],
                wins_a=s.wins_a,
                wins_b=s.wins_b,
                draws=s.draws,
                maps=len(s.maps),
            )
            for s in scores
        ],
        players=[
            reads_pb2.SessionPlayer(player=player(k), totals=totals_to_message(t))
            for k, t in ranked(totals, RANKED_BY, tie=name)
        ],
    )


class SessionReads:
    """Sessions cut by the configured gap (SESSION_GAP)."""

    def __init__(self, connection: Connection, gap_s: float) -> None:
        self.connection = connection
        self.gap_s = gap_s

    async def answer_session(self, request: reads_pb2.SessionRequest) -> reads_pb2.SessionReply:
        gap = timedelta(seconds=self.gap_s)
        source = request.source.strip()
        day = None
        if request.day.strip():
            try:
                day = session_day(request.day, datetime.now())
            except (DayError, PeriodError) as exc:
                raise ServiceError("400", str(exc)) from None
        async with planned(self.connection) as conn:
            if source:
                await _known_source(conn, source)
            if day is not None:
                found = [
                    s
                    for s in await _sessions(conn, source or None, day.start, day.end, gap)
                    if day.start is None or s["first_stamp"] >= day.start  # begun that day
                ]
            else:
                found = await self._holding(conn, source, request.round_id, gap)
            sessions = [await summary(conn, s, self.gap_s) for s in found]
        return reads_pb2.SessionReply(day=day.text if day else "", sessions=sessions)

    @staticmethod
    async def _holding(
        conn: Conn, source: str, round_id: int, gap: timedelta
    ) -> list[asyncpg.Record]:
        """The session holding a round, or the last session (of a source)."""
        if round_id:
            r = await conn.fetchrow("SELECT source, stamp FROM rounds WHERE id = $1", round_id)
            if r is None:
                raise ServiceError("404", f"no round #{round_id} is stored")
        else:
            r = await conn.fetchrow(
                "SELECT source, stamp FROM rounds WHERE NOT bot AND ($1 = '' OR source = $1)"
                " ORDER BY stamp DESC, id DESC LIMIT 1",
                source,
            )
            if r is None:
                return []
        return await _sessions(conn, r["source"], r["stamp"], r["stamp"] + ONE_TICK, gap)


async def serve_sessions(micro: MicroService, connection: Connection, gap_s: float) -> None:
    await serve(micro, STORAGE_SESSION, SessionReads(connection, gap_s).answer_session)
