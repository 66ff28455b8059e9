"""The round model to and from the wire: the one place that knows both shapes.

The parser sends `ParsedRound`s, storage reads them back into the model and
sends `StoredRound`s; both go through these functions, so a field added to
the model or the message is mapped once.
"""

from __future__ import annotations

from etstats.contract import common_pb2, rounds_pb2
from etstats.statsfile import Header, ParsedFile, Player, Weapon


def header_to_message(h: Header) -> rounds_pb2.RoundHeader:
    return rounds_pb2.RoundHeader(
        server_name=h.server_name,
        map=h.map,
        config=h.config,
        round=h.round,
        defender_team=h.defender_team,
        winner_team=h.winner_team,
        time_limit_s=h.time_limit_s,
        next_time_limit_s=h.next_time_limit_s,
        playtime_ms=h.playtime_ms or 0,
        header_fields=h.fields,
        teams_low_confidence=h.teams_low_confidence,
    )


def header_from_message(h: rounds_pb2.RoundHeader, partial: bool) -> Header:
    """The message has no shutdown flag of its own: it travels as the round's `partial`."""
    return Header(
        server_name=h.server_name,
        map=h.map,
        config=h.config,
        round=h.round,
        defender_team=h.defender_team,
        winner_team=h.winner_team,
        time_limit_s=h.time_limit_s,
        next_time_limit_s=h.next_time_limit_s,
        playtime_ms=h.playtime_ms or None,
        fields=h.header_fields,
        teams_low_confidence=h.teams_low_confidence,
        shutdown_path=partial,
    )


def player_to_message(p: Player, basis: str = "") -> rounds_pb2.PlayerStats:
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


def parsed_round(parsed: ParsedFile, file: common_pb2.FileRef, size: int) -> rounds_pb2.ParsedRound:
    """A parsed file as the parser publishes it."""
    return rounds_pb2.ParsedRound(
        file=file,
        stamp=parsed.name.stamp_text,
        header=header_to_message(parsed.header),
        players=[player_to_message(p) for p in parsed.players],
        flags=rounds_pb2.RoundFlags(
            partial="partial" in parsed.flags,
            short="short" in parsed.flags,
            bot="bot" in parsed.flags,
        ),
        payload_sha256=parsed.payload_sha256,
        size=size,
    )
