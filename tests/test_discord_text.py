"""Post text: names and messages shown in Discord as written (no Markdown,
mentions or links), and plain words where a file does not say."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etstats.contract import rounds_pb2
from etstats.contract.rounds import header_to_message
from services.common.discord_text import plain, safe
from services.common.render import round_embeds
from tests.test_stopwatch import R1

pytestmark = pytest.mark.unit

# What Discord renders as markup at a line start, and what it turns into links.
RENDERED_AT_LINE_START = re.compile(r"^\s*(#{1,3}|-#|[-+*]|\d+\.|>|>>>)\s", re.MULTILINE)
AUTOLINK = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)

HOSTILE = st.text(
    alphabet=st.sampled_from(list("#-+*>1234567890. \n:/httpsw[]()_~`|@<&!abc")), max_size=60
)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("# Big", "\\# Big"),
        ("-# small", "\\-# small"),
        ("- item", "\\- item"),
        ("1. first", "1\\. first"),
        ("> quote", "\\> quote"),
        ("https://evil.example", "https:\u200b//evil.example"),
        ("#hashtag", "#hashtag"),  # no header without a space
        ("1.5 K/D", "1.5 K/D"),
    ],
)
def test_line_start_markup_and_links_are_escaped(name: str, shown: str) -> None:
    assert safe(name) == shown


@given(HOSTILE)
def test_nothing_renders_as_markup_or_links(text: str) -> None:
    shown = safe(text)
    assert not RENDERED_AT_LINE_START.search(shown), shown
    assert not AUTOLINK.search(shown), shown


@given(st.text(max_size=80))
def test_a_terminal_shows_the_text_as_written(text: str) -> None:
    assert plain(safe(text)) == text.replace("\u200b", "")


def test_a_round_without_playing_time_says_so_plainly() -> None:
    header = header_to_message(replace(R1, playtime_ms=None, fields=8))
    [embed] = round_embeds(rounds_pb2.StoredRound(round_id=1, header=header))
    description = str(embed.description)
    assert "unknown time" not in description
    assert "Time limit 10:00 on s (this server's stats do not record playing time)." in description
