"""Round posts and sync summaries as Discord embeds, within Discord's limits (pure;
the poster posts them, the bot shows a stored round on request).

The same embeds are printed as text in local mode, so the terminal shows what
Discord would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import disnake

from etstats.contract import control_pb2, rounds_pb2
from etstats.statsfile.parser import clean_name
from etstats.statsfile.values import (
    DAMAGE_GIVEN,
    DAMAGE_RECEIVED,
    DENIED_PLAYTIME,
    DPM,
    OBJECTIVES,
    REVIVES_GIVEN,
    accuracy,
    kd_ratio,
    shots_fired,
)
from etstats.statsfile.writer import clock
from etstats.text import clip
from services.common.discord_text import plain, safe
from services.common.reports import sync_state

P = TypeVar("P")
TEAM_NAMES = {1: "Axis", 2: "Allies"}
TITLE_MAX, DESCRIPTION_MAX, FIELD_MAX, FIELDS_MAX, TOTAL_MAX = 256, 4096, 1024, 25, 6000
MIN_SHOTS_FOR_ACCURACY = 30
OUTCOMES = {
    "round1_attackers": "the round 1 attackers' time stood",
    "round2_attackers": "the round 2 attackers beat the time",
    "draw": "both attacks were held: a draw",
    "unknown": "the result is not recorded reliably",
}


def stat_value(p: rounds_pb2.PlayerStats, index: int) -> float:
    """An extended value (etstats.statsfile.values), 0 where the file has fewer."""
    return p.values[index] if index < len(p.values) else 0.0


def team_members(
    players: Sequence[rounds_pb2.PlayerStats], team: int
) -> list[rounds_pb2.PlayerStats]:
    """A team's players in the order every view lists them: most kills, fewest deaths."""
    return sorted(
        (p for p in players if p.team == team), key=lambda p: (-p.kills, p.deaths, p.clean_name)
    )


def _name(p: rounds_pb2.PlayerStats, width: int = 0) -> str:
    name = p.clean_name.strip() or p.guid
    if width and len(name) > width:
        name = name[: width - 1] + "…"
    return safe(name) + (" [bot]" if p.bot else "")


def player_line(p: rounds_pb2.PlayerStats, compact: bool) -> str:
    if compact:
        return f"{_name(p, 16)} {p.kills}/{p.deaths}"
    return (
        f"{_name(p, 20)} — {p.kills}/{p.deaths} K/D {kd_ratio(p.kills, p.deaths):.2f} · dmg "
        f"{stat_value(p, DAMAGE_GIVEN):.0f}/{stat_value(p, DAMAGE_RECEIVED):.0f} · DPM "
        f"{stat_value(p, DPM):.0f} · acc {accuracy(p.weapons):.0%} · HS {p.headshots} · rev "
        f"{stat_value(p, REVIVES_GIVEN):.0f}"
    )


def chunks(lines: Sequence[str], limit: int = FIELD_MAX) -> list[str]:
    chunks, current = [], ""
    for line in lines:
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line[:limit]
    return [*chunks, current] if current else chunks


def first_chunk(lines: Sequence[str], what: str) -> str:
    """As many lines as one field holds, and how many more there are."""
    parts = chunks(lines, FIELD_MAX - 30)
    if len(parts) == 1:
        return parts[0]
    return f"{parts[0]}\n+{len(lines) - parts[0].count(chr(10)) - 1} more {what}"


def _team_fields(
    players: Sequence[rounds_pb2.PlayerStats], compact: bool, keep: int | None
) -> list[tuple[str, str]]:
    fields = []
    for team in (1, 2):
        members = team_members(players, team)
        if not members:
            continue
        shown = members if keep is None else members[:keep]
        lines = [player_line(p, compact) for p in shown]
        if len(members) > len(shown):
            lines.append(f"+{len(members) - len(shown)} more")
        parts = chunks(lines)
        for i, part in enumerate(parts):
            label = f"{TEAM_NAMES[team]} ({len(members)})" + (
                f" {i + 1}/{len(parts)}" if len(parts) > 1 else ""
            )
            fields.append((label, part))
    others = [p for p in players if p.team not in (1, 2)]
    if others:
        fields.append((f"Others ({len(others)})", chunks([_name(p, 20) for p in others])[0]))
    return fields


def _best(
    players: Sequence[rounds_pb2.PlayerStats],
    label: str,
    score: Callable[[rounds_pb2.PlayerStats], float],
    unit: str,
) -> str | None:
    return best_line(players, label, score, unit, lambda p: _name(p, 24), lambda p: p.deaths)


