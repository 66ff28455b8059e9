"""Players read back over the bus (stats, leaderboards, rounds, Discord links),
shared by the bot and the `etstats` CLI."""

from __future__ import annotations

from etstats.contract import control_pb2, reads_pb2, rounds_pb2
from services.common.bus import Bus
from services.common.endpoints import (
    STORAGE_LINK,
    STORAGE_ROUND,
    STORAGE_SESSION,
    STORAGE_STATS,
    STORAGE_TOP,
    STORAGE_UNLINK,
)
from services.common.rpc import NotAnswering, ServiceFailed, ask

PAGE_SIZE = 10

# Every failure of a read: each has a one-line message for people.
ReadFailed = (NotAnswering, ServiceFailed)


class Reads:
    """Every players' read request, with a deadline on each."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def stats(self, who: reads_pb2.PlayerQuery, period: str = "") -> reads_pb2.StatsReply:
        return await ask(self.bus, STORAGE_STATS, reads_pb2.StatsRequest(player=who, period=period))

    async def top(
        self, metric: str, period: str = "", page: int = 0, min_rounds: int = 0
    ) -> reads_pb2.TopReply:
        request = reads_pb2.TopRequest(
            metric=metric,
            period=period,
            offset=page * PAGE_SIZE,
            limit=PAGE_SIZE,
            min_rounds=min_rounds,
        )
        return await ask(self.bus, STORAGE_TOP, request)

    async def round(self, round_id: int = 0) -> rounds_pb2.StoredRound:
        """A stored round by id; 0: the last round played on any source."""
        reply = await ask(self.bus, STORAGE_ROUND, control_pb2.RoundQuery(round_id=round_id))
        return reply.round

    async def session(
        self, source: str = "", day: str = "", round_id: int = 0
    ) -> reads_pb2.SessionReply:
        """The sessions of a day, the one holding a round, or else the last one."""
        request = reads_pb2.SessionRequest(source=source, day=day, round_id=round_id)
        return await ask(self.bus, STORAGE_SESSION, request)

    async def link(
        self, discord_id: int, who: reads_pb2.PlayerQuery, linked_by: int, *, admin: bool
    ) -> reads_pb2.LinkReply:
        request = reads_pb2.LinkRequest(
            discord_id=str(discord_id), player=who, linked_by=str(linked_by), admin=admin
        )
        return await ask(self.bus, STORAGE_LINK, request)

    async def unlink(self, discord_id: int) -> reads_pb2.UnlinkReply:
        request = reads_pb2.UnlinkRequest(discord_id=str(discord_id))
        return await ask(self.bus, STORAGE_UNLINK, request)


def pages(reply: reads_pb2.TopReply) -> int:
    """How many pages the leaderboard has (at least one, even when empty)."""
    return max(1, -(-reply.total // PAGE_SIZE))
