"""A source that is a directory on this machine."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from services.fetcher.source import Entry


class DirectorySource:
    """Blocking file-system calls run in a thread so the event loop stays free."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path

    async def stamp(self) -> int | None:
        """The directory's mtime: it changes whenever an entry is added or removed."""
        try:
            return (await asyncio.to_thread(os.stat, self.path)).st_mtime_ns
        except FileNotFoundError:
            return None

    async def list(self) -> dict[str, Entry]:
        return await asyncio.to_thread(self._list)

    def _list(self) -> dict[str, Entry]:
        entries = {}
        try:
            with os.scandir(self.path) as scan:
                for item in scan:
                    if item.is_file(follow_symlinks=False):
                        st = item.stat(follow_symlinks=False)
                        entries[item.name] = Entry(item.name, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            pass
        return entries

    @property
    def connected(self) -> bool:
        return True

    @property
    def connections(self) -> int:
        return 1

    async def close(self) -> None:
        """Nothing to release."""

    async def read(self, name: str, max_bytes: int) -> bytes:
        """Read one file; `name` was validated by the file-name grammar."""
        return await asyncio.to_thread(self._read, name, max_bytes)

    def _read(self, name: str, max_bytes: int) -> bytes:
        with open(self.path / name, "rb") as fh:
            return fh.read(max_bytes + 1)
