"""The stored-round event, built one way whether the round was just imported
or is read back from the database."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from etstats.contract import common_pb2, rounds_pb2
from etstats.contract.rounds import player_to_message
from etstats.statsfile import Player
from etstats.statsfile.differential import match_totals
from etstats.statsfile.stopwatch import MapResult


@dataclass(frozen=True)
class Pairing:
    """What a paired round 2 knows of its round 1."""

    r1_round_id: int
    r1_filename: str
    r1_players: Sequence[Player]  # the round-1 values
    result: MapResult


def build_stored(
    file: common_pb2.FileRef,
    round_id: int,
    stamp: str,
    header: rounds_pb2.RoundHeader,
    flags: rounds_pb2.RoundFlags,
    players: Sequence[Player],
    bases: Sequence[str] | None,
    pairing: Pairing | None,
    *,
    redelivered: bool = False,
    duplicate: bool = False,
) -> rounds_pb2.StoredRound:
    """`players` hold round values when `bases` is given, else raw file values."""
    stored = bare_stored(
        file, round_id, stamp, header, flags, redelivered=redelivered, duplicate=duplicate
    )
    stored.players.extend(
        player_to_message(p, bases[slot] if bases else "") for slot, p in enumerate(players)
    )
    if pairing is not None:
        stored.paired_round_id = pairing.r1_round_id
        stored.paired_filename = pairing.r1_filename
        r = pairing.result
        stored.map_result.CopyFrom(
            rounds_pb2.MapResult(
                outcome=r.outcome.value,
                time_to_beat_s=r.time_to_beat_s,
                round2_time_s=r.round2_time_s,
                fullhold=r.fullhold,
            )
        )
        stored.match_totals.extend(
            player_to_message(p) for p in match_totals(pairing.r1_players, players)
        )
    return stored


def bare_stored(
    file: common_pb2.FileRef,
    round_id: int,
    stamp: str,
    header: rounds_pb2.RoundHeader,
    flags: rounds_pb2.RoundFlags | None = None,
    *,
    redelivered: bool = False,
    duplicate: bool = False,
) -> rounds_pb2.StoredRound:
    """The stored-round event of a round not to post, without its players: only
    the sync that fetched it hears of it, to count it (by map), and nothing
    keeps it; building and sending every player would be most of an import."""
    return rounds_pb2.StoredRound(
        file=file,
        round_id=round_id,
        stamp=stamp,
        header=header,
        flags=flags,
        redelivered=redelivered,
        duplicate=duplicate,
        stored_at_ms=int(time.time() * 1000),
    )
