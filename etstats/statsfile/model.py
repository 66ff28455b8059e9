"""What a parsed stats file is made of."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from etstats.statsfile.names import FileName

WEAPON_NAMES = (
    "KNIFE", "KNIFE_KBAR", "LUGER", "COLT", "MP40", "THOMPSON", "STEN", "FG42",
    "PANZERFAUST", "BAZOOKA", "FLAMETHROWER", "GRENADE", "MORTAR", "MORTAR2",
    "DYNAMITE", "AIRSTRIKE", "ARTILLERY", "SATCHEL", "GRENADELAUNCHER", "LANDMINE",
    "MG42", "BROWNING", "CARBINE", "KAR98", "GARAND", "K43", "MP34", "SYRINGE",
)  # fmt: skip

VALUE_NAMES = (
    "damage_given", "damage_received", "team_damage_given", "team_damage_received",
    "gibs", "self_kills", "team_kills", "team_gibs", "time_played_pct", "xp",
    "killing_spree", "death_spree", "kill_assists", "kill_steals", "headshot_kills",
    "objectives_stolen", "objectives_returned", "dynamites_planted", "dynamites_defused",
    "times_revived", "bullets_fired", "dpm", "time_played_minutes", "tank_meatshield",
    "time_dead_ratio", "time_dead_minutes", "kd_ratio", "useful_kills", "denied_playtime",
    "multikill_2x", "multikill_3x", "multikill_4x", "multikill_5x", "multikill_6x",
    "useless_kills", "full_selfkills", "repairs_constructions", "revives_given",
)  # fmt: skip
DECIMAL_VALUES = frozenset({8, 21, 22, 23, 24, 25, 26})
VALUE_COUNTS = (36, 38)

TEAM_AXIS = 1
TEAM_ALLIES = 2


@dataclass(frozen=True, slots=True)
class Header:
    server_name: str
    map: str
    config: str
    round: int
    defender_team: int
    winner_team: int
    time_limit_s: int
    next_time_limit_s: int
    playtime_ms: int | None  # None: the file does not say
    fields: int
    teams_low_confidence: bool
    # Field 9 <= 0: written at server shutdown, mid-round; the round is partial.
    shutdown_path: bool = False


class Weapon(NamedTuple):
    """One weapon tuple (a NamedTuple: files hold hundreds, they must be cheap)."""

    weapon: int
    hits: int
    attempts: int
    kills: int
    deaths: int
    headshots: int

    @property
    def name(self) -> str:
        return f"WS_{WEAPON_NAMES[self.weapon]}"


@dataclass(slots=True)
class Player:
    """One player line. Not frozen: construction speed matters to the parser."""

    guid: str
    name: str
    clean_name: str
    rounds: int
    team: int
    bot: bool
    weapons: tuple[Weapon, ...]
    values: tuple[float | int, ...]
    kills: int = 0
    deaths: int = 0
    headshots: int = 0

    def value(self, name: str) -> float | int | None:
        index = VALUE_NAMES.index(name)
        return self.values[index] if index < len(self.values) else None


@dataclass(frozen=True, slots=True)
class ParsedFile:
    name: FileName
    header: Header
    players: tuple[Player, ...]
    payload_sha256: str
    flags: frozenset[str] = field(default_factory=frozenset)
