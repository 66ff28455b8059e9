"""The local stack's console reads every line a service writes, however long."""

from __future__ import annotations

import asyncio
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etstats_cli.stack import LINE_LIMIT, Child, Console, bounded_lines


@pytest.mark.service  # runs a child process
async def test_a_line_over_the_limit_is_noted_and_reading_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    long = 3 * LINE_LIMIT
    script = f"import sys; sys.stdout.write('first\\n' + 'x' * {long} + '\\nafter\\n')"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    console = Console(json_logs=False)
    await asyncio.wait_for(Child("parser", {}, console)._pump(proc.stdout, console.say), 30)
    assert await asyncio.wait_for(proc.wait(), 30) == 0  # never blocked on a full pipe
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("| first")
    assert lines[-1].endswith("| after")
    assert any(f"a log line over {LINE_LIMIT:,} bytes was cut" in line for line in lines)
    assert all(len(line) < 200 for line in lines)


@pytest.mark.unit
@given(
    lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=20),
    limit=st.integers(min_value=1, max_value=30),
    cuts=st.lists(st.integers(min_value=1, max_value=50), max_size=30),
)
def test_bounded_lines_keeps_short_lines_and_marks_each_long_one(
    lines: list[bytes], limit: int, cuts: list[int]
) -> None:
    data = b"".join(line + b"\n" for line in lines)

    async def read() -> list[bytes | None]:
        stream = asyncio.StreamReader()
        rest = data
        for cut in cuts:  # arrives in arbitrary pieces
            stream.feed_data(rest[:cut])
            rest = rest[cut:]
        stream.feed_data(rest)
        stream.feed_eof()
        return [line async for line in bounded_lines(stream, limit)]

    got = asyncio.run(read())
    assert got == [line if len(line) <= limit else None for line in lines]
