"""Bytes and a file name in, a parsed round or a precise error out."""

from __future__ import annotations

import hashlib
import math
import re

from etstats.statsfile.model import (
    DECIMAL_VALUES,
    VALUE_COUNTS,
    WEAPON_NAMES,
    Header,
    ParsedFile,
    Player,
    Weapon,
)
from etstats.statsfile.names import FileKind, classify_name

MAX_FILE_BYTES = 1_000_000
SHORT_ROUND_S = 30
# Field 9 at or below this is seconds (legacy scripts), above it milliseconds.
SECONDS_LIMIT = 10_000

_COLOUR = re.compile(r"\^.", re.DOTALL)
_INT = re.compile(r"-?\d+")


class ParseError(ValueError):
    """Why a file is not a valid round; the message names line and field."""

    def __init__(self, message: str, code: str = "malformed") -> None:
        super().__init__(message)
        self.code = code


def clean_name(name: str) -> str:
    """The name without colour codes (`^` followed by any one character)."""
    return _COLOUR.sub("", name)


def parse(body: bytes, filename: str) -> ParsedFile:
    """Parse one stats file. Raises ParseError, never anything else."""
    name = classify_name(filename)
    if name.kind is not FileKind.STATS:
        raise ParseError(f"file name {filename!r} is not a round stats file name", "bad_name")
    if len(body) > MAX_FILE_BYTES:
        raise ParseError(
            f"file is {len(body)} bytes, over the {MAX_FILE_BYTES} byte cap", "too_big"
        )
    text = body.decode("utf-8", errors="replace")
    lines = text.split("\n")
    header = _parse_header(lines[0].rstrip("\r"))
    if header.map != name.map:
        raise ParseError(
            f"line 1, field 2: map {header.map!r} differs from file name map {name.map!r}", "header"
        )
    if header.round != name.round:
        raise ParseError(
            f"line 1, field 4: round {header.round} differs from file name round {name.round}",
            "header",
        )
    players: list[Player] = []
    payload: list[str] = []
    for number, raw in enumerate(lines[1:], start=2):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        players.append(_parse_player(line, number))
        payload.append(line)
    if not players:
        raise ParseError("no player lines after the header", "no_players")
    flags: set[str] = set()
    if header.playtime_ms is not None:
        if header.playtime_ms <= 0:
            flags.add("partial")
        elif header.playtime_ms < SHORT_ROUND_S * 1000:
            flags.add("short")
    bots = sum(1 for p in players if p.bot)
    if bots * 2 > len(players):
        flags.add("bot")
    digest = hashlib.sha256("\n".join(payload).encode("utf-8", "surrogatepass")).hexdigest()
    return ParsedFile(name, header, tuple(players), digest, frozenset(flags))


def _parse_header(line: str) -> Header:
    fields = line.split("\\")
    if len(fields) not in (8, 9):
        raise ParseError(f"line 1: header has {len(fields)} fields, expected 8 or 9", "header")
    server, map_name, config = fields[0], fields[1], fields[2]
    round_no = _header_int(fields, 3, "round")
    if round_no not in (1, 2):
        raise ParseError(f"line 1, field 4 'round': {round_no} is not 1 or 2", "header")
    defender = _header_int(fields, 4, "defender team")
    winner = _header_int(fields, 5, "winner team")
    playtime_ms: int | None = None
    if len(fields) == 9:
        playtime_ms = _playtime_ms(fields[8])
    return Header(
        server_name=server,
        map=map_name,
        config=config,
        round=round_no,
        defender_team=defender,
        winner_team=winner,
        time_limit_s=_clock(fields, 6, "time limit"),
        next_time_limit_s=_clock(fields, 7, "next time limit"),
        playtime_ms=playtime_ms,
        fields=len(fields),
        teams_low_confidence=winner == 0 or defender not in (1, 2),
    )


def _playtime_ms(text: str) -> int:
    """Field 9: <= 0 (shutdown path) is kept as is; small values are seconds."""
    try:
        value = float(text)
    except ValueError:
        raise ParseError(f"line 1, field 9 'playtime' {text!r}: not a number", "header") from None
    if not math.isfinite(value):
        return 0
    if value <= 0:
        return int(value)
    return int(value * 1000) if value <= SECONDS_LIMIT else int(value)


