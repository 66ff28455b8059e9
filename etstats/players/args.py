"""A prefix command's words split into a player and a period (`!stats olz 2 weeks`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from etstats.period import PeriodError, parse_period


def split_period(words: Sequence[str], now: datetime) -> tuple[str, str | None]:
    """The player's name and the period, when the last word or two read as one
    (`olz 1week`, `olz 2 weeks`); else all the words are the name. A name alone
    that reads as a period (`today`) is the period: the asker's own stats."""
    for size in (2, 1):
        if len(words) < size:
            continue
        tail = " ".join(words[-size:])
        try:
            parse_period(tail, now, doing="show")
        except PeriodError as exc:
            if "starts after today" not in str(exc):
                continue  # not a period at all: part of the name
        return " ".join(words[:-size]), tail
    return " ".join(words), None
