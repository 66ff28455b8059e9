"""Who a typed name means: colour codes and case ignored, partial names matched,
bots told apart by name (they share one guid), "did you mean" for the rest."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from etstats.statsfile.parser import clean_name

MAX_SUGGESTIONS = 3
SUGGESTION_CUTOFF = 0.6


@dataclass(frozen=True, slots=True, order=True)
class PlayerKey:
    """One player: a guid, and for a bot its name too (every Omni-bot is OMNIBOT0)."""

    guid: str
    bot_name: str = ""

    @property
    def is_bot(self) -> bool:
        return bool(self.bot_name)

    @property
    def text(self) -> str:
        """As a person can type it back: `guid`, or `guid/name` for a bot."""
        return f"{self.guid}/{self.bot_name}" if self.bot_name else self.guid


@dataclass(frozen=True, slots=True)
class KnownName:
    """A name a player played under, and when last."""

    key: PlayerKey
    name: str  # colour codes stripped
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class Candidate:
    """A player a query matches, under the name played last."""

    key: PlayerKey
    name: str
    last_seen: datetime
    other_names: tuple[str, ...] = ()  # most recent first


@dataclass(frozen=True, slots=True)
class Lookup:
    """One candidate: the player; several: a choice; none: `suggestions` may help."""

    candidates: tuple[Candidate, ...]
    suggestions: tuple[str, ...] = ()


def fold(text: str) -> str:
    """A name as matched: no colour codes, case folded, runs of spaces made one."""
    return " ".join(clean_name(text).casefold().split())


def close_words(word: str, words: Iterable[str], n: int = MAX_SUGGESTIONS) -> list[str]:
    """The words spelt most like `word` (for "did you mean")."""
    return difflib.get_close_matches(word, list(words), n=n, cutoff=SUGGESTION_CUTOFF)


def candidates(known: Iterable[KnownName]) -> dict[PlayerKey, Candidate]:
    """Each player once, under their latest name, the other names after it."""
    by_key: dict[PlayerKey, list[KnownName]] = {}
    for k in known:
        by_key.setdefault(k.key, []).append(k)
    found = {}
    for key, names in by_key.items():
        names.sort(key=lambda k: (k.last_seen, k.name), reverse=True)
        others = tuple(dict.fromkeys(k.name for k in names[1:] if k.name != names[0].name))
        found[key] = Candidate(key, names[0].name, names[0].last_seen, others)
    return found


def _ordered(
    keys: Iterable[PlayerKey], players: dict[PlayerKey, Candidate], first: str = ""
) -> tuple[Candidate, ...]:
    """Names that start with `first` before the others, then the most recently
    seen first: the likelier meant."""
    chosen = [players[k] for k in set(keys)]
    chosen.sort(
        key=lambda c: (
            not (first and fold(c.name).startswith(first)),
            -c.last_seen.timestamp(),
            fold(c.name),
            c.key,
        )
    )
    return tuple(chosen)


def find_players(query: str, known: Iterable[KnownName]) -> Lookup:
    """The players `query` means, by the first rule that matches any: a guid (or a
    bot's `guid/name`), a whole name, a part of a name (those starting with it
    first). Any name a player had counts. Nothing matched: names spelt like it."""
    wanted = fold(query)
    names = list(known)
    players = candidates(names)
    if not wanted:
        return Lookup(())
    folded = [(k, fold(k.name)) for k in names]
    rules: tuple[Callable[[KnownName, str], bool], ...] = (
        lambda k, _: fold(k.key.text) == wanted or fold(k.key.guid) == wanted,
        lambda _, name: name == wanted,
        lambda _, name: wanted in name,
    )
    for rule in rules:
        if matched := [k.key for k, name in folded if rule(k, name)]:
            return Lookup(_ordered(matched, players, first=wanted))
    by_folded: dict[str, str] = {}
    for c in _ordered(players, players):  # the latest player under a spelling shows it
        for name in (c.name, *c.other_names):
            by_folded.setdefault(fold(name), name)
    close = close_words(wanted, by_folded)
    return Lookup((), tuple(by_folded[f] for f in close))
