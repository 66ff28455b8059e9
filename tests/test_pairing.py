"""The pure pairing rule and the generator's stopwatch: exact answers, any order."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etstats.statsfile import parse
from etstats.statsfile.generator import generate_evening, generate_match
from etstats.statsfile.pairing import PAIRING_WINDOW, RoundRef, pair_files, pair_rounds
from etstats.statsfile.stopwatch import Outcome, map_result

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 24, 21, 0)


def ref(key: str, round_no: int, minute: float, limit: int = 600, time: int = 420) -> RoundRef:
    return RoundRef(key, "supply", round_no, T0 + timedelta(minutes=minute), limit, time)


def test_a_round_one_taken_by_its_own_round_two_is_no_candidate() -> None:
    # The same map twice in an evening, round 1 of the second play lost.
    rounds = [ref("r1a", 1, 0), ref("r2a", 2, 10, 420, 300), ref("r2b", 2, 30, 420, 200)]
    assert pair_rounds(rounds) == {"r2a": "r1a", "r2b": None}


def test_the_clock_refutes_an_unclaimed_round_one_of_another_play() -> None:
    r1a = ref("r1a", 1, 0, time=420)  # its round 2 was lost
    r2b = ref("r2b", 2, 30, limit=380, time=200)  # its round 1 (time 6:20) was lost
    assert pair_rounds([r1a, r2b]) == {"r2b": None}
    assert pair_rounds([r1a, ref("r2b", 2, 30, limit=420)]) == {"r2b": "r1a"}


def test_an_unknown_clock_neither_confirms_nor_refutes() -> None:
    assert pair_rounds([ref("r1", 1, 0, time=0), ref("r2", 2, 10, 380)]) == {"r2": "r1"}
    assert pair_rounds([ref("r1", 1, 0), ref("r2", 2, 10, 0)]) == {"r2": "r1"}


def test_the_latest_round_one_wins_and_the_earlier_stays_unpaired() -> None:
    rounds = [ref("r1a", 1, 0), ref("r1b", 1, 12), ref("r2b", 2, 20, limit=420)]
    assert pair_rounds(rounds) == {"r2b": "r1b"}


@pytest.mark.parametrize(
    ("gap", "paired"),
    [(PAIRING_WINDOW, True), (PAIRING_WINDOW + timedelta(seconds=1), False), (timedelta(0), False)],
)
def test_window_bounds(gap: timedelta, paired: bool) -> None:
    r2 = RoundRef("r2", "supply", 2, T0 + gap, 600, 300)
    assert pair_rounds([ref("r1", 1, 0, time=600), r2]) == {"r2": "r1" if paired else None}


def test_partial_rounds_and_other_maps_never_pair() -> None:
    partial_r1 = RoundRef("p1", "supply", 1, T0, 600, 420, pairable=False)
    other_map = RoundRef("o1", "goldrush", 1, T0, 600, 420)
    partial_r2 = RoundRef("p2", "supply", 2, T0 + timedelta(minutes=9), 420, 0, pairable=False)
    assert pair_rounds([partial_r1, other_map, partial_r2, ref("r2", 2, 10)]) == {"r2": None}


def test_rounds_across_midnight_pair() -> None:
    r1 = RoundRef("r1", "supply", 1, datetime(2026, 11, 24, 23, 55), 600, 420)
    r2 = RoundRef("r2", "supply", 2, datetime(2026, 11, 25, 0, 9), 420, 300)
    assert pair_rounds([r2, r1]) == {"r2": "r1"}


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), maps=st.integers(1, 40), shuffle=st.randoms())
def test_pairing_is_the_truth_in_any_order(seed: int, maps: int, shuffle: random.Random) -> None:
    evening = generate_evening(random.Random(seed), datetime(2026, 11, 24, 22, 30), maps)
    parsed = [parse(f.body, f.filename) for f in evening.files]
    shuffle.shuffle(parsed)
    got = {parsed[r2].name.name: r1.name.name for r2, r1 in pair_files(parsed).items()}
    assert got == {r2: r1 for r2, r1 in evening.round1_of.items() if r1 is not None}
    refs = [RoundRef.of(p.name.name, p.header, p.name.stamp) for p in parsed if p.name.stamp]
    orphans = {r2 for r2, r1 in pair_rounds(refs).items() if r1 is None}
    assert orphans == {r2 for r2, r1 in evening.round1_of.items() if r1 is None}


@pytest.mark.parametrize("seed", range(200))
def test_generated_stopwatch_follows_the_rules(seed: int) -> None:
    r1, r2 = generate_match(random.Random(seed), T0)
    h1, h2 = r1.header, r2.header
    assert h2.time_limit_s == h1.next_time_limit_s  # round 2 plays against round 1's time
    assert h2.defender_team != h1.defender_team  # sides swap
    round2_attackers_won = h2.winner_team != h2.defender_team
    assert round2_attackers_won == (h2.next_time_limit_s < h1.next_time_limit_s)
    fullhold = h1.winner_team == h1.defender_team
    assert fullhold == (h1.next_time_limit_s == h1.time_limit_s)
    expected = (
        Outcome.ROUND2_ATTACKERS
        if round2_attackers_won
        else Outcome.DRAW
        if fullhold
        else Outcome.ROUND1_ATTACKERS
    )
    assert r2.outcome is expected
    assert map_result(h1, h2).outcome is expected


def test_generator_plays_every_outcome() -> None:
    seen = {generate_match(random.Random(seed), T0)[1].outcome for seed in range(200)}
    assert seen == {Outcome.ROUND2_ATTACKERS, Outcome.ROUND1_ATTACKERS, Outcome.DRAW}
