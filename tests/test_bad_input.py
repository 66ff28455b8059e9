"""Broken and hostile input, dropped where one running stack watches (a local
directory and an SFTP server): each case is rejected once with its reason, or
skipped with one warning that is counted and shown in status with the file's
name; and the next good file is still imported within seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from etstats.statsfile.generator import generate_match
from etstats_cli.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from services.common.bus import Bus, connect
from services.common.control import Control
from services.common.reports import status_text
from services.common.sources import SourceConfig
from services.fetcher.service import main as fetcher_main
from services.parser.service import ParserConfig
from services.parser.service import main as parser_main
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.conftest import common_config
from tests.inprocess import running
from tests.sshservers import SshServer, start_asyncssh
from tests.test_fetcher import SyncResults, caught_up, conf, sample
from tests.test_poison_pipeline import BODY, ledger
from tests.waiting import wait_until

pytestmark = [pytest.mark.service, pytest.mark.asyncio(loop_scope="module")]

BOX, SFTP = "box", "main"  # a local directory and an SFTP server
IMPORTED_WITHIN_S = 15.0
MAX_FILE_BYTES = 1_000_000  # the default


@dataclass
class Stack:
    bus: Bus
    database_url: str
    dirs: dict[str, Path]
    sftp: SshServer
    holders: list[asyncio.subprocess.Process] = field(default_factory=list)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    tmp_path_factory: pytest.TempPathFactory, postgres: EmbeddedPostgres
) -> AsyncIterator[Stack]:
    """Storage, parser and a fetcher of both sources, shared by every case."""
    tmp = tmp_path_factory.mktemp("bad-input")
    nats = EmbeddedNats(tmp / "nats", free_port())
    nats.start()
    sftp = await start_asyncssh(tmp)
    box = tmp / "box"
    box.mkdir()
    database_url = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
    settings = conf(SourceConfig(BOX, dir=box), sftp.source(SFTP))
    try:
        async with (
            running("storage", storage_main, StorageConfig(database_url, 2), nats.url),
            running("parser", parser_main, ParserConfig(batch=16), nats.url),
            running("fetcher", fetcher_main, settings, nats.url) as fetcher,
        ):
            bus = await connect(common_config("parser", nats.url), asyncio.Event())
            assert bus is not None
            for source in (BOX, SFTP):
                await caught_up(fetcher, bus, source)
            stack = Stack(bus, database_url, {BOX: box, SFTP: sftp.root}, sftp)
            try:
                yield stack
            finally:
                for holder in stack.holders:
                    with contextlib.suppress(ProcessLookupError):
                        holder.kill()
                    await holder.wait()
                await bus.close()
    finally:
        sftp.close()
        nats.stop()


def good_round(seed: int) -> tuple[str, bytes]:
    """A valid first round of its own (no two cases share a body or a name)."""
    when = datetime(2026, 11, 25, 20) + timedelta(minutes=seed)
    r1, _ = generate_match(random.Random(seed), when)
    return r1.filename, r1.body


# What a case does to the directory: write its input under the name it is given.
Make = Callable[[Stack, Path, str], object]


def writes(body: bytes) -> Make:
    return lambda _stack, directory, name: (directory / name).write_bytes(body)


def replaced(old: bytes, new: bytes) -> Make:
    assert old in BODY
    return writes(BODY.replace(old, new, 1))


def undecodable(_stack: Stack, directory: Path, name: str) -> None:
    """The name with a byte that is not UTF-8 in the map (a Latin-1 'é')."""
    raw = os.fsencode(directory / name).replace(b"supply", b"suppl\xe9")
    with open(raw, "wb") as fh:
        fh.write(BODY)


LEASE_HOLDER = """
import fcntl, os, signal, sys
signal.signal(signal.SIGIO, signal.SIG_IGN)  # a reader only waits; the lease stays
fd = os.open(sys.argv[1], os.O_WRONLY)
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
print("held", flush=True)
sys.stdin.read()
"""


async def leased(stack: Stack, directory: Path, name: str) -> None:
    """A good file another program holds a write lease on (as Samba does for its
    clients): opening it fails, for root too. It gets its name once leased."""
    path = directory / f"{name}.part"
    path.write_bytes(BODY.replace(b"Fire", b"Ice", 1))
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LEASE_HOLDER,
        str(path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    stack.holders.append(holder)
    assert holder.stdout is not None
    assert await asyncio.wait_for(holder.stdout.readline(), 10) == b"held\n"
    path.rename(directory / name)


def release_leases(stack: Stack) -> None:
    for holder in stack.holders:
        holder.kill()


def denied(stack: Stack, directory: Path, name: str) -> None:
    """A good file the SFTP server refuses to open (a file of another user)."""
    stack.sftp.denied.append(name)
    (directory / name).write_bytes(BODY.replace(b"Fire", b"Wind", 1))


def allowed(stack: Stack) -> None:
    stack.sftp.denied.clear()


async def changed_after_import(stack: Stack, directory: Path, name: str) -> None:
    """Imported, then written to again (a writer that paused)."""
    name, body = good_round(902)
    path = directory / name
    path.write_bytes(body)
    await ledger(stack.database_url, [name])
    with path.open("ab") as fh:
        fh.write(b"\n")


@dataclass(frozen=True)
class Rejected:
    reason: str  # as the ledger and `etstats reimport --rejected` show it


@dataclass(frozen=True)
class Skipped:
    kind: str  # the label of etstats_fetcher_file_problems_total
    problem: str  # as the warning and `etstats status` show it
    fix: Callable[[Stack], None] | None = None  # then the file is imported


@dataclass(frozen=True)
class Imported:
    pass


@dataclass(frozen=True)
class Case:
    source: str
    make: Make
    outcome: Rejected | Skipped | Imported
    name: str = ""  # the name the case writes, when it is not the case's own


CASES = {
    "giant header field": Case(
        BOX,
        replaced(b"\\supply\\", b"\\" + b"s" * 990_000 + b"\\"),
        Rejected(
            f"parser: line 1, field 2: map '{'s' * 200}'… (990000 characters)"
            " differs from file name map 'supply'"
        ),
    ),
    "huge number": Case(
        SFTP,
        replaced(b"\\1\\1\\2\\", b"\\1\\" + b"9" * 5000 + b"\\2\\"),
        Rejected(
            f"parser: line 1, field 5 'defender team' '{'9' * 200}'… (5000 characters):"
            " outside -32767..32767"
        ),
    ),
    "NUL in a name": Case(
        BOX,
        replaced(b"Fire", b"Fi\x00re"),
        Rejected("parser: line 2, field 'name': contains a NUL character"),
    ),
    "truncated": Case(
        BOX,
        writes(BODY[: len(BODY) // 2]),
        Rejected("parser: line 2: 29 extended values, expected 36 or 38"),
    ),
    "binary junk": Case(
        SFTP,
        writes(random.Random(1).randbytes(3000)),
        Rejected("parser: line 1: header has 1 fields, expected 8 or 9"),
    ),
    "empty file": Case(
        BOX, writes(b""), Rejected("parser: line 1: header has 1 fields, expected 8 or 9")
    ),
    "header only": Case(
        BOX,
        writes(BODY.split(b"\n")[0] + b"\n"),
        Rejected("parser: no player lines after the header"),
    ),
    "UTF-16": Case(
        BOX,
        writes(BODY.decode("latin-1").encode("utf-16")),
        Rejected("parser: line 1, field 1 'server name': contains a NUL character"),
    ),
    "Latin-1 in a name": Case(BOX, replaced(b"Fire", b"F\xe9re"), Imported()),
    "over the size cap": Case(
        BOX,
        writes(BODY + b"\n" * (MAX_FILE_BYTES + 1 - len(BODY))),
        Rejected(
            f"fetcher: file is over MAX_FILE_BYTES={MAX_FILE_BYTES} bytes"
            f" ({MAX_FILE_BYTES + 1} bytes listed)"
        ),
    ),
    "directory": Case(
        BOX,
        lambda _s, d, n: (d / n).mkdir(),
        Skipped("not_a_file", "a directory, not a regular file: skipped"),
    ),
    "dangling symlink": Case(
        BOX,
        lambda _s, d, n: (d / n).symlink_to(d / "nowhere"),
        Skipped("not_a_file", "a symbolic link, not a regular file: skipped"),
    ),
    "named pipe": Case(
        SFTP,  # OpenSSH's server would wait forever to open it
        lambda _s, d, n: os.mkfifo(d / n),
        Skipped("not_a_file", "a named pipe, not a regular file: skipped"),
    ),
    "leased file": Case(
        BOX,
        leased,
        Skipped("unreadable", "cannot read: Resource temporarily unavailable", release_leases),
    ),
    "refused by the SFTP server": Case(
        SFTP, denied, Skipped("unreadable", "cannot read: Permission denied", allowed)
    ),
    "name not UTF-8 (SFTP)": Case(
        SFTP,
        undecodable,
        Skipped("undecodable_name", "name is not UTF-8: skipped"),
    ),
    "name not UTF-8 (directory)": Case(
        BOX,
        undecodable,
        Skipped("undecodable_name", "name is not UTF-8: skipped"),
    ),
    "changed after import": Case(
        SFTP,
        changed_after_import,
        Skipped(
            "changed_after_import",
            "changed after import; the stored round is of the earlier content",
        ),
        name=good_round(902)[0],
    ),
}


def shown_name(case: Case, name: str) -> str:
    """The file's name as warnings and status show it."""
    if case.make is undecodable:
        return name.replace("supply", "suppl\\xe9")
    return case.name or name


