"""A stored round as a scoreboard image (pure): the round post's picture.

Both teams in their colours, one row a player, every number right-aligned in
its column. The post's embed keeps the same numbers as text; the image is
what a reader sees at a glance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from etstats.contract import rounds_pb2
from etstats.statsfile.parser import clean_name
from etstats.statsfile.values import (
    DAMAGE_GIVEN,
    DPM,
    TIME_PLAYED_MINUTES,
    accuracy,
    kd_ratio,
    shots_fired,
)
from etstats.statsfile.writer import clock
from services.common.drawing import (
    MUTED,
    STRIPE,
    TEXT,
    Canvas,
    finite,
    font,
    lighter,
    team_colour,
)
from services.common.render import TEAM_NAMES, stat_value, team_members

FILENAME = "scoreboard.png"
MAX_ROWS = 64  # a full ET server; past that a section ends with "+N more"
WIDTH = 820
PAD = 14
ROW = 22
BAND = 26  # a team's heading, with the column labels
HEADER = 70
GAP = 8
TITLE_SIZE = 22

Player = rounds_pb2.PlayerStats


def _whole(x: float) -> str:
    return f"{finite(x):.0f}"


def _time(p: Player) -> str:
    minutes = finite(stat_value(p, TIME_PLAYED_MINUTES))
    return clock(round(min(max(minutes, 0.0), 10_000.0) * 60))


def _accuracy(p: Player) -> str:
    return f"{accuracy(p.weapons):.0%}" if shots_fired(p.weapons) > 0 else "-"


@dataclass(frozen=True)
class Column:
    label: str
    width: int  # pixels, the number right-aligned in them
    cell: Callable[[Player], str]


COLUMNS: tuple[Column, ...] = (
    Column("K", 40, lambda p: str(p.kills)),
    Column("D", 40, lambda p: str(p.deaths)),
    Column("K/D", 54, lambda p: f"{kd_ratio(p.kills, p.deaths):.2f}"),
    Column("DPM", 52, lambda p: _whole(stat_value(p, DPM))),
    Column("Dmg", 64, lambda p: _whole(stat_value(p, DAMAGE_GIVEN))),
    Column("Acc", 54, _accuracy),
    Column("HS", 40, lambda p: str(p.headshots)),
    Column("Time", 60, _time),
)
NAME_LEFT = PAD + 10  # after the team's stripe
NAME_RIGHT = WIDTH - PAD - 8 - sum(c.width for c in COLUMNS) - 12


def column_boxes() -> list[tuple[int, int]]:
    """(left, right) of every column, the name's first: side by side, inside the image."""
    boxes = [(NAME_LEFT, NAME_RIGHT)]
    right = WIDTH - PAD - 8
    for column in reversed(COLUMNS):
        boxes.insert(1, (right - column.width, right))
        right -= column.width
    return boxes


@dataclass(frozen=True)
class Section:
    """One team (or the players without one) as the image shows it."""

    team: int
    title: str
    players: list[Player]
    more: int  # not shown, past MAX_ROWS


def sections(stored: rounds_pb2.StoredRound, max_rows: int = MAX_ROWS) -> list[Section]:
    """Axis, Allies, then anyone else; the biggest gives up rows until all fit."""
    groups = [(team, team_members(stored.players, team)) for team in (1, 2)]
    others = [p for p in stored.players if p.team not in (1, 2)]
    groups.append((0, others))
    groups = [(team, members) for team, members in groups if members]
    keep = [len(members) for _, members in groups]
    while sum(keep) > max_rows:
        keep[keep.index(max(keep))] -= 1
    return [
        Section(
            team,
            f"{TEAM_NAMES.get(team, 'Others')} ({len(members)})",
            members[:n],
            len(members) - n,
        )
        for (team, members), n in zip(groups, keep, strict=True)
    ]


def player_name(p: Player) -> str:
    """Colour codes are gone already (clean_name); the drawing makes the rest safe."""
    return p.clean_name.strip() or p.guid