def best_line(
    players: Sequence[P],
    label: str,
    score: Callable[[P], float],
    unit: str,
    name: Callable[[P], str],
    deaths: Callable[[P], float],
) -> str | None:
    """An award: the best score above 0 (fewer deaths breaks a tie), or None."""
    scored = [(score(p), p) for p in players]
    scored = [(s, p) for s, p in scored if s > 0]
    if not scored:
        return None
    value, best = max(scored, key=lambda sp: (sp[0], -deaths(sp[1])))
    return f"{label}: {name(best)} ({unit.format(value)})"


def awards(players: Sequence[rounds_pb2.PlayerStats]) -> list[str]:
    def steady_accuracy(p: rounds_pb2.PlayerStats) -> float:
        enough = shots_fired(p.weapons) >= MIN_SHOTS_FOR_ACCURACY
        return accuracy(p.weapons) if enough else 0.0

    lines = [
        _best(players, "Top fragger", lambda p: p.kills, "{:.0f} kills"),
        _best(players, "Most damage", lambda p: stat_value(p, DAMAGE_GIVEN), "{:.0f}"),
        _best(players, "Best accuracy", steady_accuracy, "{:.0%}"),
        _best(players, "Most revives", lambda p: stat_value(p, REVIVES_GIVEN), "{:.0f}"),
        _best(
            players,
            "Most objectives",
            lambda p: sum(stat_value(p, i) for i in OBJECTIVES),
            "{:.0f}",
        ),
        _best(players, "Most denied time", lambda p: stat_value(p, DENIED_PLAYTIME), "{:.0f} s"),
    ]
    return [line for line in lines if line]


def _what_happened(s: rounds_pb2.StoredRound) -> list[str]:
    h = s.header
    defence = TEAM_NAMES.get(h.defender_team, "?")
    attack = TEAM_NAMES.get(3 - h.defender_team, "?") if h.defender_team in (1, 2) else "?"
    if h.teams_low_confidence:
        result = "result not recorded"
    elif h.winner_team == h.defender_team:
        result = f"{defence} held"
    else:
        result = f"{attack} completed the objective in {clock(h.next_time_limit_s)}"
    server = safe(clean_name(h.server_name))
    limit = clock(h.time_limit_s)
    lines = [
        f"{attack} attacked, {defence} defended: {result}.",
        f"Played {clock(h.playtime_ms // 1000)} of {limit} on {server}."
        if h.playtime_ms > 0
        else f"Time limit {limit} on {server} (this server's stats do not record playing time).",
    ]
    notes = {
        "partial": "partial round (saved at server shutdown)",
        "short": "short round (warm-up?)",
        "bot": "bot round (kept out of records)",
        "orphan": "round 1 missing: numbers are totals over both rounds",
    }
    flagged = [text for name, text in notes.items() if getattr(s.flags, name)]
    if flagged:
        lines.append("Note: " + "; ".join(flagged) + ".")
    return lines


def _match_lines(s: rounds_pb2.StoredRound) -> list[str]:
    m = s.map_result
    lines = [
        f"Time to beat {clock(m.time_to_beat_s)}"
        + (" (round 1 was held)" if m.fullhold else "")
        + f"; round 2 took {clock(m.round2_time_s)}: {OUTCOMES.get(m.outcome, m.outcome)}."
    ]
    best = sorted(s.match_totals, key=lambda p: (-p.kills, p.deaths))[:3]
    if best:
        lines.append(
            "Best over both rounds: "
            + ", ".join(f"{_name(p, 20)} {p.kills}/{p.deaths}" for p in best)
        )
    return lines


def round_embeds(s: rounds_pb2.StoredRound) -> list[disnake.Embed]:
    """One embed; the layout degrades (compact lines, then "+N more") until it fits."""
    for compact, keep in ((False, None), (True, None), (True, 20), (True, 10), (True, 5)):
        embed = _round_embed(s, compact, keep)
        if fits([embed]):
            return [embed]
    return [_round_embed(s, True, 3)]


def _round_embed(s: rounds_pb2.StoredRound, compact: bool, keep: int | None) -> disnake.Embed:
    h = s.header
    title = f"{h.map} · round {h.round}"
    embed = disnake.Embed(
        title=safe(title)[:TITLE_MAX], description="\n".join(_what_happened(s))[:DESCRIPTION_MAX]
    )
    for name, value in _team_fields(s.players, compact, keep)[: FIELDS_MAX - 2]:
        embed.add_field(name=name, value=value, inline=False)
    if prizes := awards(s.players):
        embed.add_field(name="Awards", value="\n".join(prizes)[:FIELD_MAX], inline=False)
    if s.HasField("map_result"):
        embed.add_field(
            name="Map result", value="\n".join(_match_lines(s))[:FIELD_MAX], inline=False
        )
    embed.set_footer(text=f"{s.file.source} · {s.stamp} · round #{s.round_id}")
    return embed


