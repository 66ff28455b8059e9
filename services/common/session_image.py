"""An evening's session as one image (pure): a bar a player, and a timeline of
the rounds in the colour of the team that won them.

It takes a small input of its own (players with their totals, rounds with
their start), so that any summary of a session can be drawn with it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from etstats.statsfile.values import kd_ratio
from services.common.drawing import (
    MUTED,
    STRIPE,
    TEXT,
    Canvas,
    finite,
    fit,
    font,
    lighter,
    team_colour,
)

WIDTH = 820
PAD = 14
ROW = 22
HEADER = 70
TITLE_SIZE = 22
SMALL = 12
MAX_PLAYERS = 32  # past that, "+N more"
NAME_RIGHT = 200
BAR_LEFT, BAR_RIGHT = 208, 560
BAR_COLOUR = (214, 160, 52)
TIMELINE_HEIGHT = 120
LONGEST_ROUND = timedelta(minutes=30)  # a block is never longer: a break shows as a gap
USUAL_ROUND = timedelta(minutes=12)  # the last round's length when nothing says better
MAX_TICKS = 8


@dataclass(frozen=True)
class SessionPlayer:
    """One player's totals over the session; the name without colour codes."""

    name: str
    kills: int
    deaths: int
    dpm: float
    damage: float


@dataclass(frozen=True)
class SessionRound:
    """One round of the session; `started` in the servers' local time, as file stamps."""

    started: datetime
    map: str
    round: int
    winner: int  # 1 Axis, 2 Allies, anything else: not recorded


@dataclass(frozen=True)
class Session:
    title: str
    players: Sequence[SessionPlayer]
    rounds: Sequence[SessionRound]


@dataclass(frozen=True)
class Span:
    """Where a round's block stands on the timeline, in pixels."""

    left: int
    right: int
    round: SessionRound


def bar_widths(values: Sequence[float], room: int) -> list[int]:
    """Bars in proportion to `values`, the largest `room` pixels; nothing that is not a
    positive number gets a bar."""
    clean = [max(finite(v), 0.0) for v in values]
    top = max(clean, default=0.0)
    if top <= 0:
        return [0 for _ in clean]
    return [min(room, round(room * (v / top))) for v in clean]


def ranked(players: Sequence[SessionPlayer]) -> list[SessionPlayer]:
    """Most damage first, then most kills: the order of the bars."""
    return sorted(players, key=lambda p: (-max(finite(p.damage), 0.0), -p.kills, p.name))


