"""The stability rule: a round file is published whole, at once when it evidently
is, and never a part of one still being written."""

from __future__ import annotations

import math
import random
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etstats.statsfile.generator import generate_match
from services.fetcher.source import Entry
from services.fetcher.stability import (
    BLOCK,
    Sighting,
    after_read,
    publishable,
    sight,
    worth_reading,
)

pytestmark = pytest.mark.unit

STABLE_S = 1.0
MAX = 1_000_000
NAME = "2026-11-24-201443-supply-round-1.txt"
BODY = b"header\\supply\nplayer one\nplayer two\n"


def entry(size: int, mtime_s: int = 100) -> Entry:
    return Entry(NAME, size, mtime_s * 1_000_000_000)


def first(body: bytes = BODY, at: float = 10.0) -> Sighting:
    return sight(None, entry(len(body)), at)


def test_a_whole_file_at_its_first_sighting_is_published_at_once() -> None:
    s = first()
    assert worth_reading(s, 10.0, STABLE_S)
    assert publishable(s, BODY, entry(len(BODY)), 10.01, STABLE_S, MAX)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "created, not yet written"),
        (BODY[:-1], "stopped inside its last line"),
        (BODY[:20], "stopped inside a line"),
        ((b"x" * 99 + b"\n") * 40 + b"x" * 95 + b"\n", "ends on a block boundary"),
    ],
)
def test_a_body_that_is_not_evidently_whole_waits(body: bytes, why: str) -> None:
    if why == "ends on a block boundary":
        assert len(body) == BLOCK
    s = first(body)
    assert not publishable(s, body, entry(len(body)), 10.01, STABLE_S, MAX), why
    assert publishable(s, body, entry(len(body)), 10.0 + STABLE_S, STABLE_S, MAX), why


@pytest.mark.parametrize(
    ("after", "read", "why"),
    [
        (entry(len(BODY) + 10), BODY + b"more lines", "grew while read"),
        (entry(len(BODY), 101), BODY, "written again while read, to the same size"),
        (entry(len(BODY) - 5), BODY[:-5], "cut short while read"),
    ],
)
def test_a_file_that_changed_while_read_is_never_published(
    after: Entry, read: bytes, why: str
) -> None:
    s = first()
    for now in (10.01, 10.0 + STABLE_S, 99.0):  # not even once it had held still before
        assert not publishable(s, read, after, now, STABLE_S, MAX), why


def test_a_read_shorter_than_the_listed_size_waits_until_the_file_held_still() -> None:
    s = first()
    short = BODY[:-7] + b"\n"
    assert not publishable(s, short, entry(len(BODY)), 10.01, STABLE_S, MAX)
    assert publishable(s, short, entry(len(BODY)), 10.0 + STABLE_S, STABLE_S, MAX)


def test_a_file_seen_changing_waits_until_it_held_still_however_whole_it_looks() -> None:
    s = sight(first(b"", at=10.0), entry(len(BODY)), 10.5)  # empty, then written
    assert s.changed and s.since == 10.5
    assert not worth_reading(s, 10.6, STABLE_S)
    assert not publishable(s, BODY, entry(len(BODY)), 10.6, STABLE_S, MAX)
    assert worth_reading(s, 11.5, STABLE_S)
    assert publishable(s, BODY, entry(len(BODY)), 11.5, STABLE_S, MAX)


def test_writes_within_one_second_are_seen_by_the_size() -> None:
    """SFTP's mtimes are whole seconds: the mtime stays, the size moves."""
    s = first(BODY[:20])
    grown = sight(s, entry(len(BODY), mtime_s=100), 10.2)
    assert grown.changed and grown.since == 10.2


def test_the_same_look_again_keeps_the_time_it_was_first_seen() -> None:
    s = first()
    assert sight(s, entry(len(BODY)), 10.7) is s


def test_a_read_that_found_no_whole_file_is_not_repeated_until_it_held_still() -> None:
    s = after_read(first(BODY[:20]), entry(20), 10.01)
    assert s.tried and not s.changed and s.since == 10.0
    assert not worth_reading(s, 10.5, STABLE_S)
    assert not publishable(s, BODY[:20], entry(20), 10.5, STABLE_S, MAX)
    assert worth_reading(s, 11.0, STABLE_S)


