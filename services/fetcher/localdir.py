"""A source that is a directory on this machine."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from services.fetcher.problems import FileProblems, Listed, file_type
from services.fetcher.source import Entry, SourceError

T = TypeVar("T")
Listing = list[Listed]  # `list` is a method's name in the class


class DirectorySource:
    """Blocking file-system calls run in a thread so the event loop stays free.

    The directory is never created here: a wrong or unmounted path must show
    as missing, not as an empty directory that is watched in vain."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self.problems = FileProblems(name)
        self._there = False

    async def stamp(self) -> int | None:
        """The directory's mtime: it changes whenever an entry is added or removed."""
        return (await self._look(lambda: os.stat(self.path))).st_mtime_ns

    async def list(self) -> dict[str, Entry]:
        return self.problems.entries(await self._look(self._scan))

    async def _look(self, call: Callable[[], T]) -> T:
        """A look at the directory in a thread; its absence is this source's error."""
        try:
            result = await asyncio.to_thread(call)
        except FileNotFoundError:
            self._there = False
            raise SourceError("missing_dir", f"directory {self.path} does not exist") from None
        except OSError as exc:
            self._there = False
            raise SourceError("io", f"cannot list {self.path}: {exc.strerror}") from None
        self._there = True
        return result

    def _scan(self) -> Listing:
        """(name, mode, size, mtime) of every entry; names as bytes, whatever they are."""
        found: Listing = []
        with os.scandir(os.fsencode(self.path)) as scan:
            for item in scan:
                try:
                    st = item.stat(follow_symlinks=False)
                except FileNotFoundError:  # removed since it was listed
                    continue
                found.append((item.name, st.st_mode, st.st_size, st.st_mtime_ns))
        return found

    @property
    def connected(self) -> bool:
        """The directory was there at the last look."""
        return self._there

    @property
    def connections(self) -> int:
        return 1

    async def close(self) -> None:
        """Nothing to release."""

    async def read(self, name: str, max_bytes: int) -> bytes:
        body, _ = await self.read_and_stat(name, max_bytes)
        return body

    async def read_and_stat(self, name: str, max_bytes: int) -> tuple[bytes, Entry]:
        """Read one file; `name` was validated by the file-name grammar."""
        try:
            read = await asyncio.to_thread(self._read, name, max_bytes)
        except FileNotFoundError:
            raise SourceError("missing", f"{name}: no such file") from None
        except OSError as exc:
            raise self.problems.unreadable(name, exc.strerror or str(exc)) from None
        self.problems.clear(name)
        return read

    def _read(self, name: str, max_bytes: int) -> tuple[bytes, Entry]:
        # Never follow a link out of the directory; never wait on a pipe or a lease.
        fd = os.open(self.path / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with open(fd, "rb") as fh:
            if not stat.S_ISREG(mode := os.fstat(fd).st_mode):
                raise OSError(0, f"a {file_type(mode)}, not a regular file")
            body = fh.read(max_bytes + 1)
            after = os.fstat(fd)
        return body, Entry(name, after.st_size, after.st_mtime_ns)