def with_image(embeds: Sequence[disnake.Embed], filename: str) -> list[disnake.Embed]:
    """The first embed shows the file sent with the message; the text stays, for
    search, screen readers, and readers with images off."""
    first, *rest = embeds
    shown = first.copy()
    shown.set_image(url=f"attachment://{filename}")
    return [shown, *rest]


def fits(embeds: Sequence[disnake.Embed]) -> bool:
    """Discord's limits: per-embed sizes, at most 10 embeds and 6000 characters."""
    if len(embeds) > 10 or sum(len(e) for e in embeds) > TOTAL_MAX:
        return False
    try:
        for e in embeds:
            e.check_limits()
    except ValueError:
        return False
    return all(len(e.fields) <= FIELDS_MAX for e in embeds)


EMBEDS_MAX, FOOTER_MAX = 10, 2048
FIELD_TEXTS = (("name", TITLE_MAX), ("value", FIELD_MAX))


def cut_to_fit(embeds: Sequence[disnake.Embed]) -> list[disnake.Embed]:
    """The embeds cut until they fit: the last resort of a layout that found
    none that does (Discord refuses the whole message otherwise, and the post
    is lost). Embeds and fields past Discord's counts go, each text is cut to
    its limit, then the longest texts are cut, each by what is still too much."""
    shown: list[dict[str, Any]] = [dict(e.to_dict()) for e in embeds[:EMBEDS_MAX]]
    texts: list[tuple[dict[str, Any], str, int]] = []  # where each text is, and its limit
    for d in shown:
        d["fields"] = d.get("fields", [])[:FIELDS_MAX]
        texts += [(d, "title", TITLE_MAX), (d, "description", DESCRIPTION_MAX)]
        texts += [
            (d.get("footer", {}), "text", FOOTER_MAX),
            (d.get("author", {}), "name", TITLE_MAX),
        ]
        texts += [(f, key, limit) for f in d["fields"] for key, limit in FIELD_TEXTS]
    texts = [(holder, key, limit) for holder, key, limit in texts if holder.get(key)]
    for holder, key, limit in texts:
        holder[key] = clip(holder[key].strip(), limit)
    while (over := sum(len(h[k]) for h, k, _ in texts) - TOTAL_MAX) > 0:
        holder, key, _ = max(texts, key=lambda t: len(t[0][t[1]]))
        holder[key] = clip(holder[key], max(len(holder[key]) - over, 1))
    return [disnake.Embed.from_dict(cast(Any, d)) for d in shown]


def sync_summary(result: control_pb2.SyncResult) -> disnake.Embed:
    seconds = max((result.finished_at_ms - result.started_at_ms) // 1000, 0)
    listed = sum(p.listed for p in result.sources)
    elsewhere = sum(p.already_published for p in result.sources)
    embed = disnake.Embed(
        title=f"Sync {sync_state(result)}: {result.imported} rounds imported",
        description=(
            f"{listed} files listed, {result.imported} imported, {result.duplicates} "
            f"duplicates, {result.rejected} rejected"
            + (f", {elsewhere} already in the pipeline" if elsewhere else "")
            + (f", {result.missing_total} missing" if result.missing_total else "")
            + f", in {clock(seconds)}."
        ),
    )
    if result.error:
        embed.add_field(name="Stopped", value=safe(result.error)[:FIELD_MAX], inline=False)
    if result.rounds_per_map:
        maps = sorted(result.rounds_per_map.items(), key=lambda kv: (-kv[1], kv[0]))
        lines = [f"{safe(name)}: {count}" for name, count in maps]
        embed.add_field(name="Rounds per map", value=first_chunk(lines, "maps"), inline=False)
    if result.rejections:
        lines = [safe(r)[:200] for r in result.rejections]
        embed.add_field(name="Rejected", value=first_chunk(lines, "rejected"), inline=False)
    if result.missing:
        lines = [safe(m)[:200] for m in result.missing]
        if result.missing_total > len(lines):
            lines.append(f"+{result.missing_total - len(lines)} more")
        embed.add_field(
            name=f"Still missing ({result.missing_total})", value=chunks(lines)[0], inline=False
        )
    failed = [p for p in result.sources if p.failed or p.error]
    for p in failed[:5]:
        embed.add_field(
            name=f"Source {safe(p.source)}",
            value=(safe(p.error) or f"{p.failed} files could not be fetched")[:FIELD_MAX],
        )
    embed.set_footer(text=f"sync {result.sync_id}")
    return embed


def as_text(embeds: Sequence[disnake.Embed]) -> str:
    """The embeds as plain text, for the terminal in local mode."""
    out = []
    for e in embeds:
        out.append(f"== {e.title} ==")
        if e.description:
            out.append(str(e.description))
        for field in e.fields:
            out.append(f"-- {field.name}")
            out.append(str(field.value))
        if e.footer and e.footer.text:
            out.append(f"   {e.footer.text}")
    return plain("\n".join(out))
