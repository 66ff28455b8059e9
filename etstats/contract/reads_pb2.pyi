from etstats.contract import rounds_pb2 as _rounds_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PlayerRef(_message.Message):
    __slots__ = ("guid", "bot_name")
    GUID_FIELD_NUMBER: _ClassVar[int]
    BOT_NAME_FIELD_NUMBER: _ClassVar[int]
    guid: str
    bot_name: str
    def __init__(self, guid: _Optional[str] = ..., bot_name: _Optional[str] = ...) -> None: ...

class PlayerQuery(_message.Message):
    __slots__ = ("text", "ref", "discord_id")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    DISCORD_ID_FIELD_NUMBER: _ClassVar[int]
    text: str
    ref: PlayerRef
    discord_id: str
    def __init__(self, text: _Optional[str] = ..., ref: _Optional[_Union[PlayerRef, _Mapping]] = ..., discord_id: _Optional[str] = ...) -> None: ...

class Player(_message.Message):
    __slots__ = ("ref", "name", "other_names", "last_seen")
    REF_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OTHER_NAMES_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    ref: PlayerRef
    name: str
    other_names: _containers.RepeatedScalarFieldContainer[str]
    last_seen: str
    def __init__(self, ref: _Optional[_Union[PlayerRef, _Mapping]] = ..., name: _Optional[str] = ..., other_names: _Optional[_Iterable[str]] = ..., last_seen: _Optional[str] = ...) -> None: ...