def _header_int(fields: list[str], index: int, label: str) -> int:
    text = fields[index].strip()
    if not _INT.fullmatch(text):
        raise ParseError(
            f"line 1, field {index + 1} '{label}' {text!r}: not a whole number", "header"
        )
    return int(text)


def _clock(fields: list[str], index: int, label: str) -> int:
    minutes, sep, seconds = fields[index].strip().partition(":")
    if not sep or not minutes.isdigit() or not seconds.isdigit():
        raise ParseError(
            f"line 1, field {index + 1} '{label}' {fields[index]!r}: not M:SS", "header"
        )
    return int(minutes) * 60 + int(seconds)


def _parse_player(line: str, number: int) -> Player:
    weapon_part, tab, value_part = line.partition("\t")
    if not tab:
        raise ParseError(f"line {number}: no tab before the extended values", "player")
    head = weapon_part.rsplit("\\", 3)
    if len(head) != 4 or "\\" not in head[0]:
        raise ParseError(f"line {number}: expected guid\\name\\rounds\\team\\weapons", "player")
    guid, name = head[0].split("\\", 1)
    rounds = _int(head[1], number, "rounds")
    team = _int(head[2], number, "team")
    if team not in (0, 1, 2, 3):
        raise ParseError(f"line {number}, field 'team' {head[2]!r}: not 0-3", "player")
    weapons = _parse_weapons(head[3].split(), number)
    values = _parse_values(value_part.split("\t"), number)
    clean = clean_name(name)
    return Player(
        guid=guid,
        name=name,
        clean_name=clean,
        rounds=rounds,
        team=team,
        bot=guid.upper().startswith("OMNIBOT") or clean.startswith("[BOT]"),
        weapons=weapons,
        values=values,
        kills=sum(w.kills for w in weapons),
        deaths=sum(w.deaths for w in weapons),
        headshots=sum(w.headshots for w in weapons),
    )


def _parse_weapons(tokens: list[str], number: int) -> tuple[Weapon, ...]:
    if not tokens:
        raise ParseError(f"line {number}, field 'mask': missing", "player")
    mask = _int(tokens[0], number, "mask")
    if mask >= 1 << len(WEAPON_NAMES):
        raise ParseError(f"line {number}, field 'mask' {mask}: names unknown weapons", "player")
    wanted = [j for j in range(len(WEAPON_NAMES)) if mask >> j & 1]
    if len(tokens) - 1 != 5 * len(wanted):
        raise ParseError(
            f"line {number}: mask {mask} names {len(wanted)} weapons, so "
            f"{5 * len(wanted)} numbers, but {len(tokens) - 1} follow",
            "player",
        )
    weapons = []
    for slot, weapon in enumerate(wanted):
        base = 1 + 5 * slot
        label = f"WS_{WEAPON_NAMES[weapon]}"
        nums = [_int(tokens[base + k], number, label) for k in range(5)]
        weapons.append(Weapon(weapon, *nums))
    return tuple(weapons)


def _parse_values(texts: list[str], number: int) -> tuple[float | int, ...]:
    if texts and texts[-1] == "":
        texts = texts[:-1]
    if len(texts) not in VALUE_COUNTS:
        raise ParseError(
            f"line {number}: {len(texts)} extended values, expected 36 or 38", "player"
        )
    values: list[float | int] = []
    for index, text in enumerate(texts):
        text = text.strip()
        if index in DECIMAL_VALUES:
            try:
                value = float(text)
            except ValueError:
                raise ParseError(
                    f"line {number}, value {index} {text!r}: not a number", "player"
                ) from None
            if not math.isfinite(value) or value < 0:
                raise ParseError(
                    f"line {number}, value {index} {text!r}: not a finite non-negative number",
                    "player",
                )
            values.append(value)
        else:
            values.append(_int(text, number, f"value {index}"))
    return tuple(values)


def _int(text: str, number: int, label: str) -> int:
    if not text.isdigit() or not text.isascii():
        if _INT.fullmatch(text):
            raise ParseError(f"line {number}, {label} {text!r}: negative", "player")
        raise ParseError(f"line {number}, {label} {text!r}: not a number", "player")
    return int(text)
