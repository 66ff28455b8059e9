"""Write stats files byte for byte as the game server's Lua script does."""

from __future__ import annotations

from etstats.statsfile.model import DECIMAL_VALUES, Header, Player


def clock(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def header_line(header: Header) -> str:
    fields = [
        header.server_name,
        header.map,
        header.config,
        str(header.round),
        str(header.defender_team),
        str(header.winner_team),
        clock(header.time_limit_s),
        clock(header.next_time_limit_s),
    ]
    if header.fields == 9:
        fields.append(str(header.playtime_ms or 0))
    return "\\".join(fields)


def player_line(player: Player) -> str:
    mask = 0
    tuples = []
    for weapon in sorted(player.weapons, key=lambda w: w.weapon):
        mask |= 1 << weapon.weapon
        tuples.append(
            f" {weapon.hits} {weapon.attempts} {weapon.kills} {weapon.deaths} {weapon.headshots}"
        )
    values = "\t".join(
        f"{value:0.1f}" if index in DECIMAL_VALUES else str(int(value))
        for index, value in enumerate(player.values)
    )
    head = f"{player.guid}\\{player.name}\\{player.rounds}\\{player.team}\\{mask}"
    return f"{head}{''.join(tuples)} \t{values}"


def write(header: Header, players: list[Player] | tuple[Player, ...]) -> bytes:
    lines = [header_line(header), *(player_line(p) for p in players)]
    return ("\n".join(lines) + "\n").encode("utf-8")
