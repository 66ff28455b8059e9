"""Giving freed memory back after a sync: found on glibc, which the images run on."""

from __future__ import annotations

import platform

import pytest

from services.common import heap

pytestmark = pytest.mark.unit


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_glibc_trim_is_found_and_runs() -> None:
    assert heap._malloc_trim() is not None
    heap.give_back()


def test_without_malloc_trim_nothing_happens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap.ctypes, "CDLL", lambda _: object())  # a C library without it
    heap._malloc_trim.cache_clear()
    try:
        assert heap._malloc_trim() is None
        heap.give_back()
    finally:
        heap._malloc_trim.cache_clear()
