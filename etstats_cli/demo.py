"""`etstats demo`: realistic rounds written into the watched directory."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from pathlib import Path

from etstats.statsfile.generator import generate_match


def write_file(directory: Path, name: str, body: bytes) -> Path:
    """Write as the game server does: one go, straight into the directory."""
    path = directory / name
    path.write_bytes(body)
    return path


def demo(directory: Path, maps: int = 1, gap: float = 5.0, seed: int | None = None) -> list[Path]:
    """Write R1 then R2 of `maps` maps, `gap` seconds apart; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    written: list[Path] = []
    for index in range(maps):
        start = datetime.now() - timedelta(hours=1) + timedelta(minutes=30 * index)
        r1, r2 = generate_match(rng, start, players=rng.randint(6, 12))
        for number, generated in enumerate((r1, r2)):
            if written or number:
                time.sleep(gap)
            written.append(write_file(directory, generated.filename, generated.body))
            print(f"wrote {written[-1]}", flush=True)
    return written
