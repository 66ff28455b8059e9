"""The session summary's image: bars a player, a timeline of the evening (pure)."""

from __future__ import annotations

import io
import itertools
import math
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from services.common.drawing import ALLIES, AXIS, NO_TEAM
from services.common.session_image import (
    MAX_TICKS,
    NAME_RIGHT,
    PAD,
    WIDTH,
    Session,
    SessionPlayer,
    SessionRound,
    bar_widths,
    label_span,
    ranked,
    session_png,
    ticks,
    timeline,
)
from tests.test_scoreboard import HOSTILE, image

pytestmark = pytest.mark.unit

names = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=80))
floats = st.floats(allow_nan=True, allow_infinity=True)
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))
evening = st.datetimes(min_value=datetime(2026, 11, 24, 18), max_value=datetime(2026, 11, 25, 2))
session_players = st.builds(
    SessionPlayer,
    name=names,
    kills=st.integers(0, 10**6),
    deaths=st.integers(0, 10**6),
    dpm=floats,
    damage=floats,
)
session_rounds = st.builds(
    SessionRound,
    started=st.one_of(evening, times),
    map=names,
    round=st.integers(-1, 3),
    winner=st.integers(-1, 3),
)

T0 = datetime(2026, 11, 24, 20, 3)


def at(minutes: float, winner: int = 1, map_name: str = "supply", no: int = 1) -> SessionRound:
    return SessionRound(T0 + timedelta(minutes=minutes), map_name, no, winner)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.builds(
        Session,
        title=names,
        players=st.lists(session_players, max_size=64),
        rounds=st.lists(session_rounds, max_size=60),
    )
)
def test_any_session_is_a_png_of_bounded_size(session: Session) -> None:
    png = session_png(session)
    assert len(png) < 1024 * 1024
    picture = image(png)
    assert picture.width == WIDTH and 250 < picture.height < 1200


@given(st.lists(floats, max_size=70), st.integers(1, 600))
def test_bars_are_in_proportion(values: list[float], room: int) -> None:
    widths = bar_widths(values, room)
    assert len(widths) == len(values)
    assert all(0 <= w <= room for w in widths)
    for v, w in zip(values, widths, strict=True):
        if not math.isfinite(v) or v <= 0:
            assert w == 0
    positive = [v for v in values if math.isfinite(v) and v > 0]
    if positive:
        assert max(widths) == room
    for (v1, w1), (v2, w2) in itertools.combinations(zip(values, widths, strict=True), 2):
        if math.isfinite(v1) and math.isfinite(v2) and v1 <= v2:
            assert w1 <= w2


@pytest.mark.parametrize(
    ("values", "widths"),
    [
        ([], []),
        ([0, 0], [0, 0]),
        ([100, 50, 25], [200, 100, 50]),
        ([-5, 10], [0, 200]),
        ([float("nan"), float("inf"), 4], [0, 0, 200]),
    ],
)
def test_bar_cases(values: list[float], widths: list[int]) -> None:
    assert bar_widths(values, 200) == widths


@given(st.lists(session_rounds, max_size=60), st.integers(0, 800), st.integers(60, 800))
def test_timeline_blocks_are_in_order_side_by_side_and_inside(
    rounds: list[SessionRound], left: int, room: int
) -> None:
    spans = timeline(rounds, left, left + room)
    assert len(spans) == len(rounds)
    assert [s.round.started for s in spans] == sorted(r.started for r in rounds)
    for span in spans:
        assert left <= span.left < span.right <= left + room
    for a, b in itertools.pairwise(spans):
        assert a.right <= b.left


def test_timeline_cases() -> None:
    rounds = [at(0), at(10, 2, no=2), at(25, 1, "goldrush"), at(35, 0, "goldrush", 2)]
    spans = timeline(list(reversed(rounds)), 0, 450)
    assert [s.round for s in spans] == rounds
    # 10 min, 15, 10, and the last as long as the usual one (the median: 10 min)
    assert [(s.left, s.right) for s in spans] == [(0, 100), (100, 250), (250, 350), (350, 450)]
    same_second = timeline([at(0), at(0), at(0)], 0, 300)
    # rounds at the same second (a copy of a file?): a pixel each, the last the rest
    assert [(s.left, s.right) for s in same_second] == [(0, 1), (1, 2), (2, 300)]
    pause = timeline([at(0), at(120)], 0, 420)  # a two-hour break: the first lasts 30 min
    assert [(s.left, s.right) for s in pause] == [(0, 84), (336, 420)]
    assert timeline([], 0, 100) == []


