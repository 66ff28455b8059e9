"""Totals, rates and leaderboard metrics (etstats.players.totals)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etstats.players.totals import (
    METRIC_KEYS,
    METRICS,
    MetricError,
    Totals,
    metric_named,
    ranked,
    summary,
)

pytestmark = pytest.mark.unit


def test_rates_come_from_the_sums() -> None:
    t = Totals(
        rounds=4, kills=30, deaths=12, headshots=20, hits=200, attempts=800,
        damage_given=6000, minutes=40, revives=7, objectives=2,
    )  # fmt: skip
    assert (t.kd, t.dpm, t.accuracy, t.headshot_rate) == (2.5, 150.0, 0.25, 0.1)


def test_rates_of_nothing_are_not_errors() -> None:
    t = Totals()
    assert (t.dpm, t.accuracy, t.headshot_rate) == (0.0, 0.0, 0.0)
    assert Totals(kills=5).kd == 6.0  # as the game writes it without deaths


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("kills", "kills"), ("KD", "kd"), ("k/d", "kd"), ("kdr", "kd"), ("DPM", "dpm"),
        ("dmg", "damage"), ("acc", "accuracy"), ("hs", "headshots"), ("revives", "revives"),
        ("obj", "objectives"), (" rounds ", "rounds"),
    ],
)  # fmt: skip
def test_metrics_by_name_or_alias(text: str, key: str) -> None:
    assert metric_named(text).key == key


def test_the_issue_s_metrics_are_all_there() -> None:
    wanted = {"kills", "kd", "dpm", "damage", "accuracy", "headshots", "revives"}
    assert wanted | {"objectives", "rounds"} == set(METRIC_KEYS)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("kils", "'kils' is not a metric. Did you mean kills? Metrics: kills, kd, dpm"),
        ("zzz", "'zzz' is not a metric. Metrics: kills, kd"),
    ],
)
def test_an_unknown_metric_lists_them(text: str, said: str) -> None:
    with pytest.raises(MetricError) as caught:
        metric_named(text)
    assert str(caught.value).startswith(said)


totals = st.builds(
    Totals,
    rounds=st.integers(1, 500),
    kills=st.integers(0, 5000),
    deaths=st.integers(0, 5000),
    headshots=st.integers(0, 5000),
    hits=st.integers(0, 50000),
    attempts=st.integers(0, 50000),
    damage_given=st.floats(0, 1e6),
    minutes=st.floats(0, 1e4),
)


@given(st.lists(totals, max_size=30), st.sampled_from(METRICS))
def test_ranked_best_first_and_every_player_once(board: list[Totals], metric) -> None:
    players = list(enumerate(board))
    order = ranked(players, metric, tie=str)
    values = [metric.value(t) for _, t in order]
    assert values == sorted(values, reverse=True)
    assert sorted(k for k, _ in order) == [k for k, _ in players]


@given(totals)
def test_every_metric_and_summary_line_shows(t: Totals) -> None:
    for metric in METRICS:
        assert metric.shown(metric.value(t))
    assert [label for label, _ in summary(t)][:3] == ["Rounds", "K/D", "DPM"]
