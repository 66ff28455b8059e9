from etstats.contract import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RoundHeader(_message.Message):
    __slots__ = ("server_name", "map", "config", "round", "defender_team", "winner_team", "time_limit_s", "next_time_limit_s", "playtime_ms", "header_fields", "teams_low_confidence")
    SERVER_NAME_FIELD_NUMBER: _ClassVar[int]
    MAP_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    DEFENDER_TEAM_FIELD_NUMBER: _ClassVar[int]
    WINNER_TEAM_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_S_FIELD_NUMBER: _ClassVar[int]
    NEXT_TIME_LIMIT_S_FIELD_NUMBER: _ClassVar[int]
    PLAYTIME_MS_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELDS_FIELD_NUMBER: _ClassVar[int]
    TEAMS_LOW_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    server_name: str
    map: str
    config: str
    round: int
    defender_team: int
    winner_team: int
    time_limit_s: int
    next_time_limit_s: int
    playtime_ms: int
    header_fields: int
    teams_low_confidence: bool
    def __init__(self, server_name: _Optional[str] = ..., map: _Optional[str] = ..., config: _Optional[str] = ..., round: _Optional[int] = ..., defender_team: _Optional[int] = ..., winner_team: _Optional[int] = ..., time_limit_s: _Optional[int] = ..., next_time_limit_s: _Optional[int] = ..., playtime_ms: _Optional[int] = ..., header_fields: _Optional[int] = ..., teams_low_confidence: _Optional[bool] = ...) -> None: ...

class WeaponStats(_message.Message):
    __slots__ = ("weapon", "hits", "attempts", "kills", "deaths", "headshots")
    WEAPON_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    KILLS_FIELD_NUMBER: _ClassVar[int]
    DEATHS_FIELD_NUMBER: _ClassVar[int]
    HEADSHOTS_FIELD_NUMBER: _ClassVar[int]
    weapon: int
    hits: int
    attempts: int
    kills: int
    deaths: int
    headshots: int
    def __init__(self, weapon: _Optional[int] = ..., hits: _Optional[int] = ..., attempts: _Optional[int] = ..., kills: _Optional[int] = ..., deaths: _Optional[int] = ..., headshots: _Optional[int] = ...) -> None: ...

class PlayerStats(_message.Message):
    __slots__ = ("guid", "name", "clean_name", "rounds", "team", "bot", "weapons", "kills", "deaths", "headshots", "values", "basis")
    GUID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLEAN_NAME_FIELD_NUMBER: _ClassVar[int]
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    BOT_FIELD_NUMBER: _ClassVar[int]
    WEAPONS_FIELD_NUMBER: _ClassVar[int]
    KILLS_FIELD_NUMBER: _ClassVar[int]
    DEATHS_FIELD_NUMBER: _ClassVar[int]
    HEADSHOTS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    guid: str
    name: str
    clean_name: str
    rounds: int
    team: int
    bot: bool
    weapons: _containers.RepeatedCompositeFieldContainer[WeaponStats]
    kills: int
    deaths: int
    headshots: int
    values: _containers.RepeatedScalarFieldContainer[float]
    basis: str
    def __init__(self, guid: _Optional[str] = ..., name: _Optional[str] = ..., clean_name: _Optional[str] = ..., rounds: _Optional[int] = ..., team: _Optional[int] = ..., bot: _Optional[bool] = ..., weapons: _Optional[_Iterable[_Union[WeaponStats, _Mapping]]] = ..., kills: _Optional[int] = ..., deaths: _Optional[int] = ..., headshots: _Optional[int] = ..., values: _Optional[_Iterable[float]] = ..., basis: _Optional[str] = ...) -> None: ...

class RoundFlags(_message.Message):
    __slots__ = ("partial", "short", "bot", "orphan")
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    SHORT_FIELD_NUMBER: _ClassVar[int]
    BOT_FIELD_NUMBER: _ClassVar[int]
    ORPHAN_FIELD_NUMBER: _ClassVar[int]
    partial: bool
    short: bool
    bot: bool
    orphan: bool
    def __init__(self, partial: _Optional[bool] = ..., short: _Optional[bool] = ..., bot: _Optional[bool] = ..., orphan: _Optional[bool] = ...) -> None: ...

