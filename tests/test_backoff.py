"""The one retry rule: doubling from `first`, capped, with bounded jitter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.backoff import backoff

pytestmark = pytest.mark.unit


def test_doubles_from_first_up_to_the_cap() -> None:
    assert [backoff(n, first=0.5, cap=10) for n in range(0, 8)] == [
        0.5, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0,
    ]  # fmt: skip


@given(
    attempt=st.integers(min_value=-5, max_value=10**6),
    first=st.floats(min_value=0.01, max_value=10),
    cap=st.floats(min_value=0.01, max_value=3600),
    jitter=st.floats(min_value=0, max_value=0.9),
)
def test_never_beyond_cap_and_jitter(attempt: int, first: float, cap: float, jitter: float) -> None:
    wait = backoff(attempt, first=first, cap=cap, jitter=jitter)
    base = min(first, cap)
    assert base * (1 - jitter) - 1e-9 <= wait <= cap * (1 + jitter) + 1e-9
