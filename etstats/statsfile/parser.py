"""Bytes and a file name in, a parsed round or a precise error out."""

from __future__ import annotations

import functools
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
from etstats.text import clip

MAX_FILE_BYTES = 1_000_000
SHORT_ROUND_S = 30
# Field 9 at or below this is seconds (legacy scripts), above it milliseconds.
SECONDS_LIMIT = 10_000
# What the bus and the database can hold (proto/etstats/contract/rounds.proto,
# services/storage/migrations): every count and time is an int32 / PostgreSQL
# integer, and match totals add two rounds, so one round may hold half of that.
MAX_COUNT = (2**31 - 1) // 2
SMALLINT_MAX = 2**15 - 1  # round, teams and a player's rounds are smallint columns
INT64_MAX = 2**63 - 1  # playtime_ms: int64 / bigint
QUOTE_CHARS = 200  # input quoted in an error message is cut to this
MAX_MESSAGE_CHARS = 1000

_COLOUR = re.compile(r"\^.", re.DOTALL)
_INT = re.compile(r"-?\d+", re.ASCII)


# Every ParseError code: one metric label each, at 0 before the first rejection.
CODES = ("malformed", "bad_name", "header", "no_players", "nul", "player")


class ParseError(ValueError):
    """Why a file is not a valid round; the message names line and field."""

    def __init__(self, message: str, code: str = "malformed") -> None:
        # Short whatever the input: messages are logged as one line and stored.
        super().__init__(clip(message, MAX_MESSAGE_CHARS))
        self.code = code


def _quote(text: str) -> str:
    """`text` quoted for an error message, cut when long (a header field can be 1 MB)."""
    if len(text) <= QUOTE_CHARS:
        return repr(text)
    return f"{text[:QUOTE_CHARS]!r}… ({len(text)} characters)"


def _digits(text: str) -> int:
    """Significant digits of a whole number: checked before int(), which refuses
    over 4300 digits with a ValueError and is slow long before that."""
    return len(text.lstrip("+-").lstrip("0"))


def clean_name(name: str) -> str:
    """The name without colour codes (`^` followed by any one character)."""
    return _COLOUR.sub("", name)


def parse(body: bytes, filename: str) -> ParsedFile:
    """Parse one stats file. Raises ParseError, never anything else."""
    name = classify_name(filename)
    if name.kind is not FileKind.STATS:
        raise ParseError(f"file name {_quote(filename)} is not a round stats file name", "bad_name")
    if len(body) > MAX_FILE_BYTES:
        raise ParseError(
            f"file is {len(body)} bytes, over the {MAX_FILE_BYTES} byte cap", "too_big"
        )
    text = body.decode("utf-8", errors="replace")
    lines = text.split("\n")
    header = _parse_header(lines[0].rstrip("\r"))
    if header.map != name.map:
        raise ParseError(
            f"line 1, field 2: map {_quote(header.map)} differs from file name map {name.map!r}",
            "header",
        )
    if header.round != name.round:
        raise ParseError(
            f"line 1, field 4: round {header.round} differs from file name round {name.round}",
            "header",
        )
    players: list[Player] = []
    for number, raw in enumerate(lines[1:], start=2):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line or line.isspace():
            continue
        players.append(_parse_player(line, number))
    if not players:
        raise ParseError("no player lines after the header", "no_players")
    flags: set[str] = set()
    if header.shutdown_path:
        flags.add("partial")
    elif header.playtime_ms is not None and header.playtime_ms < SHORT_ROUND_S * 1000:
        flags.add("short")
    bots = sum(1 for p in players if p.bot)
    if bots * 2 > len(players):
        flags.add("bot")
    return ParsedFile(name, header, tuple(players), payload_sha256(body), frozenset(flags))


def payload_sha256(body: bytes) -> str:
    """Hash of the player lines only: a re-upload under a new name (or with an
    edited header) hashes the same, so storage can call it a duplicate."""
    _, _, players = body.partition(b"\n")
    if b"\r" in players:
        players = players.replace(b"\r\n", b"\n")
    return hashlib.sha256(players.strip(b"\n")).hexdigest()


