"""File-name grammar and parser basics (the full format suite grows with the parser)."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from etstats.statsfile import FileKind, ParseError, classify_name, parse
from etstats.statsfile.generator import generate_match

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("name", "map_name", "round_no"),
    [
        ("2026-11-24-201443-supply-round-1.txt", "supply", 1),
        ("2026-11-24-201443-sw_goldrush_te-round-2.txt", "sw_goldrush_te", 2),
        ("2026-01-02-000001-te_escape2-round-1.txt", "te_escape2", 1),
        ("2026-01-02-000001-braundorf_b4-round-2.txt", "braundorf_b4", 2),
        ("2026-01-02-000001-map.with+odd-chars-round-1.txt", "map.with+odd-chars", 1),
        ("2026-01-02-000001-x-round-3-round-2.txt", "x-round-3", 2),
    ],
)
def test_stats_file_names(name: str, map_name: str, round_no: int) -> None:
    parsed = classify_name(name)
    assert parsed.kind is FileKind.STATS
    assert (parsed.map, parsed.round) == (map_name, round_no)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("2026-11-24-201443-supply-round-1_ws.txt", FileKind.SIDECAR),
        ("2026-11-24-201443-supply-round-2-endstats.txt", FileKind.SIDECAR),
        ("2026-11-24-201443-supply-round-3.txt", FileKind.OTHER),
        ("2026-13-24-201443-supply-round-1.txt", FileKind.OTHER),
        ("notes.txt", FileKind.OTHER),
        ("../2026-11-24-201443-supply-round-1.txt", FileKind.HOSTILE),
        ("2026-11-24-201443-sup/ply-round-1.txt", FileKind.HOSTILE),
        ("2026-11-24-201443-sup\nply-round-1.txt", FileKind.HOSTILE),
        ("2026-11-24-201443-" + "a" * 300 + "-round-1.txt", FileKind.HOSTILE),
        ("", FileKind.HOSTILE),
    ],
)
def test_other_names(name: str, kind: FileKind) -> None:
    assert classify_name(name).kind is kind


def test_generated_round_parses_back() -> None:
    r1, r2 = generate_match(random.Random(7), datetime(2026, 11, 24, 20, 0), players=10)
    for generated in (r1, r2):
        parsed = parse(generated.body, generated.filename)
        assert parsed.header == generated.header
        by_guid = {p.guid: p for p in parsed.players}
        for player in generated.players:
            got = by_guid[player.guid]
            assert got.weapons == player.weapons
            assert got.values == pytest.approx(player.values)
            assert got.kills == player.kills


HEADER = "^1Srv\\supply\\cfg\\1\\1\\2\\10:00\\7:30\\450000"
PLAYER = "ABCDEF12\\^1Bob\\1\\1\\1 1 2 1 0 0 \t" + "\t".join(
    "0.0" if i in (8, 21, 22, 23, 24, 25, 26) else "0" for i in range(38)
)
NAME = "2026-11-24-201443-supply-round-1.txt"


def test_minimal_file_and_clean_name() -> None:
    parsed = parse(f"{HEADER}\r\n{PLAYER}\r\n".encode(), NAME)
    (player,) = parsed.players
    assert player.clean_name == "Bob"
    assert player.kills == 1
    assert parsed.header.playtime_ms == 450000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (HEADER + "\n", "no player lines"),
        ("a\\b\\c\n" + PLAYER, "line 1: header has 3 fields"),
        (
            HEADER + "\n" + PLAYER.replace("\t0\t", "\tabc\t", 1),
            "line 2, value 0 'abc': not a number",
        ),
        (
            HEADER + "\n" + PLAYER.rsplit("\t", 1)[0],
            "line 2: 37 extended values, expected 36 or 38",
        ),
        (HEADER + "\n" + PLAYER.replace("\t0.0", "\tnan", 1), "not a finite"),
        (HEADER.replace("10:00", "ten"), "field 7 'time limit'"),
    ],
)
def test_errors_name_line_and_field(body: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse(body.encode(), NAME)


def test_garbage_never_raises_anything_else() -> None:
    rng = random.Random(3)
    for _ in range(500):
        body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
        with pytest.raises(ParseError):
            parse(body, NAME)
