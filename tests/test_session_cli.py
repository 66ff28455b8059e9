"""`etstats session` as a process, against storage over the league."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from services.storage.migrations import migrate
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.inprocess import running
from tests.players_data import START, league, store
from tests.test_ops_cli import cli

pytestmark = pytest.mark.e2e


async def test_sessions_in_a_terminal(nats_server, database_url: str) -> None:
    url = nats_server.url
    code, _, err = await cli(url, "session")
    assert code == 1 and "the storage service is not answering" in err
    conn = await asyncpg.connect(database_url)
    await migrate(conn)
    async with running("storage", storage_main, StorageConfig(database_url, 2), url):
        code, out, err = await cli(url, "session")
        assert (code, out.strip(), err) == (0, "No session yet.", "")
        await store(conn, league())
        await store(conn, league(matches=1, seed=3, start=START - timedelta(hours=5)))
        await conn.close()

        code, out, err = await cli(url, "session", "2026-11-20")
        assert code == 0 and err == ""
        lines = out.splitlines()
        assert lines[0].startswith("== Session 1 of 2 · 2026-11-20 16:")
        assert lines[1].startswith("2 rounds on 1 map, ")
        assert "-- Maps" in lines and "-- Score" in lines and "-- Awards" in lines
        assert lines.count("== Players 1 to 8 of 8 ==") == 2
        evening = [n for n, line in enumerate(lines) if line.startswith("== Session 2 of 2 · ")]
        assert len(evening) == 1 and lines[evening[0]].startswith(
            "== Session 2 of 2 · 2026-11-20 21:"
        )
        assert lines[evening[0] + 1].startswith("12 rounds on 6 maps, ")
        assert sum(line.startswith("`#") for line in lines) == 8 + 8

        code, out, _ = await cli(url, "session", "--source", "main")
        assert code == 0 and out.startswith("== Session · 2026-11-20 21:")
        code, out, _ = await cli(url, "session", "2026-11-19")
        assert (code, out.strip()) == (0, "No session began on 2026-11-19.")
        code, _, err = await cli(url, "session", "banana")
        assert code == 2
        assert err.strip() == (
            "etstats: 'banana' is not a day: give a date (2026-11-24), today or yesterday"
            " (storage session, error 400)"
        )
        code, _, err = await cli(url, "session", "--source", "nowhere")
        assert code == 2 and "no rounds of a source 'nowhere' are stored (sources: main)" in err
