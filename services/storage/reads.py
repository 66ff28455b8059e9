"""The players' read endpoints: stats, leaderboards, links to Discord members."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from nats.micro.service import Service as MicroService

from etstats.contract import reads_pb2
from etstats.contract.players import STAMP, player_to_message, totals_to_message
from etstats.period import Period, PeriodError, parse_period
from etstats.players.lookup import PlayerKey
from etstats.players.totals import MetricError, metric_named, ranked
from services.common.endpoints import STORAGE_LINK, STORAGE_STATS, STORAGE_TOP, STORAGE_UNLINK
from services.common.rpc import ServiceError, serve
from services.storage import player_stats
from services.storage.db import Conn
from services.storage.players import Choice, player, players, resolve

DEFAULT_MIN_ROUNDS = 10
PAGE_MAX = 25

Connection = Callable[[], contextlib.AbstractAsyncContextManager[Conn]]


def period_of(text: str) -> Period:
    try:
        return parse_period(text or "all", datetime.now(), doing="show")
    except PeriodError as exc:
        raise ServiceError("400", str(exc)) from None


@contextlib.asynccontextmanager
async def planned(connection: Connection) -> AsyncIterator[Conn]:
    """A connection whose queries are planned for their values every time: a
    generic plan (what a prepared statement gets after five runs) cannot know
    that a period's edges hold a few rounds, or a player 40,000."""
    async with connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        yield conn


def choice_message(choice: Choice) -> reads_pb2.PlayerChoice:
    return reads_pb2.PlayerChoice(
        players=[player_to_message(c) for c in choice.players], total=choice.total
    )


class PlayerReads:
    """Each answer is one pooled connection's queries (`connection` maps outages to 503)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def planned(self) -> contextlib.AbstractAsyncContextManager[Conn]:
        return planned(self.connection)

    async def answer_stats(self, request: reads_pb2.StatsRequest) -> reads_pb2.StatsReply:
        period = period_of(request.period)
        async with self.planned() as conn:
            found = await resolve(conn, request.player)
            if isinstance(found, Choice):
                return reads_pb2.StatsReply(choice=choice_message(found), period=period.text)
            totals = await player_stats.player_totals(conn, found.key, period)
            weapons = await player_stats.top_weapons(conn, found.key, period)
            recent = await player_stats.recent_rounds(conn, found.key, period)
        return reads_pb2.StatsReply(
            player=player_to_message(found),
            period=period.text,
            totals=totals_to_message(totals),
            weapons=[reads_pb2.WeaponTotals(**dict(w)) for w in weapons],
            recent=[
                reads_pb2.PlayerRound(
                    round_id=r["id"],
                    stamp=r["round_stamp"].strftime(STAMP),
                    source=r["source"],
                    map=r["map"],
                    round=r["round"],
                    totals=totals_to_message(t),
                )
                for r, t in recent
            ],
        )

    async def answer_top(self, request: reads_pb2.TopRequest) -> reads_pb2.TopReply:
        try:
            metric = metric_named(request.metric)
        except MetricError as exc:
            raise ServiceError("400", str(exc)) from None
        period = period_of(request.period)
        min_rounds = request.min_rounds or DEFAULT_MIN_ROUNDS
        offset = max(request.offset, 0)
        limit = min(max(request.limit, 1), PAGE_MAX) if request.limit else 10
        async with self.planned() as conn:
            board = await player_stats.leaderboard(conn, period, min_rounds)
            best = ranked(board, metric, tie=lambda k: k.text)
            page = best[offset : offset + limit]
            names = await players(conn, [k for k, _ in page])
        return reads_pb2.TopReply(
            metric=metric.key,
            period=period.text,
            min_rounds=min_rounds,
            total=len(best),
            offset=offset,
            entries=[
                reads_pb2.TopEntry(
                    rank=offset + i + 1,
                    player=player_to_message(names[k]),
                    value=metric.value(t),
                    totals=totals_to_message(t),
                )
                for i, (k, t) in enumerate(page)
            ],
        )

    async def answer_link(self, request: reads_pb2.LinkRequest) -> reads_pb2.LinkReply:
        if not request.discord_id:
            raise ServiceError("400", "no Discord member to link")
        async with self.connection() as conn:
            found = await resolve(conn, request.player)
            if isinstance(found, Choice):
                return reads_pb2.LinkReply(choice=choice_message(found))
            if found.key.is_bot:
                raise ServiceError("400", f"{found.name} is a bot: bots cannot be linked")
            async with conn.transaction():
                holder = await conn.fetchval(
                    "SELECT discord_id FROM player_links WHERE guid = $1 FOR UPDATE",
                    found.key.guid,
                )
                replaced = holder if holder not in (None, request.discord_id) else ""
                if replaced and not request.admin:
                    raise ServiceError(
                        "409",
                        f"{found.name} is linked to another Discord member;"
                        " an etstats admin can change that",
                    )
                if replaced:
                    await conn.execute("DELETE FROM player_links WHERE guid = $1", found.key.guid)
                await conn.execute(
                    "INSERT INTO player_links (discord_id, guid, linked_by) VALUES ($1, $2, $3)"
                    " ON CONFLICT (discord_id) DO UPDATE SET guid = EXCLUDED.guid,"
                    " linked_by = EXCLUDED.linked_by, linked_at = now()",
                    request.discord_id,
                    found.key.guid,
                    request.linked_by,
                )
        return reads_pb2.LinkReply(player=player_to_message(found), replaced_discord_id=replaced)

    async def answer_unlink(self, request: reads_pb2.UnlinkRequest) -> reads_pb2.UnlinkReply:
        async with self.connection() as conn:
            guid = await conn.fetchval(
                "DELETE FROM player_links WHERE discord_id = $1 RETURNING guid", request.discord_id
            )
            found = None if guid is None else await player(conn, PlayerKey(guid))
        if found is None:
            return reads_pb2.UnlinkReply()
        return reads_pb2.UnlinkReply(player=player_to_message(found))


async def serve_reads(micro: MicroService, connection: Connection) -> None:
    reads = PlayerReads(connection)
    await serve(micro, STORAGE_STATS, reads.answer_stats)
    await serve(micro, STORAGE_TOP, reads.answer_top)
    await serve(micro, STORAGE_LINK, reads.answer_link)
    await serve(micro, STORAGE_UNLINK, reads.answer_unlink)
