"""Giving memory freed after a big job back to the operating system."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


def give_back() -> None:
    """Return the heap's free pages to the system (glibc's malloc_trim). A job
    that held thousands of files' bytes at once leaves its memory free but still
    the process's, counted in its size until then; elsewhere this does nothing."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
