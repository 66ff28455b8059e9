"""The one way a test waits: for a condition, with a deadline and a message.

Tests never sleep a fixed time where a condition can be awaited; when the
deadline passes, the failure says what was awaited.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

DEFAULT_WITHIN_S = 20.0
POLL_S = 0.05


async def wait_until(
    check: Callable[[], bool | Awaitable[bool]],
    within: float = DEFAULT_WITHIN_S,
    what: str = "",
) -> None:
    """Poll `check` (plain or async) until it is true; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {within:.0f}s: {what or check}")
        await asyncio.sleep(POLL_S)


def wait_until_sync(
    check: Callable[[], bool], within: float = DEFAULT_WITHIN_S, what: str = ""
) -> None:
    """The same, for tests that drive a process from plain (non-async) code."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {within:.0f}s: {what or check}")
        time.sleep(POLL_S)
