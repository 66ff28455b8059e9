"""Database backups with pg_dump's custom format, kept in rotation."""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime
from pathlib import Path

PREFIX = "etstats-"
SUFFIX = ".dump"


class BackupError(Exception):
    """pg_dump is missing or failed; the message says which."""


def find_pg_dump(configured: str | None) -> str | None:
    """PG_DUMP, else pg_dump on PATH, else the one shipped with the embedded PostgreSQL."""
    if configured:
        return configured
    if found := shutil.which("pg_dump"):
        return found
    try:
        from pgserver._commands import POSTGRES_BIN_PATH
    except ImportError:
        return None
    bundled = POSTGRES_BIN_PATH / "pg_dump"
    return str(bundled) if bundled.exists() else None


async def backup(pg_dump: str | None, database_url: str, directory: Path, keep: int) -> Path:
    """Write a new dump, then delete all but the `keep` newest; returns the new file."""
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
        raise BackupError(f"pg_dump failed: {message[-1] if message else proc.returncode}")
    await asyncio.to_thread(_finish, partial, target, keep)
    return target


def _finish(partial: Path, target: Path, keep: int) -> None:
    partial.rename(target)
    for old in sorted(target.parent.glob(f"{PREFIX}*{SUFFIX}"))[:-keep]:
        old.unlink(missing_ok=True)


def latest(directory: Path) -> Path | None:
    dumps = sorted(directory.glob(f"{PREFIX}*{SUFFIX}"))
    return dumps[-1] if dumps else None
