"""Property tests: writer -> parser round trip and the differential, on generated rounds."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etstats.statsfile import ParseError, parse
from etstats.statsfile.differential import differential
from etstats.statsfile.generator import generate_match
from etstats.statsfile.writer import write

pytestmark = pytest.mark.unit

matches = st.builds(
    lambda seed, players, bots, fields, churn, minutes: generate_match(
        random.Random(seed),
        datetime(2026, 1, 1) + timedelta(minutes=minutes),
        players=players,
        bots=min(bots, players),
        header_fields=fields,
        churn=churn,
    ),
    seed=st.integers(0, 2**32),
    players=st.integers(2, 64),
    bots=st.integers(0, 8),
    fields=st.sampled_from([8, 9]),
    churn=st.booleans(),
    minutes=st.integers(0, 60 * 24 * 365),
)


def _nonzero(weapons):
    return tuple(w for w in weapons if any(w[1:]))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(matches)
def test_round_trip_and_differential(match) -> None:
    r1, r2 = match
    parsed = []
    for generated in (r1, r2):
        result = parse(generated.body, generated.filename)
        assert result.header == generated.header
        assert result.players == generated.players
        assert write(result.header, result.players) == generated.body
        bots = sum(p.bot for p in result.players)
        assert ("bot" in result.flags) == (bots * 2 > len(result.players))
        parsed.append(result)
    truth = {(p.guid, p.clean_name): p for p in r2.round_players}
    rows = differential(*parsed)
    assert len(rows) == len(truth)
    for row in rows:
        expected = truth[(row.player.guid, row.player.clean_name)]
        assert row.player.values == expected.values
        assert _nonzero(row.player.weapons) == _nonzero(expected.weapons)
        assert (row.player.kills, row.player.deaths, row.player.headshots) == (
            expected.kills,
            expected.deaths,
            expected.headshots,
        )


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_give_a_result_or_a_parse_error(body: bytes) -> None:
    try:
        parse(body, "2026-11-24-201443-supply-round-1.txt")
    except ParseError as exc:
        assert str(exc)


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 2**32), st.data())
def test_mutated_files_give_a_result_or_a_parse_error(seed: int, data: st.DataObject) -> None:
    r1, _ = generate_match(random.Random(seed), datetime(2026, 11, 24), players=4)
    body = bytearray(r1.body)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(body) - 1))
        body[at] = data.draw(st.sampled_from(b"\\\t\n\r -.0123456789a^\xff\x00"))
    try:
        parse(bytes(body), r1.filename)
    except ParseError as exc:
        assert str(exc)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.binary(max_size=200))
def test_any_file_name_gives_a_result_or_a_parse_error(name: str, body: bytes) -> None:
    try:
        parse(body, name)
    except ParseError as exc:
        assert str(exc)