def _parse_header(line: str) -> Header:
    fields = line.split("\\")
    if len(fields) not in (8, 9):
        raise ParseError(f"line 1: header has {len(fields)} fields, expected 8 or 9", "header")
    server, map_name, config = fields[0], fields[1], fields[2]
    _no_nul(server, "line 1, field 1 'server name'")
    _no_nul(config, "line 1, field 3 'config'")
    round_no = _header_int(fields, 3, "round")
    if round_no not in (1, 2):
        raise ParseError(f"line 1, field 4 'round': {round_no} is not 1 or 2", "header")
    # The script writes an empty team as 1 (it adds 1 to an empty value), so
    # the sides are only trusted when a winner was recorded.
    defender = _header_int(fields, 4, "defender team", empty=0)
    winner = _header_int(fields, 5, "winner team", empty=0)
    playtime_ms, shutdown = _playtime(fields[8]) if len(fields) == 9 else (None, False)
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
        teams_low_confidence=winner not in (1, 2) or defender not in (1, 2),
        shutdown_path=shutdown,
    )


def _playtime(text: str) -> tuple[int | None, bool]:
    """Field 9 as (milliseconds or None when unknown, written on the shutdown path).

    Not a positive finite number means unknown; <= 0 is the shutdown path;
    legacy scripts wrote seconds, and no real round lasts over 10000 s.
    """
    try:
        value = float(text)
    except ValueError:
        return None, False
    if not math.isfinite(value):
        return None, False
    if value <= 0:
        return None, True
    ms = round(value * 1000) if value <= SECONDS_LIMIT else round(value)
    if ms > INT64_MAX:
        raise ParseError(
            f"line 1, field 9 'playtime' {_quote(text)}: over {INT64_MAX} ms", "header"
        )
    return ms, False


def _header_int(fields: list[str], index: int, label: str, empty: int | None = None) -> int:
    text = fields[index].strip()
    if not text and empty is not None:
        return empty
    if not _INT.fullmatch(text):
        raise ParseError(
            f"line 1, field {index + 1} '{label}' {_quote(text)}: not a whole number", "header"
        )
    if _digits(text) > 5 or abs(value := int(text)) > SMALLINT_MAX:
        raise ParseError(
            f"line 1, field {index + 1} '{label}' {_quote(text)}: "
            f"outside -{SMALLINT_MAX}..{SMALLINT_MAX}",
            "header",
        )
    return value


def _clock(fields: list[str], index: int, label: str) -> int:
    minutes, sep, seconds = fields[index].strip().partition(":")
    if not (
        sep
        and minutes.isascii()
        and minutes.isdigit()
        and seconds.isascii()
        and seconds.isdigit()
        and len(seconds) == 2
        and int(seconds) < 60
    ):
        raise ParseError(
            f"line 1, field {index + 1} '{label}' {_quote(fields[index])}: not M:SS", "header"
        )
    if _digits(minutes) > 8 or (total := int(minutes) * 60 + int(seconds)) > MAX_COUNT:
        raise ParseError(
            f"line 1, field {index + 1} '{label}' {_quote(fields[index])}: "
            f"over {MAX_COUNT} seconds",
            "header",
        )
    return total


def _value_pattern(count: int) -> re.Pattern[str]:
    """The canonical layout of `count` extended values: the fast path's check.
    At most 9 digits before the point: always within MAX_COUNT."""
    parts = [r"\d{1,9}\.\d+" if i in DECIMAL_VALUES else r"\d{1,9}" for i in range(count)]
    return re.compile("\t".join(parts) + r"\t?[ \r]*", re.ASCII)


def _value_runs(count: int) -> list[tuple[int, int, type]]:
    """Runs of consecutive same-typed values, converted with one map() each."""
    runs: list[tuple[int, int, type]] = []
    for i in range(count):
        kind = float if i in DECIMAL_VALUES else int
        if runs and runs[-1][2] is kind:
            runs[-1] = (runs[-1][0], i + 1, kind)
        else:
            runs.append((i, i + 1, kind))
    return runs


_FAST_VALUES = {n: (_value_pattern(n), _value_runs(n)) for n in VALUE_COUNTS}
# At most 9 digits a number: the fast path needs no range check (MAX_COUNT).
_WEAPON_PART = re.compile(r"\d{1,9}(?: \d{1,9})* ?", re.ASCII)


_new_weapon = functools.partial(tuple.__new__, Weapon)


@functools.lru_cache(maxsize=4096)
def _weapon_numbers(mask: int) -> tuple[int, ...]:
    """The weapons a mask names, in ascending order (masks repeat a lot)."""
    return tuple(j for j in range(len(WEAPON_NAMES)) if mask >> j & 1)


