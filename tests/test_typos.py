"""Suggestions for unknown commands (pure)."""

import pytest

from services.bot.typos import close_commands

pytestmark = pytest.mark.unit

NAMES = [
    "sync_stats", "sync_today", "sync_week", "sync_month", "sync_all", "sync_cancel",
    "start_monitoring", "stop_monitoring", "ssh_stats", "health", "backup", "help",
]  # fmt: skip


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        (
            "sync",
            ["sync_all", "sync_cancel", "sync_month", "sync_stats", "sync_today", "sync_week"],
        ),
        ("sync_stat", ["sync_stats"]),
        ("SYNC_TODYA", ["sync_today"]),
        ("cancel", ["sync_cancel"]),
        ("hlep", ["help"]),
        ("backpu", ["backup"]),
        ("monitoring", ["start_monitoring", "stop_monitoring"]),
        ("xyzzy", []),  # nothing like ours: another bot's, perhaps
        ("sy", []),  # too short to tell
        ("help", []),  # a known command is no typo
    ],
)
def test_close_commands(typed: str, meant: list[str]) -> None:
    assert close_commands(typed, NAMES) == meant