class ParsedRound(_message.Message):
    __slots__ = ("file", "stamp", "header", "players", "flags", "payload_sha256", "size")
    FILE_FIELD_NUMBER: _ClassVar[int]
    STAMP_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    PLAYERS_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    file: _common_pb2.FileRef
    stamp: str
    header: RoundHeader
    players: _containers.RepeatedCompositeFieldContainer[PlayerStats]
    flags: RoundFlags
    payload_sha256: str
    size: int
    def __init__(self, file: _Optional[_Union[_common_pb2.FileRef, _Mapping]] = ..., stamp: _Optional[str] = ..., header: _Optional[_Union[RoundHeader, _Mapping]] = ..., players: _Optional[_Iterable[_Union[PlayerStats, _Mapping]]] = ..., flags: _Optional[_Union[RoundFlags, _Mapping]] = ..., payload_sha256: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class StoredRound(_message.Message):
    __slots__ = ("file", "round_id", "stamp", "header", "flags", "players", "paired_round_id", "redelivered", "stored_at_ms", "duplicate", "map_result", "match_totals", "paired_filename", "repaired")
    FILE_FIELD_NUMBER: _ClassVar[int]
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    STAMP_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    PLAYERS_FIELD_NUMBER: _ClassVar[int]
    PAIRED_ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    REDELIVERED_FIELD_NUMBER: _ClassVar[int]
    STORED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    MAP_RESULT_FIELD_NUMBER: _ClassVar[int]
    MATCH_TOTALS_FIELD_NUMBER: _ClassVar[int]
    PAIRED_FILENAME_FIELD_NUMBER: _ClassVar[int]
    REPAIRED_FIELD_NUMBER: _ClassVar[int]
    file: _common_pb2.FileRef
    round_id: int
    stamp: str
    header: RoundHeader
    flags: RoundFlags
    players: _containers.RepeatedCompositeFieldContainer[PlayerStats]
    paired_round_id: int
    redelivered: bool
    stored_at_ms: int
    duplicate: bool
    map_result: MapResult
    match_totals: _containers.RepeatedCompositeFieldContainer[PlayerStats]
    paired_filename: str
    repaired: bool
    def __init__(self, file: _Optional[_Union[_common_pb2.FileRef, _Mapping]] = ..., round_id: _Optional[int] = ..., stamp: _Optional[str] = ..., header: _Optional[_Union[RoundHeader, _Mapping]] = ..., flags: _Optional[_Union[RoundFlags, _Mapping]] = ..., players: _Optional[_Iterable[_Union[PlayerStats, _Mapping]]] = ..., paired_round_id: _Optional[int] = ..., redelivered: _Optional[bool] = ..., stored_at_ms: _Optional[int] = ..., duplicate: _Optional[bool] = ..., map_result: _Optional[_Union[MapResult, _Mapping]] = ..., match_totals: _Optional[_Iterable[_Union[PlayerStats, _Mapping]]] = ..., paired_filename: _Optional[str] = ..., repaired: _Optional[bool] = ...) -> None: ...

class MapResult(_message.Message):
    __slots__ = ("outcome", "time_to_beat_s", "round2_time_s", "fullhold")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    TIME_TO_BEAT_S_FIELD_NUMBER: _ClassVar[int]
    ROUND2_TIME_S_FIELD_NUMBER: _ClassVar[int]
    FULLHOLD_FIELD_NUMBER: _ClassVar[int]
    outcome: str
    time_to_beat_s: int
    round2_time_s: int
    fullhold: bool
    def __init__(self, outcome: _Optional[str] = ..., time_to_beat_s: _Optional[int] = ..., round2_time_s: _Optional[int] = ..., fullhold: _Optional[bool] = ...) -> None: ...