@pytest.mark.parametrize(
    ("first", "last", "hours"),
    [
        ((20, 3), (22, 36), [21, 22]),
        ((19, 0), (19, 30), [19]),
        ((20, 10), (20, 50), []),
        ((18, 0), (28, 0), [18, 20, 22, 0, 2, 4]),  # into the next day
        ((9, 30), (23, 0), [10, 12, 14, 16, 18, 20, 22]),
        ((0, 0), (23, 59), [0, 3, 6, 9, 12, 15, 18, 21]),
    ],
)
def test_tick_cases(first: tuple[int, int], last: tuple[int, int], hours: list[int]) -> None:
    day = datetime(2026, 11, 24)
    begin = day + timedelta(hours=first[0], minutes=first[1])
    end = day + timedelta(hours=last[0], minutes=last[1])
    assert [t.hour for t in ticks(begin, end)] == hours


@given(times, times)
def test_ticks_are_whole_hours_inside_and_few(first: datetime, last: datetime) -> None:
    marks = ticks(first, last)
    assert len(marks) <= MAX_TICKS
    assert marks == sorted(marks)
    assert all(first <= t <= last and t.minute == t.second == t.microsecond == 0 for t in marks)
    if timedelta(hours=2) <= last - first <= timedelta(days=60):
        assert marks, "a long evening has a mark"


def test_players_are_ranked_by_damage_then_kills() -> None:
    players = [
        SessionPlayer("a", 5, 1, 200, 1000),
        SessionPlayer("b", 9, 1, 200, 3000),
        SessionPlayer("c", 7, 1, 200, 3000),
        SessionPlayer("d", 99, 1, 200, float("nan")),
    ]
    assert [p.name for p in ranked(players)] == ["b", "c", "a", "d"]


def test_blocks_are_in_the_winners_colours() -> None:
    rounds = [at(0, 1), at(12, 2, no=2), at(24, 0, "radar")]
    picture = image(session_png(Session("t", [], rounds))).convert("RGB")
    for span, colour in zip(
        timeline(rounds, PAD, WIDTH - PAD), (AXIS, ALLIES, NO_TEAM), strict=True
    ):
        column = {picture.getpixel((span.left + 2, y)) for y in range(picture.height)}
        assert colour in column
        others = {AXIS, ALLIES, NO_TEAM} - {colour}
        assert not others & column - {NO_TEAM}, "one colour a block (the axis line is grey)"


@settings(max_examples=20, deadline=None)
@given(st.lists(names, min_size=1, max_size=10))
def test_a_name_never_draws_outside_its_column(hostile: list[str]) -> None:
    def session(names: list[str]) -> Session:
        players = [SessionPlayer(n, 10, 5, 200, 1000 * (20 - i)) for i, n in enumerate(names)]
        return Session("evening", players, [at(0), at(12)])

    plain = image(session_png(session(["x"] * len(hostile)))).convert("RGB")
    changed = image(session_png(session(hostile))).convert("RGB")
    box = ImageChops.difference(plain, changed).getbbox()
    if box is not None:
        assert box[0] >= PAD and box[2] <= NAME_RIGHT, box


def test_a_long_evening_fits_one_image() -> None:
    """(Its time is measured by `make bench`, benchmarks/images.py.)"""
    players = [SessionPlayer(f"player{i}", i, 64 - i, 100.0 + i, 500.0 * i) for i in range(64)]
    rounds = [at(12 * i, i % 3, f"map{i // 2}", 1 + i % 2) for i in range(40)]
    png = session_png(Session("A long evening", players, rounds))
    picture = Image.open(io.BytesIO(png))
    assert picture.format == "PNG" and picture.height < 1200


@given(st.integers(min_value=0, max_value=WIDTH))
def test_a_tick_label_stays_inside_the_image(x: int) -> None:
    start, end = label_span(x, WIDTH)
    assert start >= 0 and end <= WIDTH and end - start == 60
    assert start <= x <= end, "beside its tick"
