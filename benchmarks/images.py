"""Time to draw the round scoreboard and the session picture, and their size.

Each picture is drawn RUNS times in this process (as the poster draws it, on
one core); the median is set beside the issue's limit, well under a second, and
the PNG's size beside Discord's 10 MiB a message.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from services.common.scoreboard import scoreboard_png
from services.common.session_image import Session, SessionPlayer, SessionRound, session_png
from tests.test_poster import stored as stored_round

RUNS = 15
LIMIT_S = 1.0
DISCORD_FILE_BYTES = 10 * 1024 * 1024


def evening(players: int, rounds: int) -> Session:
    rng = random.Random(players * rounds)
    start = datetime(2026, 11, 24, 20)
    return Session(
        f"{players} players, {rounds} rounds",
        [
            SessionPlayer(f"player{i}", rng.randint(0, 300), rng.randint(0, 300), 200.0, 5e4)
            for i in range(players)
        ],
        [
            SessionRound(start + timedelta(minutes=12 * i), f"map{i // 2}", 1 + i % 2, 1 + i % 2)
            for i in range(rounds)
        ],
    )


def measure(what: str, draw: Callable[[], bytes]) -> None:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        png = draw()
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(
        f"images: {what}: median {median * 1000:.0f} ms of {RUNS} (limit {LIMIT_S:.0f} s:"
        f" {median / LIMIT_S:.1%}), PNG {len(png) / 1024:,.0f} KiB"
        f" ({len(png) / DISCORD_FILE_BYTES:.1%} of Discord's 10 MiB)"
    )


def main() -> None:
    for players in (12, 32, 64):
        stored = stored_round(players, players)
        measure(f"round scoreboard, {players} players", partial(scoreboard_png, stored))
    for players, rounds in ((12, 10), (40, 24), (64, 40)):
        session = evening(players, rounds)
        measure(f"session picture, {session.title}", partial(session_png, session))


if __name__ == "__main__":
    main()