def schedule(rounds: Sequence[SessionRound]) -> list[tuple[SessionRound, datetime]]:
    """The rounds in time order, each with its end: when the next starts, at most
    LONGEST_ROUND later; the last lasts as long as the evening's rounds usually did."""
    ordered = sorted(rounds, key=lambda r: r.started)
    if not ordered:
        return []
    starts = [r.started for r in ordered]
    lengths = [min(b - a, LONGEST_ROUND) for a, b in itertools.pairwise(starts)]
    usual = sorted(lengths)[len(lengths) // 2] if lengths else USUAL_ROUND
    if usual <= timedelta(0):
        usual = USUAL_ROUND
    return [(r, r.started + n) for r, n in zip(ordered, [*lengths, usual], strict=True)]


def timeline(rounds: Sequence[SessionRound], left: int, right: int) -> list[Span]:
    """The rounds in time order as blocks between `left` and `right`: in order, never
    overlapping, each at least a pixel wide while there are pixels enough."""
    planned = schedule(rounds)
    if not planned or right <= left:
        return []
    first = planned[0][0].started
    total = (max(end for _, end in planned) - first).total_seconds()
    room = right - left
    spans: list[Span] = []
    cursor = left
    for i, (r, end) in enumerate(planned):  # the last round lasts: total > 0
        a = left + round(room * (r.started - first).total_seconds() / total)
        b = left + round(room * (end - first).total_seconds() / total)
        after = min(len(planned) - i - 1, room - 1)  # a pixel kept for each block after
        a = min(max(a, cursor), right - after - 1)
        b = min(max(b, a + 1), right - after)
        spans.append(Span(a, b, r))
        cursor = b
    return spans


TICK_HOURS = (1, 2, 3, 6, 12, 24, 48, 168, 720, 8760)


def label_span(x: int, width: int, half: int = 30) -> tuple[int, int]:
    """Where a tick's label goes: centred on its tick, but never past the image's
    edges (the evening's first tick sits on the left edge)."""
    start = min(max(x - half, 0), width - 2 * half)
    return start, start + 2 * half


def ticks(first: datetime, last: datetime) -> list[datetime]:
    """Round times between `first` and `last` for the axis, at most MAX_TICKS: every
    hour, or every 2, 3, 6, 12 hours on such hours, or days apart."""
    if last <= first:
        return []
    for hours in TICK_HOURS:
        step = timedelta(hours=hours)
        tick = first.replace(minute=0, second=0, microsecond=0)
        if tick < first:
            tick += timedelta(hours=1)
        if hours <= 24:
            tick += timedelta(hours=-tick.hour % hours)
        count = (last - tick) // step + 1 if tick <= last else 0
        if count <= MAX_TICKS:
            return [tick + n * step for n in range(count)]
    return []


def _players_height(players: Sequence[SessionPlayer]) -> int:
    shown = min(len(players), MAX_PLAYERS)
    more = 1 if len(players) > MAX_PLAYERS else 0
    return ROW * (1 + max(shown, 1) + more)


def session_png(session: Session) -> bytes:
    """The session as PNG bytes: about 1,000 px tall with MAX_PLAYERS players."""
    players = ranked(session.players)
    height = PAD + HEADER + _players_height(players) + PAD + TIMELINE_HEIGHT + PAD
    canvas = Canvas(WIDTH, height)
    _header(canvas, session)
    top = _players(canvas, players, PAD + HEADER) + PAD
    _timeline(canvas, session.rounds, top)
    return canvas.png()


def _header(canvas: Canvas, session: Session) -> None:
    right = WIDTH - PAD
    canvas.text((PAD, PAD, right, PAD + 30), session.title, size=TITLE_SIZE)
    starts = sorted(r.started for r in session.rounds)
    when = f" · {starts[0]:%Y-%m-%d %H:%M} to {starts[-1]:%H:%M}" if starts else ""
    line = f"{len(session.rounds)} rounds · {len(session.players)} players{when}"
    canvas.text((PAD, PAD + 32, right, PAD + 32 + ROW), line, MUTED)


def _players(canvas: Canvas, players: list[SessionPlayer], top: int) -> int:
    right = WIDTH - PAD
    canvas.text((PAD, top, NAME_RIGHT, top + ROW), "Player", MUTED)
    canvas.text((BAR_LEFT, top, BAR_RIGHT, top + ROW), "Damage", MUTED)
    canvas.text((BAR_RIGHT + 8, top, right, top + ROW), "K / D · K/D · DPM", MUTED, align="right")
    top += ROW
    if not players:
        canvas.text((PAD, top, right, top + ROW), "no players recorded", MUTED)
        return top + ROW
    shown = players[:MAX_PLAYERS]
    widths = bar_widths([p.damage for p in shown], BAR_RIGHT - BAR_LEFT - 60)
    for i, (p, width) in enumerate(zip(shown, widths, strict=True)):
        if i % 2:
            canvas.box(PAD, top, right, top + ROW, STRIPE)
        canvas.text((PAD + 4, top, NAME_RIGHT, top + ROW), p.name.strip() or "?", TEXT)
        canvas.box(BAR_LEFT, top + 4, BAR_LEFT + width, top + ROW - 4, BAR_COLOUR)
        damage = f"{finite(p.damage):.0f}"
        canvas.text((BAR_LEFT + width + 4, top, BAR_RIGHT, top + ROW), damage, MUTED)
        numbers = (
            f"{p.kills} / {p.deaths} · {kd_ratio(p.kills, p.deaths):.2f} · {finite(p.dpm):.0f}"
        )
        canvas.text((BAR_RIGHT + 8, top, right, top + ROW), numbers, TEXT, align="right")
        top += ROW
    if len(players) > MAX_PLAYERS:
        canvas.text((PAD + 4, top, right, top + ROW), f"+{len(players) - MAX_PLAYERS} more", MUTED)
        top += ROW
    return top


def _timeline(canvas: Canvas, rounds: Sequence[SessionRound], top: int) -> None:
    left, right = PAD, WIDTH - PAD
    canvas.text((left, top, right, top + ROW), "The evening: rounds by winner", MUTED)
    _legend(canvas, top)
    labels, blocks, axis = top + ROW, top + ROW + 18, top + ROW + 18 + 34
    spans = timeline(rounds, left, right)
    if not spans:
        canvas.text((left, blocks, right, blocks + 30), "no rounds recorded", MUTED)
        return
    label_end = left
    previous_map = None
    for span in spans:
        r = span.round
        gap = 1 if span.right - span.left > 3 else 0
        canvas.box(span.left, blocks, span.right - gap, blocks + 30, team_colour(r.winner))
        if span.right - span.left >= 14:
            canvas.text(
                (span.left, blocks, span.right - gap, blocks + 30),
                str(r.round),
                lighter(team_colour(r.winner), 0.8),
                align="centre",
                size=SMALL,
            )
        if r.map != previous_map and span.left >= label_end:
            shown = round(font(SMALL).getlength(fit(r.map, 160, SMALL)))
            name_right = min(span.left + 2 + shown, right)
            canvas.text((span.left, labels, name_right, labels + 16), r.map, TEXT, size=SMALL)
            label_end = name_right + 6
        previous_map = r.map
    canvas.box(left, axis, right, axis + 1, MUTED)
    planned = schedule(rounds)
    first = planned[0][0].started
    total = (max(end for _, end in planned) - first).total_seconds()
    for tick in ticks(first, first + timedelta(seconds=total)):
        x = left + round((right - left) * (tick - first).total_seconds() / total)
        canvas.box(x, axis - 3, x + 1, axis + 4, MUTED)
        start, end = label_span(x, WIDTH)
        canvas.text(
            (start, axis + 4, end, axis + 22), f"{tick:%H:%M}", MUTED, size=SMALL, align="centre"
        )


LEGEND = ((1, "Axis won"), (2, "Allies won"), (0, "not recorded"))


def _legend(canvas: Canvas, top: int) -> None:
    """What the colours of the blocks mean, at the right of the timeline's heading."""
    x = WIDTH - PAD
    for team, label in reversed(LEGEND):
        width = round(font(SMALL).getlength(label)) + 2
        canvas.text((x - width, top, x, top + ROW), label, MUTED, size=SMALL)
        canvas.box(x - width - 16, top + 6, x - width - 4, top + ROW - 6, team_colour(team))
        x -= width + 28