def _parse_player(line: str, number: int) -> Player:
    weapon_part, tab, value_part = line.partition("\t")
    if not tab:
        raise ParseError(f"line {number}: no tab before the extended values", "player")
    head = weapon_part.rsplit("\\", 3)
    if len(head) != 4 or "\\" not in head[0]:
        raise ParseError(f"line {number}: expected guid\\name\\rounds\\team\\weapons", "player")
    guid, name = head[0].split("\\", 1)
    if not guid:
        raise ParseError(f"line {number}, field 'guid': empty", "player")
    if "\x00" in guid or "\x00" in name:  # inline: this runs once per player line
        _no_nul(guid, f"line {number}, field 'guid'")
        _no_nul(name, f"line {number}, field 'name'")
    rounds = _int(head[1], number, "rounds", SMALLINT_MAX)
    team = _int(head[2], number, "team")
    if team > 3:
        raise ParseError(f"line {number}, field 'team' {_quote(head[2])}: not 0-3", "player")
    weapons, kills, deaths, headshots = _parse_weapons(head[3], number)
    values = _parse_values(value_part, number)
    clean = _COLOUR.sub("", name) if "^" in name else name
    bot = guid.upper().startswith("OMNIBOT") or clean.startswith("[BOT]")
    # Positional: this runs once per player line and keywords cost time.
    return Player(guid, name, clean, rounds, team, bot, weapons, values, kills, deaths, headshots)


def _parse_weapons(part: str, number: int) -> tuple[tuple[Weapon, ...], int, int, int]:
    if _WEAPON_PART.fullmatch(part):
        nums = list(map(int, part.split()))
    else:
        nums = [_int(t, number, "weapon stats") for t in part.split()]
        if not nums:
            raise ParseError(f"line {number}, field 'mask': missing", "player")
    mask = nums[0]
    if mask >= 1 << len(WEAPON_NAMES):
        raise ParseError(f"line {number}, field 'mask' {mask}: names unknown weapons", "player")
    wanted = _weapon_numbers(mask)
    if len(nums) - 1 != 5 * len(wanted):
        raise ParseError(
            f"line {number}: mask {mask} names {len(wanted)} weapons, so "
            f"{5 * len(wanted)} numbers, but {len(nums) - 1} follow",
            "player",
        )
    kills, deaths, headshots = nums[3::5], nums[4::5], nums[5::5]
    # tuple.__new__ builds the NamedTuples without a Python-level call per weapon.
    columns = zip(wanted, nums[1::5], nums[2::5], kills, deaths, headshots, strict=True)
    weapons = tuple(map(_new_weapon, columns))
    totals = sum(kills), sum(deaths), sum(headshots)
    if totals[0] > MAX_COUNT or totals[1] > MAX_COUNT or totals[2] > MAX_COUNT:
        label = ("kills", "deaths", "headshots")[totals.index(max(totals))]
        raise ParseError(
            f"line {number}, field '{label}': weapon {label} add up to over {MAX_COUNT}", "player"
        )
    return weapons, *totals


def _parse_values(part: str, number: int) -> tuple[float | int, ...]:
    texts = part.split("\t")
    if texts and not texts[-1].strip():
        texts.pop()
    fast = _FAST_VALUES.get(len(texts))
    if fast is not None and fast[0].fullmatch(part):
        values: list[float | int] = []
        for start, stop, kind in fast[1]:
            values.extend(map(kind, texts[start:stop]))
        return tuple(values)
    if fast is None:
        raise ParseError(
            f"line {number}: {len(texts)} extended values, expected 36 or 38", "player"
        )
    return tuple(_slow_value(index, text.strip(), number) for index, text in enumerate(texts))


def _slow_value(index: int, text: str, number: int) -> float | int:
    """Non-canonical values: accepted when sound, else a precise error."""
    if index not in DECIMAL_VALUES:
        return _int(text, number, f"value {index}")
    try:
        value = float(text)
    except ValueError:
        raise ParseError(
            f"line {number}, value {index} {_quote(text)}: not a number", "player"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise ParseError(
            f"line {number}, value {index} {_quote(text)}: not a finite non-negative number",
            "player",
        )
    if value > MAX_COUNT:
        raise ParseError(f"line {number}, value {index} {_quote(text)}: over {MAX_COUNT}", "player")
    return value


def _int(text: str, number: int, label: str, maximum: int = MAX_COUNT) -> int:
    if not text.isascii() or not text.isdigit():
        if _INT.fullmatch(text):
            raise ParseError(f"line {number}, {label} {_quote(text)}: negative", "player")
        raise ParseError(f"line {number}, {label} {_quote(text)}: not a number", "player")
    if _digits(text) > len(str(maximum)) or (value := int(text)) > maximum:
        raise ParseError(f"line {number}, {label} {_quote(text)}: over {maximum}", "player")
    return value


def _no_nul(text: str, where: str) -> None:
    """PostgreSQL text cannot hold NUL: such a name could never be stored."""
    if "\x00" in text:
        raise ParseError(f"{where}: contains a NUL character", "nul")
