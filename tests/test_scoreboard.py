"""The round's scoreboard image and the text it draws: pure functions, hostile input."""

from __future__ import annotations

import io
import itertools
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from etstats.contract import rounds_pb2
from etstats.text import MARKS_PER_LETTER, drawable
from services.common.drawing import AXIS, TEXT_CHARS, fit, font
from services.common.scoreboard import (
    MAX_ROWS,
    NAME_LEFT,
    NAME_RIGHT,
    WIDTH,
    column_boxes,
    result_line,
    scoreboard_png,
    sections,
)
from tests.test_poster import stored

pytestmark = pytest.mark.unit

PNG_MAX_BYTES = 1024 * 1024  # far under Discord's 10 MiB a message
HOSTILE = [
    "\u202eevil\u202c name",  # right-to-left override
    "zero\u200bwidth\u200d\ufeffjoin",
    "tab\there\nnewline\r\x00nul\x1b[31m",
    "Z" + "\u0301\u0302\u0303\u0304\u0305" * 20 + "algo",
    "W" * 500,
    "名前" * 30 + "🙂" * 10,
    "\u2028line\u2029para",
    "\U000f0000private\ue000use",
    "",
    "   ",
]


def image(png: bytes) -> Image.Image:
    """The PNG decoded, after checking it is one."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    decoded = Image.open(io.BytesIO(png))
    assert decoded.format == "PNG"
    decoded.load()
    return decoded


names = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=80))
floats = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def rounds(draw: st.DrawFn, max_players: int = MAX_ROWS) -> rounds_pb2.StoredRound:
    count = draw(st.integers(0, max_players))
    players = [
        rounds_pb2.PlayerStats(
            guid=f"{i:08X}",
            clean_name=draw(names),
            team=draw(st.sampled_from([1, 2, 1, 2, 0, 3])),
            bot=draw(st.booleans()),
            kills=draw(st.integers(0, 10**6)),
            deaths=draw(st.integers(0, 10**6)),
            headshots=draw(st.integers(-5, 10**6)),
            values=draw(st.lists(floats, max_size=38)),
            weapons=[
                rounds_pb2.WeaponStats(hits=draw(st.integers(0, 999)), attempts=a)
                for a in draw(st.lists(st.integers(0, 999), max_size=3))
            ],
        )
        for i in range(count)
    ]
    header = rounds_pb2.RoundHeader(
        map=draw(names),
        server_name=draw(names),
        round=draw(st.integers(-1, 3)),
        winner_team=draw(st.integers(-1, 3)),
        defender_team=draw(st.integers(0, 3)),
        time_limit_s=draw(st.integers(-10, 10**6)),
        playtime_ms=draw(st.integers(-10, 10**9)),
        teams_low_confidence=draw(st.booleans()),
    )
    return rounds_pb2.StoredRound(
        round_id=1, stamp="2026-11-24 20:14:43", header=header, players=players
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rounds())
def test_any_round_is_a_png_of_bounded_size(s: rounds_pb2.StoredRound) -> None:
    png = scoreboard_png(s)
    assert len(png) < PNG_MAX_BYTES
    picture = image(png)
    assert picture.width == WIDTH
    assert 100 < picture.height < 1800, "64 players and both headings fit under 1,800 px"


@given(st.text(max_size=300), st.integers(1, 80))
def test_drawable_text_has_nothing_that_moves_the_layout(text: str, limit: int) -> None:
    shown = drawable(text, limit)
    assert len(shown) <= limit
    categories = [unicodedata.category(c) for c in shown]
    assert not {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"} & set(categories)
    assert "  " not in shown and shown == shown.rstrip()
    run = 0
    for category in categories:
        run = run + 1 if category in ("Mn", "Me") else 0
        assert run <= MARKS_PER_LETTER


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("FireFox", "FireFox"),
        ("\u202eevil\u202c", "evil"),
        ("a\u200bb", "ab"),
        ("tab\tnew\nline", "tab new line"),
        ("e\u0301", "é"),  # composed: the font has the letter, not the mark
        ("x" * 70, "x" * 63 + "…"),
        ("\x00\x01", ""),
        ("a\udcffb", "ab"),  # a lone surrogate (a name not UTF-8)
    ],
)
def test_drawable_cases(text: str, shown: str) -> None:
    assert drawable(text) == shown


@given(st.text(max_size=120), st.integers(0, 400))
def test_fitted_text_is_never_wider_than_its_box(text: str, width: int) -> None:
    shown = fit(text, width)
    assert font().getlength(shown) <= width
    assert shown == drawable(text, TEXT_CHARS) or shown.endswith("…") or shown == ""


@settings(max_examples=30, deadline=None)
@given(st.lists(names, min_size=1, max_size=12))
def test_a_name_never_draws_outside_its_cell(hostile: list[str]) -> None:
    """The same round with plain and with hostile names differs only in the name column."""
    s = stored(9, 12, names=["x"] * 12)
    for i, p in enumerate(s.players):
        p.kills = 100 - i  # the order does not depend on the names
        p.bot = False
    plain = image(scoreboard_png(s))
    for p, name in zip(s.players, hostile, strict=False):
        p.clean_name = name
    changed = image(scoreboard_png(s))
    box = ImageChops.difference(plain.convert("RGB"), changed.convert("RGB")).getbbox()
    if box is not None:
        left, _, right, _ = box
        assert left >= NAME_LEFT and right <= NAME_RIGHT, box


def test_columns_sit_side_by_side_inside_the_image() -> None:
    boxes = column_boxes()
    assert boxes[0] == (NAME_LEFT, NAME_RIGHT)
    for (_, right), (left, _) in itertools.pairwise(boxes):
        assert right <= left
    assert all(0 < left < right <= WIDTH for left, right in boxes)
    assert font().getlength("W" * 20) <= NAME_RIGHT - NAME_LEFT, "an ET name mostly fits"


def test_64_players_fit_one_image() -> None:
    """(Its time is measured by `make bench`, benchmarks/images.py.)"""
    s = stored(3, 64, names=HOSTILE * 7)
    png = scoreboard_png(s)
    assert sum(len(part.players) for part in sections(s)) == 64
    assert image(png).height < 1800


def test_more_players_than_a_server_holds_end_in_a_count() -> None:
    s = stored(5, 64)
    s.players.extend(s.players[:30])  # 94 lines, 30 of them again
    parts = sections(s)
    assert sum(len(p.players) for p in parts) == MAX_ROWS
    assert sum(len(p.players) + p.more for p in parts) == 94
    assert [p.team for p in parts] == [1, 2]
    assert all(p.title.endswith(f"({len(p.players) + p.more})") for p in parts)
    image(scoreboard_png(s))


def test_teams_are_in_their_colours_and_the_order_of_the_post() -> None:
    s = stored(7, 10)
    s.players[0].team = 0  # a spectator's line
    parts = sections(s)
    assert [p.team for p in parts] == [1, 2, 0]
    assert parts[2].title == "Others (1)"
    for part in parts:
        kills = [p.kills for p in part.players]
        assert kills == sorted(kills, reverse=True)
    picture = image(scoreboard_png(s)).convert("RGB")
    band = picture.getpixel((WIDTH // 2, 70 + 14 + 3))  # the first team's heading
    assert band == AXIS


@pytest.mark.parametrize(
    ("winner", "low", "text", "team"),
    [
        (1, False, "Axis won", 1),
        (2, False, "Allies won", 2),
        (2, True, "winner not recorded", 0),
        (0, False, "winner not recorded", 0),
        (7, False, "winner not recorded", 0),
    ],
)
def test_result_line(winner: int, low: bool, text: str, team: int) -> None:
    header = rounds_pb2.RoundHeader(winner_team=winner, teams_low_confidence=low)
    assert result_line(header) == (text, team)


def test_no_players_is_still_an_image() -> None:
    s = stored(1, 4)
    del s.players[:]
    assert sections(s) == []
    assert image(scoreboard_png(s)).width == WIDTH
