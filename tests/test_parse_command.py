import json
import random
from datetime import datetime
from pathlib import Path

import pytest

from etstats.statsfile.generator import generate_match
from etstats.statsfile.model import VALUE_NAMES
from etstats_cli.cli import main

pytestmark = pytest.mark.unit


def write_match(directory: Path, seed: int, start: datetime, **kw):
    r1, r2 = generate_match(random.Random(seed), start, **kw)
    for generated in (r1, r2):
        (directory / generated.filename).write_bytes(generated.body)
    return r1, r2


def run_json(capsys, *args: str) -> tuple[int, list[dict]]:
    status = main(["parse", "--json", *args])
    lines = capsys.readouterr().out.splitlines()
    return status, [json.loads(line) for line in lines]


def test_json_pairs_round_two_across_midnight(tmp_path: Path, capsys) -> None:
    r1, r2 = write_match(tmp_path, 1, datetime(2026, 11, 24, 23, 40), players=6, churn=True)
    assert r1.filename[:10] != r2.filename[:10], "the pair should straddle midnight"
    (tmp_path / "2026-11-24-201443-supply-round-1_ws.txt").write_text("sidecar")
    status, objects = run_json(capsys, str(tmp_path))
    assert status == 0
    first, second = objects
    assert (first["round"], second["round"]) == (1, 2)
    assert second["paired_with"] == r1.filename
    assert first["paired_with"] is None
    truth = {(p.guid, p.clean_name): p for p in r2.round_players}
    for player in second["players"]:
        assert list(player["values"]) == list(VALUE_NAMES)
        expected = truth[(player["guid"], player["clean_name"])]
        assert player["round_values"]["kills"] == expected.kills
        assert player["round_values"]["damage_given"] == expected.values[0]
    for player in first["players"]:
        assert player["round_values"]["kills"] == player["kills"]
        assert all(name.startswith("WS_") for name in player["weapons"])


def test_unpaired_round_two_has_no_round_values(tmp_path: Path, capsys) -> None:
    _, r2 = write_match(tmp_path, 2, datetime(2026, 11, 24, 20, 0), players=4)
    status, (obj,) = run_json(capsys, str(tmp_path / r2.filename))
    assert status == 0
    assert obj["paired_with"] is None
    assert all(p["round_values"] is None for p in obj["players"])


def test_bad_file_is_reported_and_exit_status_is_1(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "2026-11-24-201443-supply-round-1.txt"
    bad.write_bytes(b"srv\\supply\\\\1\\1\\2\\10:00\\5:00\nGUID\\x\\1\\1\\0 \t1\t2\n")
    status, (obj,) = run_json(capsys, str(bad))
    assert status == 1
    assert obj == {
        "file": str(bad),
        "ok": False,
        "error": "line 2: 2 extended values, expected 36 or 38",
    }


def test_text_output_for_people(tmp_path: Path, capsys) -> None:
    r1, _ = write_match(tmp_path, 3, datetime(2026, 11, 24, 20, 0), players=4)
    assert main(["parse", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{r1.header.map} round 1, 4 players" in out
    assert "paired with " + r1.filename in out


def test_missing_path(tmp_path: Path, capsys) -> None:
    assert main(["parse", str(tmp_path / "nope.txt")]) == 1
    assert "cannot read" in capsys.readouterr().out
