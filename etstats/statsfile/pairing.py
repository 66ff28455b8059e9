"""Which round 1 each round 2 belongs to (pure).

Pairing is a function of the set of rounds, never of the order they arrived
in: round 2s are settled in play order, each taking the latest round 1 of
its map written before it, within the window, that no earlier round 2 took
and whose time the round 2's clock confirms. A round 2 left without one is
an orphan.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from etstats.statsfile.model import Header, ParsedFile

PAIRING_WINDOW = timedelta(minutes=45)


@dataclass(frozen=True, slots=True)
class RoundRef:
    """What pairing needs to know of one round."""

    key: str  # unique in the set (a file name): the tie-break, whatever the arrival order
    map: str
    round: int
    stamp: datetime
    time_limit_s: int
    next_time_limit_s: int
    pairable: bool = True  # shutdown-path (partial) files never pair

    @classmethod
    def of(cls, key: str, header: Header, stamp: datetime) -> RoundRef:
        return cls(
            key,
            header.map,
            header.round,
            stamp,
            header.time_limit_s,
            header.next_time_limit_s,
            not header.shutdown_path,
        )

    @property
    def order(self) -> tuple[datetime, str]:
        return self.stamp, self.key


def follows(r1: RoundRef, r2: RoundRef) -> bool:
    """Round 2's time limit is the time round 1's attackers set (the full
    limit after a fullhold); a clock a file does not give confirms nothing
    and refutes nothing."""
    return (
        r1.next_time_limit_s <= 0
        or r2.time_limit_s <= 0
        or (r2.time_limit_s == r1.next_time_limit_s)
    )


def pair_rounds(
    rounds: Iterable[RoundRef], window: timedelta = PAIRING_WINDOW
) -> dict[str, str | None]:
    """Every pairable round 2's key, mapped to its round 1's key or None (orphan).

    The rounds must come from one server: pairing looks only at the map.
    """
    by_map: dict[str, list[RoundRef]] = defaultdict(list)
    for r in rounds:
        if r.pairable and r.round in (1, 2):
            by_map[r.map].append(r)
    pairs: dict[str, str | None] = {}
    for group in by_map.values():
        group.sort(key=lambda r: r.order)
        round1s = [r for r in group if r.round == 1]
        stamps = [r.stamp for r in round1s]
        taken: set[str] = set()
        for r2 in (r for r in group if r.round == 2):
            pairs[r2.key] = None
            for r1 in reversed(round1s[: bisect_left(stamps, r2.stamp)]):
                if r2.stamp - r1.stamp > window:
                    break
                if r1.key not in taken and follows(r1, r2):
                    taken.add(r1.key)
                    pairs[r2.key] = r1.key
                    break
    return pairs


F = TypeVar("F", bound=ParsedFile)


def pair_files(files: Sequence[F], window: timedelta = PAIRING_WINDOW) -> dict[int, F]:
    """Round 1 of each paired round-2 file, by position in `files` (one pass,
    servers told apart by name; files without a stamp in their name never pair)."""
    by_server: dict[str, list[RoundRef]] = defaultdict(list)
    for i, f in enumerate(files):
        if f.name.stamp is not None:
            by_server[f.header.server_name].append(RoundRef.of(str(i), f.header, f.name.stamp))
    paired: dict[int, F] = {}
    for refs in by_server.values():
        for r2, r1 in pair_rounds(refs, window).items():
            if r1 is not None:
                paired[int(r2)] = files[int(r1)]
    return paired
