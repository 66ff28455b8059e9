"""Poison input: any bytes give a round the bus and the database can hold, or a
short ParseError naming the field, never another exception (which the consumer
would take for a transient failure and retry)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etstats.contract import common_pb2
from etstats.contract.rounds import parsed_round
from etstats.statsfile import ParsedFile, ParseError, parse

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data" / "statsfiles"
REAL = sorted((p.name, p.read_bytes()) for p in DATA.rglob("*.txt"))
GOOD = (DATA / "good" / "2026-11-24-201000-supply-round-1.txt").read_bytes()
SMALLINT_MAX = 2**15 - 1  # PostgreSQL smallint
GOOD_NAME = "2026-11-24-201000-supply-round-1.txt"
TOKEN = re.compile(rb"[^\\\t \n]+")
POISON_NUMBERS = [
    b"9" * 4301,  # over Python's int-string limit
    b"9" * 20_000,
    str(2**15).encode(),  # smallint
    str(2**31).encode(),  # int32
    str(2**32).encode(),  # uint32
    str(2**63).encode(),  # int64
    b"1" + b"0" * 400 + b".0",  # a float() that is inf
    b"1e308",
    b"00000000000000000000000000000000000001",
]


def storable(parsed: ParsedFile) -> None:
    """What protobuf does not check: smallint columns and PostgreSQL text."""
    h = parsed.header
    assert all(abs(n) <= SMALLINT_MAX for n in (h.round, h.defender_team, h.winner_team))
    assert "\x00" not in h.server_name + h.config
    for p in parsed.players:
        assert p.rounds <= SMALLINT_MAX and "\x00" not in p.guid + p.name


def check(body: bytes, filename: str) -> None:
    try:
        parsed = parse(body, filename)
    except ParseError as exc:
        assert 0 < len(str(exc)) <= 1000, len(str(exc))
        assert "\n" not in str(exc)
        return
    file = common_pb2.FileRef(source="main", filename=filename)
    parsed_round(parsed, file, len(body)).SerializeToString()
    storable(parsed)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, str]:
    name, body = draw(st.sampled_from(REAL))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(["number", "nul", "giant", "truncate", "junk", "encoding", "field"])
        )
        at = draw(st.integers(0, len(body)))
        if kind == "number" or kind == "field":
            tokens = list(TOKEN.finditer(body))
            if tokens:
                token = draw(st.sampled_from(tokens))
                new = draw(st.sampled_from(POISON_NUMBERS)) if kind == "number" else b"x" * 990_000
                body = body[: token.start()] + new + body[token.end() :]
        elif kind == "nul":
            body = body[:at] + b"\x00" + body[at:]
        elif kind == "giant":
            body = body[:at] + draw(st.sampled_from([b"1", b"\t", b"\\", b"a"])) * 1_000_001
        elif kind == "truncate":
            body = body[:at]
        elif kind == "junk":
            body = body[:at] + draw(st.binary(min_size=1, max_size=64)) + body[at:]
        else:
            codec = draw(st.sampled_from(["utf-16", "utf-32", "cp1252", "latin-1"]))
            body = body.decode("utf-8", "replace").encode(codec, "replace")
    return body, name


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated())
def test_mutated_real_files_give_a_storable_round_or_a_parse_error(case) -> None:
    check(*case)


def replace_token(line: int, index: int, new: bytes) -> bytes:
    """GOOD with token `index` (0-based, split on \\ tab and space) of `line` replaced."""
    lines = GOOD.split(b"\n")
    tokens = list(TOKEN.finditer(lines[line - 1]))
    t = tokens[index]
    lines[line - 1] = lines[line - 1][: t.start()] + new + lines[line - 1][t.end() :]
    return b"\n".join(lines)


BIG = b"9" * 5000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # header: round, teams, clocks, playtime
        (replace_token(1, 4, BIG), "line 1, field 4 'round' '9999"),
        (replace_token(1, 5, b"70000"), "line 1, field 5 'defender team' '70000': outside"),
        (replace_token(1, 6, BIG), "line 1, field 6 'winner team'"),
        (replace_token(1, 7, BIG + b":00"), "line 1, field 7 'time limit'"),
        (replace_token(1, 8, b"99999999:00"), "field 8 'next time limit' '99999999:00': over"),
        (GOOD.replace(b"7:30\n", b"7:30\\" + BIG + b"\n", 1), None),  # inf: "unknown"
        (GOOD.replace(b"7:30\n", b"7:30\\1e300\n", 1), "line 1, field 9 'playtime' '1e300'"),
        (GOOD.replace(b"ETL", b"ET\x00L", 1), "line 1, field 1 'server name': contains a NUL"),
        # player: names, rounds, weapon mask and numbers, values
        (GOOD.replace(b"Fire", b"Fi\x00re", 1), "line 2, field 'name': contains a NUL"),
        (replace_token(2, 0, b"AA\x00A"), "line 2, field 'guid': contains a NUL"),
        (replace_token(2, 2, b"40000"), "line 2, rounds '40000': over 32767"),
        (replace_token(2, 4, BIG), "line 2, weapon stats '9999"),
        (replace_token(2, 5, str(2**31).encode()), "line 2, weapon stats '2147483648': over"),
        (replace_token(2, 8, b"999999999"), None),  # one weapon within range: a round
        (replace_token(2, 10, BIG), "line 2, value 0 '9999"),
        (replace_token(2, 10, str(2**32).encode()), "line 2, value 0 '4294967296': over"),
        (replace_token(2, 18, b"1" + b"0" * 400 + b".0"), "line 2, value 8 '1000"),
    ],
)
def test_poison_values_are_parse_errors_naming_the_field(body: bytes, message: str | None) -> None:
    if message is None:
        check(body, GOOD_NAME)
        return
    with pytest.raises(ParseError) as error:
        parse(body, GOOD_NAME)
    assert message in str(error.value)
    assert len(str(error.value)) < 400


def test_weapon_kills_adding_up_past_the_limit_are_a_parse_error() -> None:
    line = b"AAAA1111\\x\\1\\1\\3 1 1 999999999 0 0 1 1 999999999 0 0 \t" + b"0\t" * 37 + b"0\n"
    body = GOOD.split(b"\n")[0] + b"\n" + line
    with pytest.raises(ParseError, match="line 2, field 'kills': weapon kills add up to over"):
        parse(body, GOOD_NAME)


def test_a_giant_header_field_makes_a_short_message() -> None:
    body = GOOD.replace(b"supply", b"s" * 990_000, 1)
    with pytest.raises(ParseError) as error:
        parse(body, GOOD_NAME)
    assert "(990000 characters)" in str(error.value)
    assert len(str(error.value)) < 400
