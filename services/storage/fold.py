"""Folding the rounds that imports noted into the players' sums (migration 0003)."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from services.common.aio import sleep_unless
from services.common.backoff import backoff

log = logging.getLogger(__name__)

FOLD_MOST = 2000  # rounds folded into the sums in one transaction
FOLD_EVERY_S = 0.5  # when none are left: how often to look again


async def fold_sums(pool: asyncpg.Pool, stop: asyncio.Event) -> None:
    """Fold the rounds that imports noted into the players' sums, until stopped.
    Reads are exact meanwhile (they add noted rounds up from their rows); folding
    keeps those few. Replicas fold side by side: each takes other rounds."""
    failures = 0
    while not stop.is_set():
        try:
            async with pool.acquire() as conn:
                folded = await conn.fetchval("SELECT player_sums_fold($1)", FOLD_MOST)
            failures = 0
        except Exception as exc:  # the database away, or a deadlock: the next try folds
            failures += 1
            log.warning("cannot fold rounds into the players' sums: %s", exc)
            folded = 0
        if folded < FOLD_MOST:
            pause = FOLD_EVERY_S if not failures else backoff(failures, first=1.0, cap=30.0)
            if await sleep_unless(stop, pause):
                return
