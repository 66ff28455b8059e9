"""The one mapping between the players' read model (etstats.players) and its messages."""

from __future__ import annotations

from dataclasses import asdict, fields

from etstats.contract import reads_pb2
from etstats.players.lookup import Candidate, PlayerKey
from etstats.players.totals import Totals

STAMP = "%Y-%m-%d %H:%M:%S"
TOTAL_FIELDS = tuple(f.name for f in fields(Totals))


def key_to_message(key: PlayerKey) -> reads_pb2.PlayerRef:
    return reads_pb2.PlayerRef(guid=key.guid, bot_name=key.bot_name)


def key_from_message(ref: reads_pb2.PlayerRef) -> PlayerKey:
    return PlayerKey(ref.guid, ref.bot_name)


def player_to_message(c: Candidate) -> reads_pb2.Player:
    return reads_pb2.Player(
        ref=key_to_message(c.key),
        name=c.name,
        other_names=c.other_names,
        last_seen=c.last_seen.strftime(STAMP),
    )


def totals_to_message(t: Totals) -> reads_pb2.Totals:
    return reads_pb2.Totals(**asdict(t))


def totals_from_message(m: reads_pb2.Totals) -> Totals:
    return Totals(**{name: getattr(m, name) for name in TOTAL_FIELDS})
