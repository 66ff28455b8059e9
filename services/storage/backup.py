"""Database backups with pg_dump's custom format, kept in rotation."""

from __future__ import annotations

import asyncio
import functools
import re
import shutil
import subprocess
import warnings
from datetime import datetime
from pathlib import Path

from nats.js.errors import KeyNotFoundError

from services.common.bus import Bus
from services.common.subjects import BACKUPS_BUCKET

PREFIX = "etstats-"
SUFFIX = ".dump"
LAST_KEY = "last"


class BackupError(Exception):
    """pg_dump is missing or failed; the message says which."""


@functools.cache
def find_pg_dump(configured: str | None) -> str | None:
    """PG_DUMP if set; else the newest pg_dump found, on PATH or shipped with the
    embedded PostgreSQL (a pg_dump can dump servers up to its own version)."""
    if configured:
        return configured
    candidates = [p for p in (shutil.which("pg_dump"), _bundled()) if p]
    return max(candidates, key=_version, default=None)


def _bundled() -> str | None:
    try:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR
            warnings.simplefilter("ignore")
            from pgserver._commands import POSTGRES_BIN_PATH
    except ImportError:
        return None
    path = POSTGRES_BIN_PATH / "pg_dump"
    return str(path) if path.exists() else None


def _version(pg_dump: str) -> tuple[int, ...]:
    try:
        out = subprocess.run(
            [pg_dump, "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    match = re.search(r"(\d+)(?:\.(\d+))?", out)
    return tuple(int(g) for g in match.groups() if g) if match else ()


async def backup(configured: str | None, database_url: str, directory: Path, keep: int) -> Path:
    """Write a new dump with `configured` pg_dump (None: the newest found), then
    delete all but the `keep` newest; returns the new file."""
    pg_dump = await asyncio.to_thread(find_pg_dump, configured)
    if pg_dump is None:
        raise BackupError("pg_dump not found: install the PostgreSQL client or set PG_DUMP")
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    target = directory / f"{PREFIX}{datetime.now():%Y%m%d-%H%M%S-%f}{SUFFIX}"
    partial = target.with_suffix(".partial")
    proc = await asyncio.create_subprocess_exec(
        pg_dump,
        "--format=custom",
        "--no-owner",
        f"--file={partial}",
        f"--dbname={database_url}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await proc.communicate()
    if proc.returncode != 0:
        await asyncio.to_thread(partial.unlink, missing_ok=True)
        message = stderr.decode(errors="replace").strip().splitlines()
        detail = message[-1] if message else f"exit status {proc.returncode}"
        hint = (
            " (set PG_DUMP to a pg_dump at least as new as the server)"
            if "version" in detail
            else ""
        )
        raise BackupError(f"pg_dump failed: {detail}{hint}")
    await asyncio.to_thread(_finish, partial, target, keep)
    return target


def _finish(partial: Path, target: Path, keep: int) -> None:
    partial.rename(target)
    for old in sorted(target.parent.glob(f"{PREFIX}*{SUFFIX}"))[:-keep]:
        old.unlink(missing_ok=True)


def latest(directory: Path) -> Path | None:
    dumps = sorted(directory.glob(f"{PREFIX}*{SUFFIX}"))
    return dumps[-1] if dumps else None


async def record(bus: Bus, written_at: float) -> None:
    """Tell every storage replica (and so the last-backup alert) that a backup exists."""
    kv = await bus.key_value(BACKUPS_BUCKET)
    await kv.put(LAST_KEY, f"{written_at:.3f}".encode())


async def last_recorded(bus: Bus) -> float:
    """When the newest backup anywhere was written; 0 when none is known."""
    kv = await bus.key_value(BACKUPS_BUCKET)
    try:
        entry = await kv.get(LAST_KEY)
    except KeyNotFoundError:
        return 0.0
    return float(entry.value or 0)
