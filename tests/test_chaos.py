"""The fault suite's reduced set (`make chaos` runs every scenario): a sync with
live rounds being played, through the stack as deployed, loses nothing, posts
every live round once and in order, and needs no operator."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.chaos import QUICK, SCENARIOS, run_scenario
from tests.sshservers import ensure_sshd

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("name", QUICK)
async def test_a_fault_during_a_sync_loses_nothing(name: str, tmp_path: Path) -> None:
    assert ensure_sshd() is None, "the fault suite needs OpenSSH's sshd"
    [scenario] = [s for s in SCENARIOS if s.name == name]
    result = await run_scenario(scenario, tmp_path, old_files=200, live_rounds=4)
    assert result.clean(), result
