"""`etstats stats` and `etstats top` as processes, against storage over the league."""

from __future__ import annotations

import asyncpg
import pytest

from services.storage.migrations import migrate
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.inprocess import running
from tests.players_data import league, store
from tests.test_ops_cli import cli

pytestmark = pytest.mark.e2e


async def test_stats_and_top_in_a_terminal(nats_server, database_url: str) -> None:
    url = nats_server.url
    code, _, err = await cli(url, "stats", "olz")
    assert code == 1 and "the storage service is not answering" in err
    conn = await asyncpg.connect(database_url)
    await migrate(conn)
    await store(conn, league())
    await conn.close()
    async with running("storage", storage_main, StorageConfig(database_url, 2), url):
        code, out, err = await cli(url, "stats", "^1fire^7FOX", "--period", "2026-11-20")
        assert code == 0 and err == ""
        lines = out.splitlines()
        assert lines[0] == "== FireFox · 2026-11-20 =="
        assert "-- K/D" in lines and "-- Top weapons" in lines
        assert lines[-1].strip() == "player AAAA0001"

        code, out, err = await cli(url, "stats", "fox")
        assert code == 2 and out == ""
        assert err.splitlines() == [
            "etstats: several players match 'fox':",
            "  AAAA0002  Foxtrot  (last seen 2026-11-21)",
            "  OMNIBOT0/[BOT]Fox  [BOT]Fox  (last seen 2026-11-21)",
            "  AAAA0001  FireFox  (last seen 2026-11-21)",
            "give one of these guids (a bot's as guid/name), or more of the name",
        ]
        code, out, err = await cli(url, "stats", "olzz")
        assert code == 2
        assert err.strip() == (
            "etstats: no player matches 'olzz'; did you mean olz? (storage stats, error 404)"
        )

        code, out, err = await cli(url, "top", "kd", "--min-rounds", "1")
        assert code == 0
        lines = out.splitlines()
        assert lines[0] == "== Top K/D · all time =="
        assert lines[1].startswith("`#1` ") and len(lines) == 1 + 6 + 1
        assert lines[-1].strip() == "6 players with at least 1 rounds · page 1/1"
        code, out, _ = await cli(url, "top", "kills", "--page", "2")
        assert code == 0 and "Nobody has 10 counted rounds" not in out
        assert out.splitlines()[-1].strip() == "6 players with at least 10 rounds · page 2/1"
        code, _, err = await cli(url, "top", "kils")
        assert code == 2 and "Did you mean kills?" in err
        code, _, err = await cli(url, "top", "kd", "--page", "0")
        assert code == 2 and "--page must be at least 1" in err
