"""Parser throughput on one core: files/s and microseconds per file.

A generated corpus of 2,000 files (1,000 R1/R2 pairs, 12 to 20 players) is
parsed several times in this process; the median run is reported.
"""

from __future__ import annotations

import platform
import random
import statistics
import time
from datetime import datetime, timedelta

from etstats.statsfile import parse
from etstats.statsfile.generator import generate_match

FILES = 2000
RUNS = 7


def corpus(seed: int = 2026) -> list[tuple[bytes, str]]:
    rng = random.Random(seed)
    files = []
    for i in range(FILES // 2):
        start = datetime(2026, 1, 1) + timedelta(hours=i)
        for generated in generate_match(rng, start, players=rng.randint(12, 20)):
            files.append((generated.body, generated.filename))
    return files


def main() -> None:
    files = corpus()
    size = sum(len(body) for body, _ in files) / len(files)
    runs = []
    for _ in range(RUNS):
        started = time.perf_counter()
        for body, name in files:
            parse(body, name)
        runs.append(time.perf_counter() - started)
    median = statistics.median(runs)
    print(
        f"parser: {len(files)} files, {size:.0f} bytes each on average, "
        f"Python {platform.python_version()}, one core"
    )
    print(
        f"parser: median of {RUNS} runs: {len(files) / median:,.0f} files/s, "
        f"{median / len(files) * 1e6:.0f} us per file (best {len(files) / min(runs):,.0f} files/s)"
    )


if __name__ == "__main__":
    main()
