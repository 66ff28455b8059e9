"""How long to wait before trying again: one rule for every retry in the stack."""

from __future__ import annotations

import random

MAX_DOUBLINGS = 30  # 2**30 s is far past any cap; bounds the arithmetic


def backoff(attempt: int, *, first: float = 1.0, cap: float = 60.0, jitter: float = 0.0) -> float:
    """Seconds before retry number `attempt` (1 for the first retry): `first`, then
    doubling up to `cap`; with `jitter` 0.2 the wait varies by ±20%, so that many
    clients that failed together do not retry together."""
    base = min(first * 2.0 ** min(max(attempt - 1, 0), MAX_DOUBLINGS), cap)
    return base * random.uniform(1 - jitter, 1 + jitter) if jitter else base
