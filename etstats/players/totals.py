"""A player's numbers added up over rounds, the rates made from them, and the
metrics a leaderboard ranks by.

The rates come from `etstats.statsfile.values` (K/D, accuracy, per minute), the
one definition that posts use too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from etstats.players.lookup import close_words
from etstats.statsfile.values import accuracy, kd_ratio, per_minute

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over a player's counted rounds (round values: a round 2 its own)."""

    rounds: int = 0
    kills: int = 0
    deaths: int = 0
    headshots: int = 0  # headshot hits, over all weapons
    hits: int = 0
    attempts: int = 0
    damage_given: float = 0.0
    damage_received: float = 0.0
    minutes: float = 0.0
    revives: float = 0.0
    objectives: float = 0.0  # stolen, returned, dynamites planted and defused

    @property
    def kd(self) -> float:
        return kd_ratio(self.kills, self.deaths)

    @property
    def dpm(self) -> float:
        return per_minute(self.damage_given, self.minutes)

    @property
    def accuracy(self) -> float:
        return accuracy((self,))

    @property
    def headshot_rate(self) -> float:
        """Headshots per hit."""
        return self.headshots / self.hits if self.hits else 0.0


@dataclass(frozen=True, slots=True)
class Metric:
    """What a leaderboard ranks by: a number made from a player's totals."""

    key: str
    label: str
    value: Callable[[Totals], float]
    shown: Callable[[float], str]
    aliases: tuple[str, ...] = ()


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _ratio(value: float) -> str:
    return f"{value:.2f}"


def _share(value: float) -> str:
    return f"{value:.1%}"


METRICS: tuple[Metric, ...] = (
    Metric("kills", "Kills", lambda t: t.kills, _count, ("frags", "k")),
    Metric("kd", "K/D", lambda t: t.kd, _ratio, ("k/d", "kdr", "ratio")),
    Metric("dpm", "DPM", lambda t: t.dpm, lambda v: f"{v:.1f}", ("damage_per_minute",)),
    Metric("damage", "Damage", lambda t: t.damage_given, _count, ("dmg",)),
    Metric("accuracy", "Accuracy", lambda t: t.accuracy, _share, ("acc",)),
    Metric("headshots", "Headshots", lambda t: t.headshots, _count, ("hs", "headshot")),
    Metric("revives", "Revives", lambda t: t.revives, _count, ("revive", "rev", "medic")),
    Metric("objectives", "Objectives", lambda t: t.objectives, _count, ("obj", "objective")),
    Metric("rounds", "Rounds", lambda t: t.rounds, _count, ("played", "games")),
)
METRIC_KEYS = tuple(m.key for m in METRICS)


class MetricError(ValueError):
    """Not a metric; the message lists them and the closest."""


def metric_named(text: str) -> Metric:
    """The metric `text` names (its key or an alias, any case)."""
    wanted = text.strip().lower()
    for metric in METRICS:
        if wanted == metric.key or wanted in metric.aliases:
            return metric
    names = {name: m.key for m in METRICS for name in (m.key, *m.aliases)}
    close = list(dict.fromkeys(names[n] for n in close_words(wanted, names)))
    meant = f" Did you mean {', '.join(close)}?" if close else ""
    raise MetricError(f"{text.strip()!r} is not a metric.{meant} Metrics: {', '.join(METRIC_KEYS)}")


def ranked(
    players: Iterable[tuple[K, Totals]], metric: Metric, tie: Callable[[K], str]
) -> list[tuple[K, Totals]]:
    """Best first; equal values by more rounds, then by `tie` (a name)."""
    return sorted(players, key=lambda kt: (-metric.value(kt[1]), -kt[1].rounds, tie(kt[0])))


def summary(t: Totals) -> Sequence[tuple[str, str]]:
    """The headline numbers of a player's totals, each as (label, text)."""
    return (
        ("Rounds", _count(t.rounds)),
        ("K/D", f"{_ratio(t.kd)} ({t.kills:,}/{t.deaths:,})"),
        ("DPM", f"{t.dpm:.1f}"),
        ("Accuracy", _share(t.accuracy)),
        ("Headshots", f"{_share(t.headshot_rate)} ({t.headshots:,})"),
        ("Revives", _count(t.revives)),
        ("Objectives", _count(t.objectives)),
        ("Damage", f"{_count(t.damage_given)} given, {_count(t.damage_received)} received"),
    )
