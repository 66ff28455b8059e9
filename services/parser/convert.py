"""A parsed file as the bus's ParsedRound message (pure)."""

from __future__ import annotations

from etstats.statsfile import ParsedFile
from proto import common_pb2, rounds_pb2
from services.common.rounds import player_message


def to_message(parsed: ParsedFile, file: common_pb2.FileRef, size: int) -> rounds_pb2.ParsedRound:
    h = parsed.header
    return rounds_pb2.ParsedRound(
        file=file,
        stamp=parsed.name.stamp_text,
        header=rounds_pb2.RoundHeader(
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
        ),
        players=[player_message(p) for p in parsed.players],
        flags=rounds_pb2.RoundFlags(
            partial="partial" in parsed.flags,
            short="short" in parsed.flags,
            bot="bot" in parsed.flags,
        ),
        payload_sha256=parsed.payload_sha256,
        size=size,
    )
