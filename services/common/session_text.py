"""Gaming sessions as Discord embeds within Discord's limits (pure): pages for
`/session` and `/last_session` (the CLI prints them as text), and the one
message the poster posts when a session ends, with its picture's input."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import disnake

from etstats.contract import reads_pb2, rounds_pb2
from etstats.contract.players import STAMP, totals_from_message
from etstats.players.totals import Totals
from etstats.statsfile.writer import clock
from etstats.text import clip
from services.common import session_image
from services.common.discord_text import safe
from services.common.player_text import player_name
from services.common.render import (
    FIELD_MAX,
    MIN_SHOTS_FOR_ACCURACY,
    best_line,
    chunks,
    cut_to_fit,
    first_chunk,
    fits,
)

PLAYERS_PER_PAGE = 10
FIRST_PAGE_COUNTS = (PLAYERS_PER_PAGE, 6, 3)  # beside the overview, as many as fit
MAP_FIELDS = 2
TEAM_NAMES_SHOWN = 3
TEAM_NAME_WIDTH = 20
SPARED_FIELDS = ("Awards", "Score")  # left out, in this order, when nothing else fits


def _when(s: reads_pb2.SessionSummary) -> str:
    """`2026-11-20 21:07 to 01:12`: the first and last rounds' ends."""
    end = s.last_stamp[11:16] if s.last_stamp[:10] == s.first_stamp[:10] else s.last_stamp[:16]
    return f"{s.first_stamp[:16]} to {end}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _long(seconds: int) -> str:
    """`1:57:42`, or `21:18` under an hour."""
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{clock(rest):0>5}" if hours else clock(rest)


def _team(names: Sequence[str]) -> str:
    shown = ", ".join(safe(clip(n, TEAM_NAME_WIDTH)) for n in names[:TEAM_NAMES_SHOWN])
    more = len(names) - TEAM_NAMES_SHOWN
    return shown + (f" +{more}" if more > 0 else "")


def score_lines(s: reads_pb2.SessionSummary) -> list[str]:
    """Each stretch of stable teams with a decided map: `A 3 : 1 B (1 draw, 5 maps)`."""
    lines = []
    for score in s.scores:
        if not (score.wins_a or score.wins_b or score.draws):
            continue
        draws = f"{_plural(score.draws, 'draw')}, " if score.draws else ""
        lines.append(
            f"{_team(score.team_a)} **{score.wins_a} : {score.wins_b}** {_team(score.team_b)}"
            f" ({draws}{_plural(score.maps, 'map')})"
        )
    return lines


def _result(r: rounds_pb2.MapResult) -> str:
    """A map's stopwatch result in a few words: a session lists a dozen maps or more."""
    to_beat, took = clock(r.time_to_beat_s), clock(r.round2_time_s)
    if r.outcome == "round2_attackers":
        return f"{took} beat {to_beat}"
    if r.outcome == "round1_attackers":
        return f"{to_beat} stood" + (" (a fullhold)" if r.fullhold else "")
    if r.outcome == "draw":
        return "both attacks held: a draw"
    return "result not recorded"


def map_lines(s: reads_pb2.SessionSummary) -> list[str]:
    """`supply: 6:20 beat 7:00 → FireFox's team`, a line a map, in play order."""
    lines = []
    for m in s.maps:
        name = safe(clip(m.map, 30))
        if not m.HasField("result"):
            lines.append(f"{name}: no result (round {1 if not m.r1_round_id else 2} missing)")
            continue
        line = f"{name}: {_result(m.result)}"
        if m.winner and 0 <= m.score < len(s.scores):
            score = s.scores[m.score]
            winners = score.team_a if m.winner == 1 else score.team_b
            line += f" → {_team(winners[:1])}'s team"
        lines.append(line)
    return lines


def awards(s: reads_pb2.SessionSummary) -> list[str]:
    """The evening's awards, people only; rates need half the session's rounds."""
    people = [(p, totals_from_message(p.totals)) for p in s.players if not p.player.ref.bot_name]
    most = max((t.rounds for _, t in people), default=0)
    steady = [(p, t) for p, t in people if t.rounds * 2 >= most]

    def best(
        among: list[tuple[reads_pb2.SessionPlayer, Totals]],
        label: str,
        score: Callable[[Totals], float],
        unit: str,
    ) -> str | None:
        return best_line(
            among,
            label,
            lambda pt: score(pt[1]),
            unit,
            lambda pt: player_name(pt[0].player, 24),
            lambda pt: pt[1].deaths,
        )

    lines = [
        best(people, "Top fragger", lambda t: t.kills, "{:.0f} kills"),
        best(people, "Most damage", lambda t: t.damage_given, "{:,.0f}"),
        best(steady, "Best K/D", lambda t: t.kd, "{:.2f}"),
        best(steady, "Best DPM", lambda t: t.dpm, "{:.0f}"),
        best(
            people,
            "Best accuracy",
            lambda t: t.accuracy if t.attempts >= MIN_SHOTS_FOR_ACCURACY else 0.0,
            "{:.0%}",
        ),
        best(people, "Most headshots", lambda t: t.headshots, "{:.0f}"),
        best(people, "Most revives", lambda t: t.revives, "{:.0f}"),
        best(people, "Most objectives", lambda t: t.objectives, "{:,.0f}"),
    ]
    return [line for line in lines if line]


