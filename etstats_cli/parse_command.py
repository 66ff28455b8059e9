"""`etstats parse`: what etstats makes of stats files, for people or as JSON lines."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from etstats.statsfile import FileKind, ParsedFile, ParseError, Player, classify_name, parse
from etstats.statsfile.differential import differential
from etstats.statsfile.model import VALUE_NAMES
from etstats.statsfile.pairing import pair_files
from etstats.statsfile.parser import MAX_FILE_BYTES
from etstats.statsfile.writer import clock

TEAMS = {0: "free", 1: "axis", 2: "allies", 3: "spectator"}


def input_files(paths: list[Path]) -> Iterator[Path]:
    """Files as given; directories expanded to the stats files in them, sorted."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p
                for p in path.iterdir()
                if p.is_file() and classify_name(p.name).kind is FileKind.STATS
            )
        else:
            yield path


def load(path: Path) -> ParsedFile | str:
    """A parsed file, or the reason it is not one."""
    try:
        with path.open("rb") as fh:
            body = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return f"cannot read: {exc.strerror}"
    try:
        return parse(body, path.name)
    except ParseError as exc:
        return str(exc)


def _values(player: Player) -> dict[str, float | int]:
    return dict(zip(VALUE_NAMES, player.values, strict=False))


def _round_values(player: Player) -> dict[str, float | int]:
    return {
        **_values(player),
        "kills": player.kills,
        "deaths": player.deaths,
        "headshots": player.headshots,
    }


def to_json(path: Path, parsed: ParsedFile, r1: ParsedFile | None) -> dict[str, object]:
    h = parsed.header
    rounds: dict[tuple[str, str], Player] | None = None
    if h.round == 1:
        rounds = {(p.guid, p.clean_name): p for p in parsed.players}
    elif r1 is not None:
        rounds = {
            (rp.player.guid, rp.player.clean_name): rp.player for rp in differential(r1, parsed)
        }
    players = []
    for p in parsed.players:
        round_player = rounds.get((p.guid, p.clean_name)) if rounds is not None else None
        players.append(
            {
                "guid": p.guid,
                "name": p.name,
                "clean_name": p.clean_name,
                "team": p.team,
                "bot": p.bot,
                "kills": p.kills,
                "deaths": p.deaths,
                "headshots": p.headshots,
                "values": _values(p),
                "round_values": _round_values(round_player) if round_player else None,
                "weapons": {
                    w.name: {
                        "hits": w.hits,
                        "attempts": w.attempts,
                        "kills": w.kills,
                        "deaths": w.deaths,
                        "headshots": w.headshots,
                    }
                    for w in p.weapons
                },
            }
        )
    return {
        "file": str(path),
        "ok": True,
        "map": h.map,
        "round": h.round,
        "header": {
            "server_name": h.server_name,
            "map": h.map,
            "config": h.config,
            "round": h.round,
            "defender_team": h.defender_team,
            "winner_team": h.winner_team,
            "time_limit_s": h.time_limit_s,
            "next_time_limit_s": h.next_time_limit_s,
            "playtime_ms": h.playtime_ms,
            "fields": h.fields,
            "teams_low_confidence": h.teams_low_confidence,
        },
        "flags": sorted(parsed.flags),
        "paired_with": r1.name.name if r1 is not None else None,
        "players": players,
    }


def to_text(path: Path, parsed: ParsedFile, r1: ParsedFile | None) -> str:
    h = parsed.header
    played = clock(h.playtime_ms // 1000) if h.playtime_ms else "unknown"
    lines = [
        f"{path}: {h.map} round {h.round}, {len(parsed.players)} players, played {played}"
        f" of {clock(h.time_limit_s)}"
        + (f", {', '.join(sorted(parsed.flags))}" if parsed.flags else ""),
    ]
    if h.round == 2:
        lines.append(
            f"  paired with {r1.name.name}"
            if r1
            else "  no round 1 among the inputs: values are cumulative over both rounds"
        )
    shown = (
        {(rp.player.guid, rp.player.clean_name): rp.player for rp in differential(r1, parsed)}
        if r1
        else {}
    )
    rows = sorted(parsed.players, key=lambda p: (p.team, -p.kills, p.clean_name))
    lines.append(f"  {'player':<24} {'team':<9} {'K':>4} {'D':>4} {'HS':>4} {'dmg':>6}")
    for p in rows:
        q = shown.get((p.guid, p.clean_name), p)
        name = (p.clean_name + (" [bot]" if p.bot else ""))[:24]
        lines.append(
            f"  {name:<24} {TEAMS.get(p.team, '?'):<9} {q.kills:>4} {q.deaths:>4}"
            f" {q.headshots:>4} {q.values[0]:>6}"
        )
    return "\n".join(lines)


def run(paths: list[Path], as_json: bool, out: TextIO | None = None) -> int:
    """Parse every input; exit status 0 when every file parsed, 1 otherwise."""
    out = out or sys.stdout
    files = list(input_files(paths))
    results = {path: load(path) for path in files}
    parsed = [r for r in results.values() if isinstance(r, ParsedFile)]
    round1_of = {id(parsed[r2]): r1 for r2, r1 in pair_files(parsed).items()}
    status = 0 if files else 1
    if not files:
        print("etstats parse: no stats files found", file=sys.stderr)
    for path, result in results.items():
        if isinstance(result, str):
            status = 1
            if as_json:
                print(json.dumps({"file": str(path), "ok": False, "error": result}), file=out)
            else:
                print(f"{path}: error: {result}", file=out)
            continue
        r1 = round1_of.get(id(result))
        if as_json:
            print(json.dumps(to_json(path, result, r1), ensure_ascii=False), file=out)
        else:
            print(to_text(path, result, r1), file=out)
    return status
