from dataclasses import replace

import pytest

from etstats.statsfile.model import Header
from etstats.statsfile.stopwatch import Outcome, map_result

pytestmark = pytest.mark.unit

R1 = Header("s", "supply", "", 1, 1, 2, 600, 420, 420000, 9, False)  # Allies attacked in 7:00
R2 = Header("s", "supply", "", 2, 2, 1, 600, 380, 380000, 9, False)  # Axis attacked in 6:20


@pytest.mark.parametrize(
    ("r1", "r2", "outcome", "to_beat", "fullhold"),
    [
        (R1, R2, Outcome.ROUND2_ATTACKERS, 420, False),
        (
            R1,
            replace(R2, winner_team=2, next_time_limit_s=420),
            Outcome.ROUND1_ATTACKERS,
            420,
            False,
        ),
        (
            replace(R1, winner_team=1, next_time_limit_s=600),
            replace(R2, winner_team=2),
            Outcome.DRAW,
            600,
            True,
        ),
        (replace(R1, winner_team=1), R2, Outcome.ROUND2_ATTACKERS, 600, True),
        (replace(R1, winner_team=0, teams_low_confidence=True), R2, Outcome.UNKNOWN, 420, False),
    ],
)
def test_map_result(r1, r2, outcome, to_beat, fullhold) -> None:
    result = map_result(r1, r2)
    assert (result.outcome, result.time_to_beat_s, result.fullhold) == (outcome, to_beat, fullhold)
    assert result.round2_time_s == r2.next_time_limit_s
