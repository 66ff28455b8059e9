"""The database against a generated evening's own truth, value by value."""

from __future__ import annotations

import asyncpg
import pytest

from etstats.statsfile.generator import Evening, GeneratedFile


async def stored_state(conn: asyncpg.Connection, source: str) -> dict[str, dict]:
    """Per file name: round, orphan flag, its match and every player's round values."""
    rounds = {
        r["filename"]: {
            "round": r["round"],
            "orphan": r["orphan"],
            "paired_with": r["r1_filename"],
            "outcome": r["outcome"],
            "players": {},
        }
        for r in await conn.fetch(
            "SELECT f.filename, r.round, r.orphan, m.outcome, f1.filename AS r1_filename"
            " FROM rounds r JOIN files f ON f.id = r.file_id"
            " LEFT JOIN matches m ON m.r2_round_id = r.id"
            " LEFT JOIN rounds r1 ON r1.id = m.r1_round_id"
            " LEFT JOIN files f1 ON f1.id = r1.file_id WHERE r.source = $1",
            source,
        )
    }
    for p in await conn.fetch(
        "SELECT f.filename, p.guid, p.clean_name, p.round_kills, p.round_deaths,"
        " p.round_headshots, p.round_values FROM player_rounds p"
        " JOIN rounds r ON r.id = p.round_id JOIN files f ON f.id = r.file_id"
        " WHERE r.source = $1",
        source,
    ):
        rounds[p["filename"]]["players"][(p["guid"], p["clean_name"])] = (
            p["round_kills"],
            p["round_deaths"],
            p["round_headshots"],
            p["round_values"],
        )
    return rounds


def expected_players(generated: GeneratedFile, known: bool) -> dict[tuple[str, str], tuple]:
    """Round values as the generator made them; unknown (all None) for an orphan."""
    return {
        (p.guid, p.clean_name): (p.kills, p.deaths, p.headshots, list(p.values))
        if known
        else (None, None, None, None)
        for p in (generated.round_players if known else generated.players)
    }


async def assert_matches_truth(conn: asyncpg.Connection, evening: Evening, source: str) -> None:
    stored = await stored_state(conn, source)
    assert set(stored) == {f.filename for f in evening.files}
    for f in evening.files:
        row = stored[f.filename]
        if f.header.round == 1:
            expected = expected_players(f, known=True)
            assert (row["orphan"], row["paired_with"]) == (False, None), f.filename
        else:
            r1 = evening.round1_of[f.filename]
            expected = expected_players(f, known=r1 is not None)
            assert row["orphan"] == (r1 is None), f.filename
            assert row["paired_with"] == r1, f.filename
            assert row["outcome"] == (f.outcome.value if r1 and f.outcome else None), f.filename
        assert row["players"].keys() == expected.keys(), f.filename
        for key, (kills, deaths, headshots, values) in row["players"].items():
            want = expected[key]
            assert (kills, deaths, headshots) == want[:3], (f.filename, key)
            assert values == (None if want[3] is None else pytest.approx(want[3])), (
                f.filename,
                key,
            )
