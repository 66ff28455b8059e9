"""Round summaries as text (pure)."""

from __future__ import annotations

from proto import rounds_pb2

TEAM_NAMES = {1: "Axis", 2: "Allies"}


def clock(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def round_summary(stored: rounds_pb2.StoredRound, top: int = 3) -> str:
    """A short text summary: map, round, result and the top fraggers."""
    h = stored.header
    flags = [name for name in ("partial", "short", "bot") if getattr(stored.flags, name)]
    played = clock(h.playtime_ms // 1000) if h.playtime_ms > 0 else "?"
    defender = TEAM_NAMES.get(h.defender_team, "?")
    winner = TEAM_NAMES.get(h.winner_team, "none")
    lines = [
        f"[{stored.file.source}] {h.map} round {h.round} · {stored.stamp} · played {played}"
        f" of {clock(h.time_limit_s)} · defence {defender} · winner {winner}"
        + (f" · {', '.join(flags)}" if flags else ""),
    ]
    players = sorted(stored.players, key=lambda p: (-p.kills, p.deaths, p.clean_name))
    for rank, p in enumerate(players[:top], start=1):
        bot = " [bot]" if p.bot else ""
        lines.append(f"  {rank}. {p.clean_name}{bot}: {p.kills} kills, {p.deaths} deaths")
    if len(players) > top:
        lines.append(f"  +{len(players) - top} more players")
    lines.append(f"  round #{stored.round_id} · {stored.file.filename}")
    return "\n".join(lines)
