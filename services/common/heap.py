"""Giving memory freed after a big job back to the operating system."""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc's; musl has none
    if trim is not None:
        trim.argtypes = [ctypes.c_size_t]
    return trim


def give_back() -> None:
    """Return the heap's free pages to the system (glibc's malloc_trim). A job
    that held thousands of files' bytes at once leaves its memory free but still
    the process's, counted in its size until then; elsewhere this does nothing."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
