"""Value indices by name and the ratios: one definition, checked against the format."""

from __future__ import annotations

import pytest

from etstats.contract import rounds_pb2
from etstats.statsfile import Weapon
from etstats.statsfile import values as v
from etstats.statsfile.model import VALUE_NAMES

pytestmark = pytest.mark.unit


def test_every_named_index_is_that_value_of_the_format() -> None:
    named = {n: getattr(v, n) for n in dir(v) if n.isupper() and n.lower() in VALUE_NAMES}
    assert len(named) >= 16
    assert {n: VALUE_NAMES[i] for n, i in named.items()} == {n: n.lower() for n in named}


@pytest.mark.parametrize(
    ("kills", "deaths", "ratio"), [(10, 4, 2.5), (5, 0, 6.0), (0, 0, 1.0), (0, 3, 0.0)]
)
def test_kd_ratio_as_the_stats_script_writes_it(kills: int, deaths: int, ratio: float) -> None:
    assert v.kd_ratio(kills, deaths) == ratio


def test_accuracy_reads_file_weapons_and_bus_weapons_alike() -> None:
    file_weapons = [Weapon(4, 20, 100, 3, 1, 1), Weapon(11, 5, 10, 1, 0, 0)]
    bus_weapons = [
        rounds_pb2.WeaponStats(weapon=w.weapon, hits=w.hits, attempts=w.attempts)
        for w in file_weapons
    ]
    assert v.accuracy(file_weapons) == v.accuracy(bus_weapons) == 25 / 110
    assert v.accuracy([]) == 0.0
