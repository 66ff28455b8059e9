"""Long reports are split into messages of whole lines, or say how much more
there is: never cut silently (pure)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etstats.contract import control_pb2
from services.bot.replies import MAX_MESSAGE, code_blocks
from services.common.render import sync_summary
from services.common.reports import result_text

pytestmark = pytest.mark.unit


@given(
    st.lists(
        st.text(
            alphabet=st.characters(exclude_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
            max_size=300,
        ),
        max_size=80,
    )
)
def test_every_line_is_kept_in_messages_within_the_limit(lines: list[str]) -> None:
    text = "\n".join(lines)
    blocks = code_blocks(text)
    assert all(len(b) <= MAX_MESSAGE for b in blocks)
    inner = [b.removeprefix("```\n").removesuffix("\n```") for b in blocks]
    assert "\n".join(inner) == text


def test_nine_sources_of_status_fit_in_two_messages() -> None:
    text = "\n".join(f"source{i}: " + "x" * 200 for i in range(9 * 5))
    blocks = code_blocks(text)
    assert len(blocks) > 1 and sum(b.count("source") for b in blocks) == 45


def test_a_sync_of_hundreds_of_maps_says_how_many_more_it_does_not_list() -> None:
    result = control_pb2.SyncResult(
        sync_id="s1",
        imported=900,
        rounds_per_map={f"map_{i:03d}": 3 for i in range(300)},
        rejections=[f"file{i}: bad" for i in range(50)],
        rejected=70,
    )
    text = result_text(result)
    assert len(text) <= MAX_MESSAGE
    assert "and 292 more maps" in text and "and 62 more rejected" in text
    summary = sync_summary(result).to_dict()
    maps = next(f for f in summary["fields"] if f["name"] == "Rounds per map")["value"]
    assert len(maps) <= 1024 and maps.endswith("more maps")
    listed = maps.count("\n")
    assert maps.endswith(f"+{300 - listed} more maps")
