"""Long reports are split into messages of whole lines, never cut (pure)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.bot.replies import MAX_MESSAGE, code_blocks

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
