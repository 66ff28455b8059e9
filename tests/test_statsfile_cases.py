"""Hand-written files, one per edge case of the stats format spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from etstats.statsfile import ParsedFile, ParseError, parse
from etstats.statsfile.differential import Basis, differential
from etstats.statsfile.pairing import pair_files
from etstats.statsfile.stopwatch import Outcome, map_result

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data" / "statsfiles"


def load(kind: str, name: str):
    path = DATA / kind / name
    return parse(path.read_bytes(), path.name)


def test_nine_field_header_in_milliseconds() -> None:
    parsed = load("good", "2026-11-24-201443-etl_adlernest-round-1.txt")
    h = parsed.header
    assert (h.fields, h.playtime_ms, h.round, h.defender_team, h.winner_team) == (
        9,
        450000,
        1,
        1,
        2,
    )
    assert (h.time_limit_s, h.next_time_limit_s) == (600, 450)
    assert h.server_name == "^1ETL ^7Cup" and h.config == "legacy6"
    assert not h.teams_low_confidence
    assert parsed.flags == frozenset()


def test_eight_field_header_has_unknown_playtime() -> None:
    parsed = load("good", "2026-11-24-201000-supply-round-1.txt")
    assert (parsed.header.fields, parsed.header.playtime_ms) == (8, None)
    assert "short" not in parsed.flags and "partial" not in parsed.flags


def test_small_field_nine_is_seconds() -> None:
    assert load("good", "2026-11-24-201000-te_escape2-round-1.txt").header.playtime_ms == 450000


def test_shutdown_path_is_partial_even_when_labelled_round_two() -> None:
    parsed = load("good", "2026-11-24-201000-braundorf_b4-round-2.txt")
    assert parsed.header.shutdown_path
    assert "partial" in parsed.flags
    assert parsed.header.playtime_ms is None


def test_non_numeric_field_nine_means_unknown_and_odd_map_names() -> None:
    parsed = load("good", "2026-11-24-201000-map.v2+te-x-round-1.txt")
    assert parsed.header.map == "map.v2+te-x"
    assert parsed.header.playtime_ms is None
    assert "partial" not in parsed.flags


def test_no_winner_is_low_confidence_and_short_round() -> None:
    parsed = load("good", "2026-11-24-201000-sw_goldrush_te-round-1.txt")
    assert parsed.header.winner_team == 0
    assert parsed.header.teams_low_confidence
    assert parsed.header.config == ""
    assert "short" in parsed.flags


def test_empty_teams_are_low_confidence() -> None:
    parsed = load("good", "2026-11-24-201000-frostbite-round-1.txt")
    assert (parsed.header.defender_team, parsed.header.winner_team) == (0, 0)
    assert parsed.header.teams_low_confidence


def test_legacy_lineage_has_36_values() -> None:
    (player,) = load("good", "2026-11-24-201000-legacy36-round-1.txt").players
    assert len(player.values) == 36
    assert player.value("repairs_constructions") is None
    assert player.value("damage_given") == 1200


def test_values_have_the_right_types_and_sums_come_from_weapons() -> None:
    parsed = load("good", "2026-11-24-201443-etl_adlernest-round-1.txt")
    blue = next(p for p in parsed.players if p.clean_name == "blue")
    assert [type(v) for v in blue.values[7:10]] == [int, float, int]
    assert isinstance(blue.value("dpm"), float)
    # mask 48 = MP40 (4) and THOMPSON (5)
    assert [w.name for w in blue.weapons] == ["WS_MP40", "WS_THOMPSON"]
    assert (blue.kills, blue.deaths, blue.headshots) == (3, 2, 3)


def test_bots_share_a_guid_and_make_a_bot_round() -> None:
    parsed = load("good", "2026-11-24-201000-bots-round-1.txt")
    bots = [p for p in parsed.players if p.bot]
    assert len(bots) == 3
    assert len({(p.guid, p.clean_name) for p in bots}) == 3
    assert {p.clean_name for p in bots} == {"[BOT]Sly", "[BOT]Rex", "[BOT]Dex"}
    assert "bot" in parsed.flags


def test_colour_codes_and_odd_names() -> None:
    names = [p.clean_name for p in load("good", "2026-11-24-201000-names-round-1.txt").players]
    assert names == ["1abc d", "@everyone <@&123> `x` *y* _z_", "Žubr 名前"]


def test_crlf_and_trailing_blank_lines() -> None:
    parsed = load("good", "2026-11-24-201000-crlf-round-1.txt")
    assert len(parsed.players) == 2
    assert parsed.players[0].value("revives_given") == 2


def test_non_utf8_name_is_decoded_with_replacement() -> None:
    (player,) = load("good", "2026-11-24-201000-latin1-round-1.txt").players
    assert player.clean_name == "Caf\ufffd\ufffd"


def test_same_players_under_another_name_hash_the_same() -> None:
    a = load("good", "2026-11-24-201443-etl_adlernest-round-1.txt")
    b = load("good", "2026-11-24-211443-etl_adlernest-round-1.txt")
    assert a.header != b.header
    assert a.payload_sha256 == b.payload_sha256
    c = load("good", "2026-11-24-201000-supply-round-1.txt")
    assert c.payload_sha256 == a.payload_sha256  # same player lines, 8-field header
    assert load("good", "2026-11-24-201000-bots-round-1.txt").payload_sha256 != a.payload_sha256


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("headeronly", "no player lines after the header"),
        ("truncated", "line 3: 9 extended values, expected 36 or 38"),
        ("count", "line 3: 39 extended values, expected 36 or 38"),
        ("nonnum", "line 3, value 23 'abc': not a number"),
        ("nan", "line 2, value 21 'nan': not a finite non-negative number"),
        ("inf", "line 2, value 22 'inf': not a finite non-negative number"),
        ("negative", "line 2, value 0 '-5': negative"),
        ("negweapon", "line 2, weapon stats '-3': negative"),
        ("mask", "line 2: mask 48 names 2 weapons, so 10 numbers, but 5 follow"),
        ("header", "line 1: header has 3 fields, expected 8 or 9"),
        ("garbage", "line 1"),
    ],
)
def test_malformed_files_get_precise_errors(name: str, message: str) -> None:
    with pytest.raises(ParseError) as excinfo:
        load("bad", f"2026-11-24-201000-{name}-round-1.txt")
    assert str(excinfo.value).startswith(message)


def test_huge_file_is_refused_before_parsing() -> None:
    body = load_bytes = (DATA / "good" / "2026-11-24-201443-etl_adlernest-round-1.txt").read_bytes()
    body = load_bytes + b"x" * 10_000_000
    with pytest.raises(ParseError, match="over the 1000000 byte cap"):
        parse(body, "2026-11-24-201443-etl_adlernest-round-1.txt")


def _pairs() -> dict[str, ParsedFile]:
    return {p.name: parse(p.read_bytes(), p.name) for p in (DATA / "pairs").iterdir()}


def test_pairing_across_midnight_skips_partial_and_orphans() -> None:
    files = _pairs()
    r1 = files["2026-11-24-235500-etl_ice-round-1.txt"]
    r2 = files["2026-11-25-000900-etl_ice-round-2.txt"]
    partial = files["2026-11-24-235900-etl_ice-round-2.txt"]
    orphan = files["2026-11-25-120000-etl_ice-round-2.txt"]
    everything = [r1, partial, orphan, r2]
    assert pair_files(everything) == {3: r1}  # the partial and the orphan: unpaired
    assert map_result(r1.header, r2.header).outcome is Outcome.ROUND2_ATTACKERS  # 7:40 < 9:10


def test_joiner_leaver_and_reconnect() -> None:
    files = _pairs()
    rows = differential(
        files["2026-11-24-235500-etl_ice-round-1.txt"],
        files["2026-11-25-000900-etl_ice-round-2.txt"],
    )
    by_name = {row.player.clean_name: row for row in rows}
    assert set(by_name) == {"Joiner", "Stays", "Recon"}  # "Leaves" has no round-2 row
    assert by_name["Joiner"].basis is Basis.JOINED
    assert by_name["Recon"].basis is Basis.RESET
    assert by_name["Recon"].player.kills == 1
    stays = by_name["Stays"]
    assert stays.basis is Basis.DIFFERENCE
    assert (stays.player.kills, stays.player.deaths, stays.player.headshots) == (2, 1, 2)
    assert stays.player.weapons[0][1:] == (20, 80, 2, 1, 2)
    assert stays.player.value("damage_given") == 800
    assert stays.player.value("damage_received") == 600
    assert stays.player.value("bullets_fired") == 80
    assert stays.player.value("time_played_minutes") == 7.6
    assert stays.player.value("xp") == 25  # per-round field: the R2 value itself
    assert stays.player.value("revives_given") == 3
    assert stays.player.value("dpm") == round(800 / 7.6, 1)
    assert stays.player.value("time_dead_ratio") == round(1.5 / 7.6 * 100, 1)
    assert stays.player.value("kd_ratio") == 2.0
