"""Which round 1 a round 2 belongs to (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from etstats.statsfile.model import ParsedFile

PAIRING_WINDOW = timedelta(minutes=45)


def pairable(parsed: ParsedFile) -> bool:
    """Partial (shutdown-path) files never pair silently."""
    return "partial" not in parsed.flags


def find_round1(
    r2: ParsedFile, candidates: Iterable[ParsedFile], window: timedelta = PAIRING_WINDOW
) -> ParsedFile | None:
    """The latest round 1 of the same server and map written before `r2`, within `window`.

    File stamps are full date-times, so rounds across midnight pair naturally.
    """
    if r2.header.round != 2 or not pairable(r2) or r2.name.stamp is None:
        return None
    best: ParsedFile | None = None
    best_stamp: datetime | None = None  # best's stamp, set with it
    for r1 in candidates:
        if (
            r1.header.round == 1
            and pairable(r1)
            and r1.header.map == r2.header.map
            and r1.header.server_name == r2.header.server_name
            and r1.name.stamp is not None
            and timedelta(0) < r2.name.stamp - r1.name.stamp <= window
            and (best_stamp is None or r1.name.stamp > best_stamp)
        ):
            best, best_stamp = r1, r1.name.stamp
    return best