def player_line(rank: int, p: reads_pb2.SessionPlayer) -> str:
    t = totals_from_message(p.totals)
    return (
        f"`#{rank}` {player_name(p.player)} — {t.kills}/{t.deaths} K/D {t.kd:.2f} · DPM"
        f" {t.dpm:.0f} · dmg {t.damage_given:,.0f}/{t.damage_received:,.0f} · acc"
        f" {t.accuracy:.0%} · HS {t.headshots} · rev {t.revives:.0f} · obj {t.objectives:.0f}"
        f" · {_long(round(t.minutes * 60))} in {_plural(t.rounds, 'round')}"
    )


def overview_embed(s: reads_pb2.SessionSummary, which: str = "") -> disnake.Embed:
    """When, how long, the maps, the score and the awards."""
    played = sum(r.playtime_ms for r in s.rounds) // 1000
    embed = disnake.Embed(
        title=f"Session{which} · {_when(s)}",
        description=(
            f"{_plural(len(s.rounds), 'round')} on {_plural(len(s.maps), 'map')}"
            + (f", {_long(played)} played" if played else "")
            + f", {_plural(len(s.players), 'player')}."
        ),
    )
    parts = chunks(map_lines(s), FIELD_MAX - 30)
    for i, part in enumerate(parts[:MAP_FIELDS]):  # a long evening takes two fields
        more = len(parts) > MAP_FIELDS and i == MAP_FIELDS - 1
        shown = sum(p.count("\n") + 1 for p in parts[:MAP_FIELDS])
        value = part + (f"\n+{len(s.maps) - shown} more maps" if more else "")
        embed.add_field(name="Maps" if i == 0 else "Maps, continued", value=value, inline=False)
    if lines := score_lines(s):
        embed.add_field(name="Score", value=first_chunk(lines, "stretches"), inline=False)
    if lines := awards(s):
        embed.add_field(name="Awards", value="\n".join(lines)[:FIELD_MAX], inline=False)
    embed.set_footer(text=f"{s.source} · session of round #{s.first_round_id}")
    return embed


def players_embed(
    s: reads_pb2.SessionSummary, first: int, count: int, more: str = ""
) -> disnake.Embed:
    shown = s.players[first : first + count]
    lines = [player_line(first + i + 1, p) for i, p in enumerate(shown)]
    if more:
        lines.append(more)
    return disnake.Embed(
        title=f"Players {first + 1} to {first + len(shown)} of {len(s.players)}",
        description="\n".join(lines) or "Nobody has a counted round in this session.",
    )


def _fitting(layout: Callable[[int], list[disnake.Embed]]) -> tuple[list[disnake.Embed], int]:
    """The layout with the most players (of a few counts) that fits Discord's
    limits, and that count. Else the fewest, without the fields a reader misses
    least (the awards, then the score), and at last cut to fit: Discord refuses
    a message over its limits, and a post refused is lost."""
    for count in FIRST_PAGE_COUNTS:
        embeds = layout(count)
        if fits(embeds):
            return embeds, count
    for name in SPARED_FIELDS:
        embeds = [_without(e, name) for e in embeds]
        if fits(embeds):
            return embeds, count
    return cut_to_fit(embeds), count


def _without(embed: disnake.Embed, name: str) -> disnake.Embed:
    shorn = embed.copy()
    shorn.clear_fields()
    for f in embed.fields:
        if f.name != name:
            shorn.add_field(name=str(f.name), value=str(f.value), inline=bool(f.inline))
    return shorn


def _first_page(s: reads_pb2.SessionSummary, which: str, count: int) -> list[disnake.Embed]:
    return [overview_embed(s, which), players_embed(s, 0, count)]


def session_pages(reply: reads_pb2.SessionReply) -> list[list[disnake.Embed]]:
    """Every page of every session: its overview with the first players, then
    the other players, a page at a time."""
    pages = []
    for n, s in enumerate(reply.sessions):
        which = f" {n + 1} of {len(reply.sessions)}" if len(reply.sessions) > 1 else ""
        first, shown = _fitting(functools.partial(_first_page, s, which))
        pages.append(first)
        for start in range(shown, len(s.players), PLAYERS_PER_PAGE):
            pages.append([players_embed(s, start, PLAYERS_PER_PAGE)])
    return pages


def no_session_text(reply: reads_pb2.SessionReply, source: str = "") -> str:
    where = f" on {safe(source)}" if source else ""
    if reply.day:
        return f"No session began on {reply.day}{where}."
    return f"No session{where} yet."


def session_post(s: reads_pb2.SessionSummary, ask_with: str) -> list[disnake.Embed]:
    """The end-of-session post: the overview and the best players, one message;
    the rest is one command away (`ask_with`)."""

    def post(count: int) -> list[disnake.Embed]:
        rest = len(s.players) - count
        more = f"+{rest} more players: {ask_with}" if rest > 0 else ""
        return [overview_embed(s), players_embed(s, 0, count, more)]

    return _fitting(post)[0]


def session_picture(s: reads_pb2.SessionSummary) -> session_image.Session:
    """What the session's image is drawn from: every player's totals, and each
    round from its start (its end less its playing time, or its time limit
    where the file does not say)."""
    players = []
    for p in s.players:
        t = totals_from_message(p.totals)
        name = (p.player.name.strip() or p.player.ref.guid) + (
            " (bot)" if p.player.ref.bot_name else ""
        )
        players.append(session_image.SessionPlayer(name, t.kills, t.deaths, t.dpm, t.damage_given))
    rounds = [
        session_image.SessionRound(
            started=datetime.strptime(r.stamp, STAMP)
            - (timedelta(milliseconds=r.playtime_ms) or timedelta(seconds=r.time_limit_s)),
            map=r.map,
            round=r.round,
            winner=r.winner_team,
        )
        for r in s.rounds
    ]
    return session_image.Session(f"{s.source} · session {_when(s)}", players, rounds)
