"""What the fetcher needs from a place that holds stats files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from services.fetcher.problems import FileProblems


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    size: int
    mtime_ns: int


class SourceError(Exception):
    """A source could not be reached or read; `kind` labels the metric.

    Kinds `unreadable` and `missing` concern one file: the others go on."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


PER_FILE = frozenset({"unreadable", "missing"})


class Source(Protocol):
    name: str
    problems: FileProblems

    @property
    def connected(self) -> bool: ...

    @property
    def connections(self) -> int:
        """Connections made so far: a change means a reconnect, so catch up again."""

    async def stamp(self) -> int | None:
        """A value that changes whenever an entry is added or removed."""

    async def list(self) -> dict[str, Entry]:
        """The regular files with UTF-8 names; others are reported to `problems`."""

    async def read(self, name: str, max_bytes: int) -> bytes:
        """Up to `max_bytes + 1` bytes, so the caller can tell a file is too big.

        A file that cannot be read is reported to `problems` and raises a
        SourceError of kind `unreadable`, one that is gone of kind `missing`."""

    async def read_and_stat(self, name: str, max_bytes: int) -> tuple[bytes, Entry]:
        """The same, and the file's size and mtime once read (a stat of the open
        file, the one read even if the name was replaced): whether it changed
        while it was read."""

    async def close(self) -> None: ...
