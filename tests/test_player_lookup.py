"""Who a typed name means (etstats.players.lookup) and prefix words split into a
player and a period (etstats.players.args)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etstats.players.args import split_period
from etstats.players.lookup import KnownName, PlayerKey, find_players, fold

pytestmark = pytest.mark.unit

DAY = datetime(2026, 11, 20, 21, 0)


def known(guid: str, name: str, days_ago: int = 0, bot: bool = False) -> KnownName:
    return KnownName(PlayerKey(guid, name if bot else ""), name, DAY - timedelta(days=days_ago))


PEOPLE = [
    known("AAAA0001", "FireFox", 0),
    known("AAAA0001", "OldFox", 30),  # the same player, an earlier name
    known("AAAA0002", "Foxtrot", 1),
    known("AAAA0003", "olz", 2),
    known("AAAA0004", "Olz", 5),  # another player, the same name in another case
    known("AAAA0005", "sm@sh", 3),
    known("OMNIBOT0", "[BOT]Fox", 0, bot=True),
    known("OMNIBOT0", "[BOT]Nyx", 0, bot=True),
]


def names(query: str) -> list[str]:
    return [c.name for c in find_players(query, PEOPLE).candidates]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("FireFox", ["FireFox"]),
        ("^1fire^7FOX", ["FireFox"]),  # colour codes and case ignored
        ("  firefox ", ["FireFox"]),
        ("oldfox", ["FireFox"]),  # an earlier name finds the player, shown as now
        ("trot", ["Foxtrot"]),  # a part of one name
        ("fox", ["Foxtrot", "[BOT]Fox", "FireFox"]),  # starts with it first, then recent
        ("[bot]fox", ["[BOT]Fox"]),  # a whole name beats the parts of others
        ("aaaa0002", ["Foxtrot"]),  # a guid
        ("OMNIBOT0", ["[BOT]Fox", "[BOT]Nyx"]),  # bots share it: a choice
        ("omnibot0/[bot]nyx", ["[BOT]Nyx"]),  # a bot by guid and name
        ("olz", ["olz", "Olz"]),  # two players under one name: a choice, recent first
        ("sm@", ["sm@sh"]),
        ("qqq", []),
        ("^7", []),  # nothing left to look for
    ],
)
def test_find_players(query: str, found: list[str]) -> None:
    assert names(query) == found


def test_an_earlier_name_is_kept_beside_the_latest() -> None:
    (firefox,) = find_players("firefox", PEOPLE).candidates
    assert firefox.other_names == ("OldFox",) and firefox.last_seen == DAY


@pytest.mark.parametrize(
    ("query", "meant"),
    [("olzz", ("olz",)), ("firefix", ("FireFox",)), ("smash", ("sm@sh",)), ("zzzz", ())],
)
def test_unknown_names_get_a_did_you_mean(query: str, meant: tuple[str, ...]) -> None:
    lookup = find_players(query, PEOPLE)
    assert lookup.candidates == () and lookup.suggestions == meant


def test_a_key_reads_back_as_typed() -> None:
    assert PlayerKey("AAAA0001").text == "AAAA0001"
    assert PlayerKey("OMNIBOT0", "[BOT]Nyx").text == "OMNIBOT0/[BOT]Nyx"
    assert PlayerKey("OMNIBOT0", "[BOT]Nyx").is_bot and not PlayerKey("AAAA0001").is_bot


names_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
guids = st.sampled_from(["A1", "B2", "C3"])


@given(
    st.lists(st.tuples(st.sampled_from(["A1", "B2", "C3"]), names_text), max_size=12), names_text
)
def test_every_candidate_matches_and_each_player_is_offered_once(
    rows: list[tuple[str, str]], query: str
) -> None:
    people = [known(guid, name, i) for i, (guid, name) in enumerate(rows)]
    lookup = find_players(query, people)
    keys = [c.key for c in lookup.candidates]
    assert len(keys) == len(set(keys))
    wanted = fold(query)
    for c in lookup.candidates:
        their_names = [fold(k.name) for k in people if k.key == c.key]
        assert any(wanted in n for n in their_names) or fold(c.key.guid) == wanted
    if lookup.candidates:
        assert lookup.suggestions == ()
    exact = {k.key for k in people if wanted and fold(k.name) == wanted}
    if exact and not any(fold(k.key.guid) == wanted for k in people):
        assert set(keys) == exact, "a whole name beats parts of others"


NOW = datetime(2026, 11, 24, 15, 30)


@pytest.mark.parametrize(
    ("text", "player", "period"),
    [
        ("olz", "olz", None),
        ("olz 1week", "olz", "1week"),
        ("Silent Bob 2 weeks", "Silent Bob", "2 weeks"),
        ("Silent Bob", "Silent Bob", None),
        ("today", "", "today"),  # a period alone: the asker's own stats
        ("olz 2026-11-01..2026-11-07", "olz", "2026-11-01..2026-11-07"),
        ("olz 2099-01-01", "olz", "2099-01-01"),  # a period still, refused later
        ("", "", None),
        ("2 fast", "2 fast", None),
    ],
)
def test_prefix_words_split_into_player_and_period(
    text: str, player: str, period: str | None
) -> None:
    assert split_period(text.split(), NOW) == (player, period)