def result_line(header: rounds_pb2.RoundHeader) -> tuple[str, int]:
    """Who won, and the team whose colour says it (0: none)."""
    if header.teams_low_confidence or header.winner_team not in TEAM_NAMES:
        return "winner not recorded", 0
    return f"{TEAM_NAMES[header.winner_team]} won", header.winner_team


def time_line(header: rounds_pb2.RoundHeader) -> str:
    limit = clock(max(header.time_limit_s, 0))
    if header.playtime_ms > 0:
        return f"played {clock(header.playtime_ms // 1000)} of {limit}"
    return f"time limit {limit}"


def height(parts: Sequence[Section]) -> int:
    rows = sum(BAND + ROW * (len(s.players) + (1 if s.more else 0)) + GAP for s in parts)
    return PAD + HEADER + (rows or ROW) + PAD


def scoreboard_png(stored: rounds_pb2.StoredRound) -> bytes:
    """The round's scoreboard as PNG bytes, up to MAX_ROWS players (about 1,600 px tall)."""
    parts = sections(stored)
    canvas = Canvas(WIDTH, height(parts))
    _header(canvas, stored)
    top = PAD + HEADER
    if not parts:
        canvas.text((NAME_LEFT, top, WIDTH - PAD, top + ROW), "no players recorded", MUTED)
    boxes = column_boxes()
    for part in parts:
        top = _section(canvas, part, boxes, top) + GAP
    return canvas.png()


def _header(canvas: Canvas, stored: rounds_pb2.StoredRound) -> None:
    h = stored.header
    right = WIDTH - PAD
    canvas.text((PAD, PAD, right, PAD + 30), f"{h.map} · round {h.round}", size=TITLE_SIZE)
    result, team = result_line(h)
    line = PAD + 32
    split = PAD + int(font().getlength(result)) + 4
    canvas.text(
        (PAD, line, split, line + ROW), result, lighter(team_colour(team)) if team else MUTED
    )
    canvas.text((split, line, right, line + ROW), f"· {time_line(h)}")
    where = f"{stored.stamp} · {clean_name(h.server_name).strip()}"
    canvas.text((PAD, line + ROW - 2, right, line + 2 * ROW - 2), where, MUTED)


def _section(canvas: Canvas, part: Section, boxes: list[tuple[int, int]], top: int) -> int:
    """Draw one team from `top`; returns where the next begins."""
    colour = team_colour(part.team)
    canvas.box(PAD, top, WIDTH - PAD, top + BAND, colour)
    name_left, name_right = boxes[0]
    canvas.text((name_left, top, name_right, top + BAND), part.title)
    for column, (left, right) in zip(COLUMNS, boxes[1:], strict=True):
        canvas.text((left, top, right, top + BAND), column.label, align="right")
    top += BAND
    name_colour = lighter(colour)
    for i, p in enumerate(part.players):
        if i % 2:
            canvas.box(PAD, top, WIDTH - PAD, top + ROW, STRIPE)
        canvas.box(PAD, top, PAD + 4, top + ROW, colour)
        _name_cell(canvas, p, (name_left, top, name_right, top + ROW), name_colour)
        for column, (left, right) in zip(COLUMNS, boxes[1:], strict=True):
            canvas.text((left, top, right, top + ROW), column.cell(p), TEXT, align="right")
        top += ROW
    if part.more:
        canvas.text((name_left, top, name_right, top + ROW), f"+{part.more} more", MUTED)
        top += ROW
    return top


def _name_cell(
    canvas: Canvas, p: Player, box: tuple[int, int, int, int], colour: tuple[int, int, int]
) -> None:
    """The name, cut to its cell; a bot's tag keeps its place at the cell's end."""
    left, top, right, bottom = box
    if p.bot:
        tag = right - 40
        canvas.text((tag, top, right, bottom), "bot", MUTED, align="right")
        right = tag - 4
    canvas.text((left, top, right, bottom), player_name(p), colour)
