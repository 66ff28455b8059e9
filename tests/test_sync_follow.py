"""Following a sync never waits forever: a job that falls silent ends the follow."""

from __future__ import annotations

from pathlib import Path

import pytest

from etstats.contract import control_pb2
from services.common.control import Control, SyncLost
from services.common.sources import SourceConfig
from services.fetcher.service import main as fetcher_main
from tests.inprocess import running
from tests.test_fetcher import conf, many_files

pytestmark = pytest.mark.service


@pytest.mark.usefixtures("pipeline")
async def test_a_sync_whose_fetcher_dies_ends_with_sync_lost(
    nats_server, bus, tmp_path: Path
) -> None:
    box = many_files(tmp_path / "box", 1500, seed=401)
    control = Control(bus, follow_silence_s=2.0)
    await control.set_monitoring("box", False, "test")
    async with running(
        "fetcher", fetcher_main, conf(SourceConfig("box", dir=box)), nats_server.url
    ) as fetcher:
        accepted, events = await control.sync_and_follow("all")
        assert events is not None, "nothing else runs: the sync starts"
        seen: list[control_pb2.SyncProgress | control_pb2.SyncResult] = []
        with pytest.raises(SyncLost) as lost:
            async for item in events:
                seen.append(item)
                if isinstance(item, control_pb2.SyncProgress) and item.fetched:
                    await fetcher.kill()
    assert seen and all(isinstance(item, control_pb2.SyncProgress) for item in seen)
    assert str(lost.value).startswith(f"sync {accepted.sync_id} has sent nothing for 2s")