class PlayerChoice(_message.Message):
    __slots__ = ("players", "total")
    PLAYERS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    players: _containers.RepeatedCompositeFieldContainer[Player]
    total: int
    def __init__(self, players: _Optional[_Iterable[_Union[Player, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class Totals(_message.Message):
    __slots__ = ("rounds", "kills", "deaths", "headshots", "hits", "attempts", "damage_given", "damage_received", "minutes", "revives", "objectives")
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    KILLS_FIELD_NUMBER: _ClassVar[int]
    DEATHS_FIELD_NUMBER: _ClassVar[int]
    HEADSHOTS_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    DAMAGE_GIVEN_FIELD_NUMBER: _ClassVar[int]
    DAMAGE_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    MINUTES_FIELD_NUMBER: _ClassVar[int]
    REVIVES_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVES_FIELD_NUMBER: _ClassVar[int]
    rounds: int
    kills: int
    deaths: int
    headshots: int
    hits: int
    attempts: int
    damage_given: float
    damage_received: float
    minutes: float
    revives: float
    objectives: float
    def __init__(self, rounds: _Optional[int] = ..., kills: _Optional[int] = ..., deaths: _Optional[int] = ..., headshots: _Optional[int] = ..., hits: _Optional[int] = ..., attempts: _Optional[int] = ..., damage_given: _Optional[float] = ..., damage_received: _Optional[float] = ..., minutes: _Optional[float] = ..., revives: _Optional[float] = ..., objectives: _Optional[float] = ...) -> None: ...

class WeaponTotals(_message.Message):
    __slots__ = ("weapon", "hits", "attempts", "kills", "headshots")
    WEAPON_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    KILLS_FIELD_NUMBER: _ClassVar[int]
    HEADSHOTS_FIELD_NUMBER: _ClassVar[int]
    weapon: int
    hits: int
    attempts: int
    kills: int
    headshots: int
    def __init__(self, weapon: _Optional[int] = ..., hits: _Optional[int] = ..., attempts: _Optional[int] = ..., kills: _Optional[int] = ..., headshots: _Optional[int] = ...) -> None: ...

class PlayerRound(_message.Message):
    __slots__ = ("round_id", "stamp", "source", "map", "round", "totals")
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    STAMP_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    MAP_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    round_id: int
    stamp: str
    source: str
    map: str
    round: int
    totals: Totals
    def __init__(self, round_id: _Optional[int] = ..., stamp: _Optional[str] = ..., source: _Optional[str] = ..., map: _Optional[str] = ..., round: _Optional[int] = ..., totals: _Optional[_Union[Totals, _Mapping]] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = ("player", "period")
    PLAYER_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    player: PlayerQuery
    period: str
    def __init__(self, player: _Optional[_Union[PlayerQuery, _Mapping]] = ..., period: _Optional[str] = ...) -> None: ...

class StatsReply(_message.Message):
    __slots__ = ("choice", "player", "period", "totals", "weapons", "recent")
    CHOICE_FIELD_NUMBER: _ClassVar[int]
    PLAYER_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    WEAPONS_FIELD_NUMBER: _ClassVar[int]
    RECENT_FIELD_NUMBER: _ClassVar[int]
    choice: PlayerChoice
    player: Player
    period: str
    totals: Totals
    weapons: _containers.RepeatedCompositeFieldContainer[WeaponTotals]
    recent: _containers.RepeatedCompositeFieldContainer[PlayerRound]
    def __init__(self, choice: _Optional[_Union[PlayerChoice, _Mapping]] = ..., player: _Optional[_Union[Player, _Mapping]] = ..., period: _Optional[str] = ..., totals: _Optional[_Union[Totals, _Mapping]] = ..., weapons: _Optional[_Iterable[_Union[WeaponTotals, _Mapping]]] = ..., recent: _Optional[_Iterable[_Union[PlayerRound, _Mapping]]] = ...) -> None: ...

class TopRequest(_message.Message):
    __slots__ = ("metric", "period", "offset", "limit", "min_rounds")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MIN_ROUNDS_FIELD_NUMBER: _ClassVar[int]
    metric: str
    period: str
    offset: int
    limit: int
    min_rounds: int
    def __init__(self, metric: _Optional[str] = ..., period: _Optional[str] = ..., offset: _Optional[int] = ..., limit: _Optional[int] = ..., min_rounds: _Optional[int] = ...) -> None: ...

class TopEntry(_message.Message):
    __slots__ = ("rank", "player", "value", "totals")
    RANK_FIELD_NUMBER: _ClassVar[int]
    PLAYER_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    rank: int
    player: Player
    value: float
    totals: Totals
    def __init__(self, rank: _Optional[int] = ..., player: _Optional[_Union[Player, _Mapping]] = ..., value: _Optional[float] = ..., totals: _Optional[_Union[Totals, _Mapping]] = ...) -> None: ...

class TopReply(_message.Message):
    __slots__ = ("metric", "period", "min_rounds", "total", "offset", "entries")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    MIN_ROUNDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    metric: str
    period: str
    min_rounds: int
    total: int
    offset: int
    entries: _containers.RepeatedCompositeFieldContainer[TopEntry]
    def __init__(self, metric: _Optional[str] = ..., period: _Optional[str] = ..., min_rounds: _Optional[int] = ..., total: _Optional[int] = ..., offset: _Optional[int] = ..., entries: _Optional[_Iterable[_Union[TopEntry, _Mapping]]] = ...) -> None: ...

class LinkRequest(_message.Message):
    __slots__ = ("discord_id", "player", "linked_by", "admin")
    DISCORD_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYER_FIELD_NUMBER: _ClassVar[int]
    LINKED_BY_FIELD_NUMBER: _ClassVar[int]
    ADMIN_FIELD_NUMBER: _ClassVar[int]
    discord_id: str
    player: PlayerQuery
    linked_by: str
    admin: bool
    def __init__(self, discord_id: _Optional[str] = ..., player: _Optional[_Union[PlayerQuery, _Mapping]] = ..., linked_by: _Optional[str] = ..., admin: _Optional[bool] = ...) -> None: ...

class LinkReply(_message.Message):
    __slots__ = ("choice", "player", "replaced_discord_id")
    CHOICE_FIELD_NUMBER: _ClassVar[int]
    PLAYER_FIELD_NUMBER: _ClassVar[int]
    REPLACED_DISCORD_ID_FIELD_NUMBER: _ClassVar[int]
    choice: PlayerChoice
    player: Player
    replaced_discord_id: str
    def __init__(self, choice: _Optional[_Union[PlayerChoice, _Mapping]] = ..., player: _Optional[_Union[Player, _Mapping]] = ..., replaced_discord_id: _Optional[str] = ...) -> None: ...

class UnlinkRequest(_message.Message):
    __slots__ = ("discord_id",)
    DISCORD_ID_FIELD_NUMBER: _ClassVar[int]
    discord_id: str
    def __init__(self, discord_id: _Optional[str] = ...) -> None: ...

class UnlinkReply(_message.Message):
    __slots__ = ("player",)
    PLAYER_FIELD_NUMBER: _ClassVar[int]
    player: Player
    def __init__(self, player: _Optional[_Union[Player, _Mapping]] = ...) -> None: ...

class SessionRound(_message.Message):
    __slots__ = ("round_id", "stamp", "map", "round", "playtime_ms", "time_limit_s", "defender_team", "winner_team", "flags")
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    STAMP_FIELD_NUMBER: _ClassVar[int]
    MAP_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    PLAYTIME_MS_FIELD_NUMBER: _ClassVar[int]
    TIME_LIMIT_S_FIELD_NUMBER: _ClassVar[int]
    DEFENDER_TEAM_FIELD_NUMBER: _ClassVar[int]
    WINNER_TEAM_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    round_id: int
    stamp: str
    map: str
    round: int
    playtime_ms: int
    time_limit_s: int
    defender_team: int
    winner_team: int
    flags: _rounds_pb2.RoundFlags
    def __init__(self, round_id: _Optional[int] = ..., stamp: _Optional[str] = ..., map: _Optional[str] = ..., round: _Optional[int] = ..., playtime_ms: _Optional[int] = ..., time_limit_s: _Optional[int] = ..., defender_team: _Optional[int] = ..., winner_team: _Optional[int] = ..., flags: _Optional[_Union[_rounds_pb2.RoundFlags, _Mapping]] = ...) -> None: ...

class SessionMap(_message.Message):
    __slots__ = ("map", "r1_round_id", "r2_round_id", "result", "winner", "score")
    MAP_FIELD_NUMBER: _ClassVar[int]
    R1_ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    R2_ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    WINNER_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    map: str
    r1_round_id: int
    r2_round_id: int
    result: _rounds_pb2.MapResult
    winner: int
    score: int
    def __init__(self, map: _Optional[str] = ..., r1_round_id: _Optional[int] = ..., r2_round_id: _Optional[int] = ..., result: _Optional[_Union[_rounds_pb2.MapResult, _Mapping]] = ..., winner: _Optional[int] = ..., score: _Optional[int] = ...) -> None: ...

class SessionScore(_message.Message):
    __slots__ = ("team_a", "team_b", "wins_a", "wins_b", "draws", "maps")
    TEAM_A_FIELD_NUMBER: _ClassVar[int]
    TEAM_B_FIELD_NUMBER: _ClassVar[int]
    WINS_A_FIELD_NUMBER: _ClassVar[int]
    WINS_B_FIELD_NUMBER: _ClassVar[int]
    DRAWS_FIELD_NUMBER: _ClassVar[int]
    MAPS_FIELD_NUMBER: _ClassVar[int]
    team_a: _containers.RepeatedScalarFieldContainer[str]
    team_b: _containers.RepeatedScalarFieldContainer[str]
    wins_a: int
    wins_b: int
    draws: int
    maps: int
    def __init__(self, team_a: _Optional[_Iterable[str]] = ..., team_b: _Optional[_Iterable[str]] = ..., wins_a: _Optional[int] = ..., wins_b: _Optional[int] = ..., draws: _Optional[int] = ..., maps: _Optional[int] = ...) -> None: ...

class SessionPlayer(_message.Message):
    __slots__ = ("player", "totals")
    PLAYER_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    player: Player
    totals: Totals
    def __init__(self, player: _Optional[_Union[Player, _Mapping]] = ..., totals: _Optional[_Union[Totals, _Mapping]] = ...) -> None: ...

class SessionSummary(_message.Message):
    __slots__ = ("source", "first_round_id", "first_stamp", "last_stamp", "gap_s", "rounds", "maps", "scores", "players")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FIRST_ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_STAMP_FIELD_NUMBER: _ClassVar[int]
    LAST_STAMP_FIELD_NUMBER: _ClassVar[int]
    GAP_S_FIELD_NUMBER: _ClassVar[int]
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    MAPS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    PLAYERS_FIELD_NUMBER: _ClassVar[int]
    source: str
    first_round_id: int
    first_stamp: str
    last_stamp: str
    gap_s: int
    rounds: _containers.RepeatedCompositeFieldContainer[SessionRound]
    maps: _containers.RepeatedCompositeFieldContainer[SessionMap]
    scores: _containers.RepeatedCompositeFieldContainer[SessionScore]
    players: _containers.RepeatedCompositeFieldContainer[SessionPlayer]
    def __init__(self, source: _Optional[str] = ..., first_round_id: _Optional[int] = ..., first_stamp: _Optional[str] = ..., last_stamp: _Optional[str] = ..., gap_s: _Optional[int] = ..., rounds: _Optional[_Iterable[_Union[SessionRound, _Mapping]]] = ..., maps: _Optional[_Iterable[_Union[SessionMap, _Mapping]]] = ..., scores: _Optional[_Iterable[_Union[SessionScore, _Mapping]]] = ..., players: _Optional[_Iterable[_Union[SessionPlayer, _Mapping]]] = ...) -> None: ...

class SessionRequest(_message.Message):
    __slots__ = ("source", "day", "round_id")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    source: str
    day: str
    round_id: int
    def __init__(self, source: _Optional[str] = ..., day: _Optional[str] = ..., round_id: _Optional[int] = ...) -> None: ...

class SessionReply(_message.Message):
    __slots__ = ("day", "sessions")
    DAY_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    day: str
    sessions: _containers.RepeatedCompositeFieldContainer[SessionSummary]
    def __init__(self, day: _Optional[str] = ..., sessions: _Optional[_Iterable[_Union[SessionSummary, _Mapping]]] = ...) -> None: ...

class SessionEnd(_message.Message):
    __slots__ = ("source", "round_id", "posted_at_ms", "stamp")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    POSTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    STAMP_FIELD_NUMBER: _ClassVar[int]
    source: str
    round_id: int
    posted_at_ms: int
    stamp: str
    def __init__(self, source: _Optional[str] = ..., round_id: _Optional[int] = ..., posted_at_ms: _Optional[int] = ..., stamp: _Optional[str] = ...) -> None: ...
