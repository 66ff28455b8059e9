"""Poison through the real parser and storage: each is rejected once, with a
precise reason in the ledger and in status, and the next good file still gets
in (before, each was retried forever and nothing showed anywhere)."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest

from etstats.contract import rounds_pb2
from etstats.statsfile.generator import generate_match
from services.common import consumer
from services.common.bus import Bus
from services.common.control import Control
from tests.rounds import parsed, publish_raw
from tests.waiting import wait_until

pytestmark = pytest.mark.service

GOOD = Path(__file__).parent / "data/statsfiles/good/2026-11-24-201000-supply-round-1.txt"
BODY = GOOD.read_bytes()


async def publish_parsed(bus: Bus, message: rounds_pb2.ParsedRound) -> None:
    await bus.publish(
        "stats.parsed.main", message.SerializeToString(), msg_id=f"parsed:{message.file.msg_id}"
    )


async def ledger(
    database_url: str, filenames: list[str], within: float = 30
) -> dict[str, tuple[str, str | None]]:
    """(status, error) of each file, once every one of them is in the ledger."""
    conn = await asyncpg.connect(database_url)
    rows: dict[str, tuple[str, str | None]] = {}
    try:

        async def all_recorded() -> bool:
            found = await conn.fetch(
                "SELECT filename, status, error FROM files WHERE filename = ANY($1)", filenames
            )
            rows.update({r["filename"]: (r["status"], r["error"]) for r in found})
            return len(rows) == len(filenames)

        await wait_until(all_recorded, within=within, what=f"{filenames} in the ledger")
    finally:
        await conn.close()
    return rows


async def test_poison_files_are_rejected_with_the_field_and_the_next_file_imported(
    pipeline, bus: Bus, database_url: str
) -> None:
    name = "2026-11-24-2010{:02d}-supply-round-1.txt".format
    poison = {
        name(1): BODY.replace(b"\\1\\1\\2\\", b"\\1\\" + b"9" * 5000 + b"\\2\\", 1),
        name(2): BODY.replace(b"Fire", b"Fi\x00re", 1),
        name(3): BODY.replace(b"\\16 30 100", b"\\16 30 2147483648", 1),
        name(4): BODY.replace(b"\\supply\\", b"\\" + b"s" * 990_000 + b"\\", 1),
    }
    for filename, body in poison.items():
        await publish_raw(bus, filename, body)
    await publish_raw(bus, name(5), BODY)

    rows = await ledger(database_url, [*poison, name(5)])

    nines = "9" * 200
    assert rows == {
        name(1): (
            "rejected",
            f"parser: line 1, field 5 'defender team' '{nines}'… (5000 characters):"
            " outside -32767..32767",
        ),
        name(2): ("rejected", "parser: line 2, field 'name': contains a NUL character"),
        name(3): ("rejected", "parser: line 2, weapon stats '2147483648': over 1073741823"),
        name(4): (
            "rejected",
            f"parser: line 1, field 2: map '{'s' * 200}'… (990000 characters)"
            " differs from file name map 'supply'",
        ),
        name(5): ("imported", None),
    }

    async def in_status() -> bool:
        status = await Control(bus).storage_status()
        return status.counters["errors_last_hour"] == 4 and "parser rejected" in status.last_error

    await wait_until(in_status, what="the rejections in storage's status")


async def test_values_postgresql_refuses_are_rejected_by_storage_at_once(
    pipeline, bus: Bus, database_url: str
) -> None:
    """A round from a producer that does not check (an older parser, say)."""
    r1, _ = generate_match(random.Random(7), datetime(2026, 11, 24, 20), players=4)
    nul = parsed(r1, filename="nul-round-1.txt")
    nul.players[0].name = "a\x00b"
    smallint = parsed(r1, filename="smallint-round-1.txt", sha256="01")
    smallint.players[0].rounds = 40_000
    for message in (nul, smallint, parsed(r1, sha256="02")):
        await publish_parsed(bus, message)

    rows = await ledger(database_url, ["nul-round-1.txt", "smallint-round-1.txt", r1.filename])

    assert rows == {
        "nul-round-1.txt": (
            "rejected",
            'storage: CharacterNotInRepertoireError: invalid byte sequence for encoding "UTF8":'
            " 0x00",
        ),
        "smallint-round-1.txt": ("rejected", "storage: OverflowError: value out of int16 range"),
        r1.filename: ("imported", None),
    }


async def test_a_round_failing_on_every_delivery_is_rejected_after_the_bound(
    pipeline, bus: Bus, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumer, "MAX_DELIVERIES", 3)
    r1, _ = generate_match(random.Random(8), datetime(2026, 11, 24, 20), players=4)
    broken = parsed(r1, filename="stamp-round-1.txt")
    broken.stamp = "yesterday"  # fails in storage on every delivery (a ValueError)
    broken.payload_sha256 = "not the good file's"  # else it turns duplicate once that is in
    await publish_parsed(bus, broken)
    await publish_parsed(bus, parsed(r1, sha256="02"))

    rows = await ledger(database_url, ["stamp-round-1.txt", r1.filename])

    assert rows == {
        "stamp-round-1.txt": (
            "rejected",
            "storage: failed on 3 deliveries, last: ValueError: time data 'yesterday'"
            " does not match format '%Y-%m-%d %H:%M:%S'",
        ),
        r1.filename: ("imported", None),
    }
