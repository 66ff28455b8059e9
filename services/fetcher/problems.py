"""Files of a source the fetcher cannot take, one at a time.

A bad file (unreadable, not a regular file, a name that is not UTF-8, changed
after import) must never hold up the files next to it: each is warned about
once, counted, and shown in status with its name until it is gone or fixed.
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Iterable

from prometheus_client import Counter

from etstats.statsfile import FileKind, classify_name
from services.fetcher.source import Entry, SourceError

log = logging.getLogger(__name__)

FILE_PROBLEMS = Counter(
    "etstats_fetcher_file_problems_total",
    "Files skipped or found broken, by kind (unreadable, not_a_file, undecodable_name, "
    "changed_after_import); each file and reason counts once.",
    ["source", "kind"],
)

# A directory entry as a source lists it: name, mode, size, mtime in nanoseconds.
Listed = tuple[bytes, int | None, int, int]

# Problems status lists by name; the rest are counted.
SHOWN = 5

_TYPES = {"d": "directory", "l": "symbolic link", "p": "named pipe", "s": "socket"}


def file_type(mode: int | None) -> str:
    """'regular file', 'directory', ... from a stat mode (an SFTP listing's permissions)."""
    if mode is None or not stat.S_IFMT(mode):
        return "entry of unknown type"
    if stat.S_ISREG(mode):
        return "regular file"
    return _TYPES.get(stat.filemode(mode)[0], "device")


def printable(raw: bytes) -> str:
    """A name for people and logs, whatever its bytes."""
    return raw.decode("utf-8", "backslashreplace")


class FileProblems:
    """The current problem of each file of one source, by name."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.current: dict[str, str] = {}

    def report(self, name: str, kind: str, message: str) -> None:
        """Warn and count once per file and message; a repeat is quiet."""
        if self.current.get(name) == message:
            return
        self.current[name] = message
        FILE_PROBLEMS.labels(source=self.source, kind=kind).inc()
        log.warning("%s: %s", name, message, extra={"source": self.source, "file": name})

    def clear(self, name: str) -> None:
        self.current.pop(name, None)

    def entries(self, listing: Iterable[Listed]) -> dict[str, Entry]:
        """The files to consider among a directory's (name, mode, size, mtime_ns):
        regular files with UTF-8 names. Problems of files now gone are forgotten."""
        entries, problems = {}, set(self.current)
        for raw, mode, size, mtime_ns in listing:
            if problems:  # those still listed are not gone
                problems.discard(printable(raw))
            if (name := self._listed(raw, mode)) is not None:
                entries[name] = Entry(name, size, mtime_ns)
        for gone in problems:
            del self.current[gone]
        return entries

    def _listed(self, raw: bytes, mode: int | None) -> str | None:
        """The entry's name if it is a regular file with a UTF-8 name; anything
        else named like a stats file is reported."""
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.report(printable(raw), "undecodable_name", "name is not UTF-8: skipped")
            return None
        kind = file_type(mode)
        if kind == "regular file":
            return name
        if classify_name(name).kind is FileKind.STATS:
            self.report(name, "not_a_file", f"a {kind}, not a regular file: skipped")
        return None

    def unreadable(self, name: str, reason: str) -> SourceError:
        """Report a file that could not be read; the error to raise for it."""
        self.report(name, "unreadable", f"cannot read: {reason}")
        return SourceError("unreadable", f"cannot read {name}: {reason}")

    def lines(self) -> list[str]:
        """`<name>: <problem>` of a few files, and how many more there are."""
        shown = [f"{name}: {message}" for name, message in sorted(self.current.items())[:SHOWN]]
        if len(self.current) > SHOWN:
            shown.append(f"and {len(self.current) - SHOWN} more")
        return shown
