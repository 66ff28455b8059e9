"""Sessions as embeds (pure): whatever a session holds, every page and the post
fit Discord's limits, every player is shown once in rank order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etstats.contract import reads_pb2, rounds_pb2
from services.common.render import fits
from services.common.session_text import (
    awards,
    map_lines,
    no_session_text,
    overview_embed,
    score_lines,
    session_pages,
    session_picture,
    session_post,
)

pytestmark = pytest.mark.unit

LONGEST = "*_~|`>Z" + "*_~|`>" * 4 + "**_"  # 36 characters, all Markdown
# Names as the parser leaves them: no control characters.
names = st.one_of(
    st.just(LONGEST),
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=36),
)


def player(name: str, rank: int, bot: bool = False) -> reads_pb2.SessionPlayer:
    return reads_pb2.SessionPlayer(
        player=reads_pb2.Player(
            ref=reads_pb2.PlayerRef(guid=f"G{rank:07d}", bot_name=name if bot else ""), name=name
        ),
        totals=reads_pb2.Totals(
            rounds=rank % 7 + 1,
            kills=1000 - rank,
            deaths=rank,
            headshots=rank * 3,
            hits=400 + rank,
            attempts=1000,
            damage_given=123456.7,
            damage_received=rank * 100.0,
            minutes=600.5,
            revives=rank,
            objectives=rank % 3,
        ),
    )


@st.composite
def summaries(draw: st.DrawFn) -> reads_pb2.SessionSummary:
    count = draw(st.integers(0, 64))
    people = [player(draw(names), i, draw(st.booleans())) for i in range(count)]
    maps = draw(st.integers(0, 30))
    team = [draw(names) for _ in range(draw(st.integers(0, 12)))]
    return reads_pb2.SessionSummary(
        source="main",
        first_round_id=draw(st.integers(1, 10**12)),
        first_stamp="2026-11-20 21:00:00",
        last_stamp=draw(st.sampled_from(["2026-11-20 23:59:00", "2026-11-21 03:10:00"])),
        gap_s=3600,
        rounds=[
            reads_pb2.SessionRound(round_id=i, map="supply", round=i % 2 + 1, playtime_ms=600000)
            for i in range(2 * maps)
        ],
        maps=[
            reads_pb2.SessionMap(
                map=draw(st.sampled_from(["supply", "x" * 64, "*_~"])),
                r1_round_id=2 * i + 1,
                r2_round_id=2 * i + 2 if i % 4 else 0,
                result=rounds_pb2.MapResult(outcome="draw", time_to_beat_s=600) if i % 4 else None,
                winner=i % 3,
                score=i % 5 - 1,
            )
            for i in range(maps)
        ],
        scores=[
            reads_pb2.SessionScore(team_a=team, team_b=team[::-1], wins_a=i, wins_b=1, maps=9)
            for i in range(draw(st.integers(0, 4)))
        ],
        players=people,
    )


@settings(max_examples=60, deadline=None)
@given(summaries(), st.integers(1, 3))
def test_every_page_and_the_post_fit_and_show_everyone_once(
    s: reads_pb2.SessionSummary, sessions: int
) -> None:
    pages = session_pages(reads_pb2.SessionReply(sessions=[s] * sessions))
    assert all(fits(page) for page in pages)
    shown = [
        line.split("`")[1]
        for page in pages
        for embed in page
        if str(embed.title).startswith("Players")
        for line in str(embed.description).split("\n")
        if line.startswith("`#")
    ]
    assert shown == [f"#{r}" for r in range(1, len(s.players) + 1)] * sessions
    post = session_post(s, "`/session 2026-11-20`")
    assert fits(post)
    lines = str(post[1].description).split("\n")
    if len(s.players) > 10 or (len(lines) and lines[-1].startswith("+")):
        assert lines[-1] == (
            f"+{len(s.players) - (len(lines) - 1)} more players: `/session 2026-11-20`"
        )


# Whatever storage sums up: a session's totals are only bounded by their types.
huge = st.floats(0, 1e300, allow_nan=False)
counts = st.integers(0, 2**31 - 1)


@st.composite
def large_summaries(draw: st.DrawFn) -> reads_pb2.SessionSummary:
    """Sessions at the edges: the most maps, stretches and players a post
    lists, the longest names, and numbers as wide as their types allow."""
    s = draw(summaries())
    s.players.extend(player(LONGEST, len(s.players) + i) for i in range(draw(st.integers(0, 40))))
    for p in s.players:
        t = p.totals
        t.kills, t.deaths, t.headshots, t.rounds = draw(st.tuples(counts, counts, counts, counts))
        t.damage_given, t.damage_received, t.minutes = draw(st.tuples(huge, huge, huge))
        t.revives, t.objectives = draw(st.tuples(huge, huge))
    for m in s.maps:
        m.map = "*_~|" * 20
    team = [LONGEST] * 12
    s.scores.extend(
        reads_pb2.SessionScore(team_a=team, team_b=team, wins_a=2**31 - 1, wins_b=1, maps=9)
        for _ in range(draw(st.integers(0, 12)))
    )
    return s


@settings(max_examples=40, deadline=None)
@given(large_summaries())
def test_the_post_and_the_first_page_fit_however_large_the_session(
    s: reads_pb2.SessionSummary,
) -> None:
    """Discord refuses a message over its limits: what does not fit is left out."""
    post = session_post(s, "`/session 2026-11-20`")
    assert fits(post)
    assert str(post[0].title).startswith("Session · ")
    assert str(post[1].title).startswith("Players 1 to ")
    assert fits(session_pages(reads_pb2.SessionReply(sessions=[s]))[0])


def test_awards_go_to_people_and_rates_need_half_the_rounds() -> None:
    bot = player("[BOT]Nyx", 0, bot=True)  # the most kills, but a bot
    steady = player("steady", 5)
    brief = player("brief", 1)
    brief.totals.rounds, steady.totals.rounds = 1, 6
    s = reads_pb2.SessionSummary(players=[bot, brief, steady])
    got = awards(s)
    assert got[0] == "Top fragger: brief (999 kills)"
    assert "Best K/D: steady (199.00)" in got


def test_score_lines_skip_stretches_without_a_decided_map() -> None:
    s = reads_pb2.SessionSummary(
        scores=[
            reads_pb2.SessionScore(team_a=["a"], team_b=["b"], maps=1),
            reads_pb2.SessionScore(
                team_a=["a", "c", "d", "e"], team_b=["b"], wins_a=2, draws=1, maps=4
            ),
        ]
    )
    assert score_lines(s) == ["a, c, d +1 **2 : 0** b (1 draw, 4 maps)"]


def test_no_session() -> None:
    assert no_session_text(reads_pb2.SessionReply()) == "No session yet."
    day = reads_pb2.SessionReply(day="2026-11-19")
    assert no_session_text(day, "main") == "No session began on 2026-11-19 on main."


def test_map_lines_say_each_result_in_a_few_words() -> None:
    def result(outcome: str, fullhold: bool = False) -> rounds_pb2.MapResult:
        return rounds_pb2.MapResult(
            outcome=outcome, time_to_beat_s=420, round2_time_s=380, fullhold=fullhold
        )

    score = reads_pb2.SessionScore(team_a=["FireFox", "olz"], team_b=["sm@sh"], maps=5)
    s = reads_pb2.SessionSummary(
        scores=[score],
        maps=[
            reads_pb2.SessionMap(map="supply", result=result("round2_attackers"), winner=2),
            reads_pb2.SessionMap(map="radar", result=result("round1_attackers"), winner=1),
            reads_pb2.SessionMap(map="goldrush", result=result("round1_attackers", True)),
            reads_pb2.SessionMap(map="oasis", result=result("draw"), score=-1),
            reads_pb2.SessionMap(map="*_*", result=result("unknown")),
            reads_pb2.SessionMap(map="fueldump", r1_round_id=3),
            reads_pb2.SessionMap(map="adlernest", r2_round_id=4),
        ],
    )
    assert map_lines(s) == [
        "supply: 6:20 beat 7:00 → sm@sh's team",
        "radar: 7:00 stood → FireFox's team",
        "goldrush: 7:00 stood (a fullhold)",
        "oasis: both attacks held: a draw",
        r"\*\_\*: result not recorded",
        "fueldump: no result (round 2 missing)",
        "adlernest: no result (round 1 missing)",
    ]


def test_an_evening_of_twenty_maps_lists_every_map() -> None:
    maps = [
        reads_pb2.SessionMap(
            map="sw_goldrush_te",
            result=rounds_pb2.MapResult(outcome="round2_attackers", time_to_beat_s=900),
            winner=1 + i % 2,
        )
        for i in range(20)
    ]
    teams = reads_pb2.SessionScore(team_a=["A" * 36] * 6, team_b=["B" * 36] * 6, maps=20)
    embed = overview_embed(reads_pb2.SessionSummary(maps=maps, scores=[teams]))
    listed = "\n".join(str(f.value) for f in embed.fields if f.name in ("Maps", "Maps, continued"))
    assert listed.count("\n") == 19 and "more maps" not in listed


def test_the_picture_is_drawn_from_every_player_and_round_start() -> None:
    s = reads_pb2.SessionSummary(
        source="main",
        first_stamp="2026-11-20 21:10:00",
        last_stamp="2026-11-20 21:30:00",
        players=[player("olz", 1), player("[BOT]Nyx", 2, bot=True)],
        rounds=[
            reads_pb2.SessionRound(
                stamp="2026-11-20 21:10:00", map="supply", round=1, playtime_ms=600000,
                winner_team=2,
            ),
            reads_pb2.SessionRound(  # the file does not say how long it was played
                stamp="2026-11-20 21:30:00", map="supply", round=2, time_limit_s=540,
                winner_team=1,
            ),
        ],
    )  # fmt: skip
    picture = session_picture(s)
    assert picture.title == "main · session 2026-11-20 21:10 to 21:30"
    assert [(p.name, p.kills, p.deaths) for p in picture.players] == [
        ("olz", 999, 1),
        ("[BOT]Nyx (bot)", 998, 2),
    ]
    assert picture.players[0].damage == 123456.7
    assert [(str(r.started), r.round, r.winner) for r in picture.rounds] == [
        ("2026-11-20 21:00:00", 1, 2),
        ("2026-11-20 21:21:00", 2, 1),
    ]
