"""Players between the format model and the bus messages (shared by parser and storage)."""

from __future__ import annotations

from etstats.statsfile import Player, Weapon
from proto import rounds_pb2


def player_message(p: Player, basis: str = "") -> rounds_pb2.PlayerStats:
    return rounds_pb2.PlayerStats(
        guid=p.guid,
        name=p.name,
        clean_name=p.clean_name,
        rounds=p.rounds,
        team=p.team,
        bot=p.bot,
        weapons=[
            rounds_pb2.WeaponStats(
                weapon=w.weapon,
                hits=w.hits,
                attempts=w.attempts,
                kills=w.kills,
                deaths=w.deaths,
                headshots=w.headshots,
            )
            for w in p.weapons
        ],
        kills=p.kills,
        deaths=p.deaths,
        headshots=p.headshots,
        values=p.values,
        basis=basis,
    )


def player_from_message(m: rounds_pb2.PlayerStats) -> Player:
    return Player(
        m.guid,
        m.name,
        m.clean_name,
        m.rounds,
        m.team,
        m.bot,
        tuple(
            Weapon(w.weapon, w.hits, w.attempts, w.kills, w.deaths, w.headshots) for w in m.weapons
        ),
        tuple(m.values),
        m.kills,
        m.deaths,
        m.headshots,
    )