def test_a_read_during_which_the_file_changed_starts_a_new_sighting() -> None:
    s = after_read(first(BODY[:20]), entry(len(BODY)), 10.3)
    assert s == Sighting(entry(len(BODY)), 10.3, changed=True)


def test_a_file_over_the_cap_is_rejected_only_once_it_held_still() -> None:
    big = b"x\n" * 10
    s = first(big)
    capped = big[:11]
    assert not publishable(s, capped, entry(len(big)), 10.01, STABLE_S, max_bytes=10)
    assert publishable(s, capped, entry(len(big)), 10.0 + STABLE_S, STABLE_S, max_bytes=10)


def round_body(seed: int) -> bytes:
    r1, _ = generate_match(random.Random(seed), datetime(2026, 11, 24, 20, 14), players=8)
    return r1.body


def published(
    parts: list[tuple[int, float]], body: bytes, poll_s: float, phase: float
) -> bytes | None:
    """The monitor's looks, every `poll_s` from `phase` on, under the rule, at a
    writer that writes `body` up to each cut at each time (the file is created
    at time 0); mtimes in whole seconds, as SFTP gives them. What is published."""

    def state(t: float) -> tuple[bytes, Entry]:
        done = [(cut, at) for cut, at in parts if at <= t]
        cut, last = done[-1] if done else (0, 0.0)
        return body[:cut], Entry(NAME, cut, math.floor(100 + last) * 1_000_000_000)

    s: Sighting | None = None
    t = phase
    while t < parts[-1][1] + 10 * STABLE_S:
        now_body, now_entry = state(t)
        s = sight(s, now_entry, t)
        if worth_reading(s, t, STABLE_S):
            if publishable(s, now_body, now_entry, t, STABLE_S, MAX):
                return now_body
            s = after_read(s, now_entry, t)
        t += poll_s
    return None


def writer(
    body: bytes, cuts: list[float], pauses: list[float], start: float, inside_lines: bool = False
) -> list[tuple[int, float]]:
    """(bytes written, when): the body cut at these fractions (only inside lines,
    if asked), each part after a pause."""
    points = {int(c * len(body)) for c in cuts}
    if inside_lines:
        points = {p for p in points if body[p - 1 : p] != b"\n"}
    at, parts = start, []
    for cut, pause in zip(sorted(points | {len(body)}), pauses, strict=False):
        at += pause
        parts.append((cut, at))
    return parts


CUTS = st.lists(st.floats(0.01, 0.99), min_size=1, max_size=8)
PAUSES = st.lists(st.floats(0.0, 0.95 * STABLE_S), min_size=9, max_size=9)
POLLS = st.sampled_from([0.1, 0.3, 0.5, 0.7])


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 50), cuts=CUTS, pauses=PAUSES, poll_s=POLLS, phase=st.floats(0, 0.7))
def test_a_file_seen_empty_then_written_in_parts_is_only_ever_published_whole(
    seed: int, cuts: list[float], pauses: list[float], poll_s: float, phase: float
) -> None:
    """Cut anywhere, at ends of lines too, each part after a pause shorter than
    STABLE_S, over more than a second in all: once the monitor has seen the file
    created and empty, only the whole body comes out."""
    body = round_body(seed)
    parts = writer(body, cuts, pauses, start=phase + 0.01)  # the first look finds it empty
    assert published(parts, body, poll_s, phase) == body


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 50), cuts=CUTS, pauses=PAUSES, poll_s=POLLS, phase=st.floats(0, 3))
def test_a_file_written_in_parts_cut_inside_lines_is_only_ever_published_whole(
    seed: int, cuts: list[float], pauses: list[float], poll_s: float, phase: float
) -> None:
    """A writer's buffer flushes end inside a line: whenever the first look comes,
    only the whole body comes out."""
    body = round_body(seed)
    parts = writer(body, cuts, pauses, start=0.0, inside_lines=True)
    assert published(parts, body, poll_s, phase) == body


@given(seed=st.integers(0, 50), poll_s=POLLS, phase=st.floats(0, 0.7))
def test_a_file_written_in_one_go_is_published_at_the_first_look(
    seed: int, poll_s: float, phase: float
) -> None:
    body = round_body(seed)
    s = sight(None, Entry(NAME, len(body), 100 * 1_000_000_000), phase)
    assert worth_reading(s, phase, STABLE_S)
    assert publishable(s, body, s.entry, phase, STABLE_S, MAX)
