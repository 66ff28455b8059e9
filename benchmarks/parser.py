"""Parser throughput on one core: files/s and microseconds per file.

A generated corpus of 2,000 files (1,000 R1/R2 pairs, 12 to 20 players) is
parsed several times in this process; the median run is reported. Then
`etstats parse --json` as a process on 1,000 and 20,000 files: its time per
file must not grow with the number of files (pairing is one sorted pass).
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from etstats.statsfile import parse
from etstats.statsfile.generator import generate_match

FILES = 2000
RUNS = 7


def corpus(seed: int = 2026, count: int = FILES) -> list[tuple[bytes, str]]:
    rng = random.Random(seed)
    files = []
    for i in range(count // 2):
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


def cli_seconds(count: int) -> float:
    """Wall time of `etstats parse --json` on a directory of `count` files."""
    with tempfile.TemporaryDirectory(prefix="etstats-bench-") as tmp:
        for body, name in corpus(count=count):
            (Path(tmp) / name).write_bytes(body)
        cli = Path(sys.executable).with_name("etstats")
        started = time.perf_counter()
        subprocess.run(
            [str(cli), "parse", "--json", tmp],
            check=True,
            stdout=subprocess.DEVNULL,
            env=os.environ,
        )
        return time.perf_counter() - started


def cli() -> None:
    small, large = 1000, 20000
    small_s, large_s = cli_seconds(small), cli_seconds(large)
    per_small, per_large = small_s / small * 1e6, large_s / large * 1e6
    print(
        f"etstats parse --json: {small:,} files {small_s:.2f} s ({per_small:.0f} us per file),"
        f" {large:,} files {large_s:.2f} s ({per_large:.0f} us per file):"
        f" {per_large / per_small:.2f} times the cost per file at 20 times the files"
    )


if __name__ == "__main__":
    main()
    cli()
