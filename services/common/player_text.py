"""Players' stats and leaderboards as Discord embeds within Discord's limits
(pure); the CLI prints the same embeds as text (`render.as_text`)."""

from __future__ import annotations

import disnake

from etstats.contract import reads_pb2
from etstats.contract.players import key_from_message, totals_from_message
from etstats.players.totals import metric_named, summary
from etstats.statsfile.model import WEAPON_NAMES
from etstats.text import clip
from services.common.discord_text import safe
from services.common.reads import PAGE_SIZE, pages
from services.common.rpc import NotAnswering, ServiceFailed

NAME_MAX = 40  # ET's names are at most 36 characters; escaping adds to that
OTHER_NAMES_SHOWN = 5


def player_name(p: reads_pb2.Player, width: int = NAME_MAX) -> str:
    """The name as shown: colour codes gone, Markdown escaped, cut to `width`."""
    shown = safe(clip(p.name.strip() or p.ref.guid, width))
    return shown + (" (bot)" if p.ref.bot_name else "")


def period_words(period: str) -> str:
    """A period in a title: `FireFox · 1week`, `FireFox · all time`."""
    return "all time" if period == "all" else period


def within(period: str) -> str:
    """A period in a sentence: `no counted rounds in 1week`, `... at all`."""
    return "at all" if period == "all" else f"in {period}"


def weapon_name(number: int) -> str:
    if 0 <= number < len(WEAPON_NAMES):
        return WEAPON_NAMES[number].replace("_", " ").title()
    return f"weapon {number}"


def stats_embed(reply: reads_pb2.StatsReply) -> disnake.Embed:
    """A player's numbers over a period, top weapons and last rounds."""
    p = reply.player
    t = totals_from_message(reply.totals)
    embed = disnake.Embed(title=f"{player_name(p)} · {period_words(reply.period)}")
    about = []
    if p.other_names:
        others = ", ".join(safe(clip(n, NAME_MAX)) for n in p.other_names[:OTHER_NAMES_SHOWN])
        more = len(p.other_names) - OTHER_NAMES_SHOWN
        about.append(f"Also played as {others}" + (f" and {more} more" if more > 0 else ""))
    about.append(f"Last seen {p.last_seen[:16]}")
    if not t.rounds:
        about.append(f"No counted rounds {within(reply.period)}.")
    embed.description = "\n".join(about)
    if t.rounds:
        for label, value in summary(t):
            embed.add_field(name=label, value=value, inline=True)
    if reply.weapons:
        lines = [
            f"{weapon_name(w.weapon)}: {w.kills} kills, acc "
            f"{(w.hits / w.attempts if w.attempts else 0):.1%}, {w.headshots} headshots"
            for w in reply.weapons
        ]
        embed.add_field(name="Top weapons", value="\n".join(lines), inline=False)
    if reply.recent:
        lines = []
        for r in reply.recent:
            rt = totals_from_message(r.totals)
            lines.append(
                f"{r.stamp[:16]} {safe(clip(r.map, 30))} R{r.round}: {rt.kills}/{rt.deaths}"
                f" K/D {rt.kd:.2f}, DPM {rt.dpm:.0f} (round #{r.round_id})"
            )
        embed.add_field(name=f"Last {len(lines)} rounds", value="\n".join(lines), inline=False)
    embed.set_footer(text=f"player {key_from_message(p.ref).text}")
    return embed


def top_embed(reply: reads_pb2.TopReply) -> disnake.Embed:
    """One page of a leaderboard."""
    metric = metric_named(reply.metric)
    title = f"Top {metric.label} · {period_words(reply.period)}"
    lines = [
        f"`#{e.rank}` {player_name(e.player)}: **{metric.shown(e.value)}**"
        f" ({e.totals.rounds} rounds)"
        for e in reply.entries
    ]
    if not lines and reply.total:
        lines = [f"Past the last page: there are {pages(reply)}."]
    elif not lines:
        lines = [
            f"Nobody has {reply.min_rounds} counted rounds {within(reply.period)}."
            + (" Ask for fewer with min_rounds." if reply.min_rounds > 1 else "")
        ]
    embed = disnake.Embed(title=title, description="\n".join(lines))
    page = reply.offset // PAGE_SIZE + 1
    embed.set_footer(
        text=f"{reply.total} players with at least {reply.min_rounds} rounds"
        f" · page {page}/{pages(reply)}"
    )
    return embed


def choice_lines(choice: reads_pb2.PlayerChoice) -> list[str]:
    """The players to choose from, one line each (for a terminal)."""
    return [
        f"{key_from_message(p.ref).text}  {p.name}  (last seen {p.last_seen[:10]})"
        for p in choice.players
    ]


def choice_text(typed: str, choice: reads_pb2.PlayerChoice) -> str:
    text = f"Several players match {safe(clip(typed, NAME_MAX))!s}: choose one."
    if choice.total > len(choice.players):
        text += f" The {len(choice.players)} seen last of {choice.total} are listed; type more."
    return text


def failure_text(error: Exception) -> str:
    """A failed read as one sentence for people."""
    if isinstance(error, NotAnswering):
        return "Stats are unavailable right now: the storage service is not answering."
    if isinstance(error, ServiceFailed) and error.code.startswith("4"):
        said = safe(error.description[:1].upper() + error.description[1:])
        return said if said.endswith((".", "?", "!")) else said + "."
    return f"Stats are unavailable right now: {safe(str(error))}."