async def imported(stack: Stack, name: str) -> None:
    rows = await ledger(stack.database_url, [name], within=IMPORTED_WITHIN_S)
    assert rows == {name: ("imported", None)}


def problems(source: str, kind: str) -> float:
    return sample("etstats_fetcher_file_problems_total", source=source, kind=kind)


async def status(stack: Stack) -> str:
    return status_text(*await Control(stack.bus).statuses())


@pytest.mark.parametrize("what", list(CASES))
async def test_bad_input_is_turned_away_and_the_next_file_imported(
    what: str, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    case = CASES[what]
    number = list(CASES).index(what)
    name = f"2026-11-24-20{number:02d}00-supply-round-1.txt"
    directory = stack.dirs[case.source]
    outcome = case.outcome
    kind = outcome.kind if isinstance(outcome, Skipped) else ""
    before = problems(case.source, kind)
    caplog.set_level(logging.WARNING)

    result = case.make(stack, directory, name)
    if asyncio.iscoroutine(result):
        await result
    good, body = good_round(number)
    (directory / good).write_bytes(body)

    await imported(stack, good)
    if isinstance(outcome, Rejected):
        assert await ledger(stack.database_url, [name]) == {name: ("rejected", outcome.reason)}
    elif isinstance(outcome, Imported):
        await imported(stack, name)
    else:
        shown = shown_name(case, name)
        line = f"  skipped: {shown}: {outcome.problem}"

        async def in_status() -> bool:
            return line in (await status(stack)).splitlines()

        await wait_until(in_status, IMPORTED_WITHIN_S, f"{line!r} in `etstats status`")
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warnings.count(f"{shown}: {outcome.problem}") == 1, warnings
        assert problems(case.source, kind) == before + 1
        if outcome.fix is not None:  # fixed, it comes in with the next listing
            outcome.fix(stack)
            again, again_body = good_round(100 + number)
            (directory / again).write_bytes(again_body)
            await imported(stack, shown)
            assert line not in (await status(stack)).splitlines()


async def test_a_sync_of_everything_ends_despite_unreadable_files(stack: Stack) -> None:
    """`etstats sync all` reports the files it could not read and ends."""
    control = Control(stack.bus)
    for source in (BOX, SFTP):
        await control.set_monitoring(source, False, "test")
    await wait_until(
        lambda: all(sample("etstats_fetcher_monitoring", source=s) == 0 for s in (BOX, SFTP)),
        what="the fetcher to see monitoring off",
    )
    await leased(stack, stack.dirs[BOX], "2026-11-26-200000-supply-round-1.txt")
    denied(stack, stack.dirs[SFTP], "2026-11-26-200000-supply-round-1.txt")
    good, body = good_round(950)
    (stack.dirs[BOX] / good).write_bytes(body)
    results = await SyncResults().start(stack.bus)

    accepted = await control.sync("all", [])
    result = await results.wait_for(accepted.sync_id)

    assert (result.imported, result.rejected) == (1, 0)
    assert {p.source: p.failed for p in result.sources} == {BOX: 1, SFTP: 1}
