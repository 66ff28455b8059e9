"""The round-2 differential recovers the generator's true round-2 values."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from etstats.statsfile import parse
from etstats.statsfile.differential import (
    Basis,
    differential,
    match_totals,
    recompute_ratios,
)
from etstats.statsfile.generator import generate_match
from etstats.statsfile.model import Player, Weapon
from etstats.statsfile.values import accuracy

pytestmark = pytest.mark.unit


def nonzero(weapons: tuple[Weapon, ...]) -> tuple[Weapon, ...]:
    return tuple(w for w in weapons if w.hits or w.attempts or w.kills or w.deaths or w.headshots)


@pytest.mark.parametrize("seed", range(40))
def test_recovers_true_round_values(seed: int) -> None:
    rng = random.Random(seed)
    r1, r2 = generate_match(
        rng, datetime(2026, 11, 24, 23, 50), players=rng.randint(4, 20), churn=True
    )
    result = differential(parse(r1.body, r1.filename), parse(r2.body, r2.filename))
    truth = {(p.guid, p.clean_name): p for p in r2.round_players}
    assert len(result) == len(truth)
    bases = {rp.basis for rp in result}
    assert bases == {Basis.DIFFERENCE, Basis.JOINED, Basis.RESET}
    for rp in result:
        expected = truth[(rp.player.guid, rp.player.clean_name)]
        assert rp.player.values == pytest.approx(expected.values), rp.basis
        assert nonzero(rp.player.weapons) == nonzero(expected.weapons)
        assert (rp.player.kills, rp.player.deaths, rp.player.headshots) == (
            expected.kills,
            expected.deaths,
            expected.headshots,
        )


def test_leaver_has_no_round_two_row() -> None:
    r1, r2 = generate_match(random.Random(1), datetime(2026, 11, 24), players=6, churn=True)
    result = differential(parse(r1.body, r1.filename), parse(r2.body, r2.filename))
    r1_guids = {p.guid for p in r1.players}
    r2_guids = {rp.player.guid for rp in result}
    assert len(r1_guids - r2_guids) == 1


def _player(**changes: Any) -> Player:
    values: list[float | int] = [0] * 38
    base = Player("ABCDEF12", "x", "x", 1, 1, False, (), tuple(values), 0, 0, 0)
    return replace(base, **changes)


def test_ratios_from_own_numbers() -> None:
    values: list[float | int] = [0] * 38
    values[0], values[22], values[25] = 450, 4.5, 0.9
    recompute_ratios(values, kills=7, deaths=2)
    assert (values[21], values[24], values[26]) == (100.0, 20.0, 3.5)
    recompute_ratios(values, kills=7, deaths=0)
    assert values[26] == 8.0
    values[22] = 0.0
    recompute_ratios(values, kills=0, deaths=0)
    assert (values[21], values[24]) == (0.0, 0.0)


def test_accuracy() -> None:
    player = _player(weapons=(Weapon(4, 30, 100, 2, 1, 3), Weapon(5, 10, 100, 1, 0, 1)))
    assert accuracy(player.weapons) == 0.2
    assert accuracy(_player().weapons) == 0.0


def test_bots_sharing_a_guid_stay_apart() -> None:
    r1, r2 = generate_match(random.Random(2), datetime(2026, 11, 24), players=4)
    p1 = parse(r1.body, r1.filename)
    p2 = parse(r2.body, r2.filename)
    bots1 = tuple(
        replace(p, guid="OMNIBOT0", clean_name=f"[BOT]b{i}")
        for i, p in enumerate(sorted(p1.players, key=lambda p: p.name))
    )
    names = {
        p.guid: bots1[i].clean_name for i, p in enumerate(sorted(p1.players, key=lambda p: p.name))
    }
    bots2 = tuple(replace(p, guid="OMNIBOT0", clean_name=names[p.guid]) for p in p2.players)
    result = differential(replace(p1, players=bots1), replace(p2, players=bots2))
    assert {rp.basis for rp in result} == {Basis.DIFFERENCE}
    truth = {p.guid: p for p in r2.round_players}
    for rp, original in zip(result, p2.players, strict=True):
        assert rp.player.kills == truth[original.guid].kills


@pytest.mark.parametrize("seed", range(10))
def test_match_totals_add_both_rounds(seed: int) -> None:
    r1, r2 = generate_match(random.Random(seed), datetime(2026, 11, 24, 21), players=8, churn=True)
    p1, p2 = parse(r1.body, r1.filename), parse(r2.body, r2.filename)
    rows = differential(p1, p2)
    totals = {(p.guid, p.clean_name): p for p in match_totals(p1.players, [r.player for r in rows])}
    assert len(totals) == len({(p.guid, p.clean_name) for p in (*p1.players, *p2.players)})
    for row in rows:
        total = totals[(row.player.guid, row.player.clean_name)]
        if row.basis is Basis.DIFFERENCE:  # the R2 file already holds both rounds
            in_file = next(p for p in p2.players if p.guid == row.player.guid)
            assert (total.kills, total.deaths) == (in_file.kills, in_file.deaths)
            assert total.values[0] == in_file.values[0]
            assert total.values[22] == pytest.approx(in_file.values[22])
