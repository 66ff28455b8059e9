"""File-name grammar: `YYYY-MM-DD-HHMMSS-<map>-round-<N>.txt`."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

MAX_NAME_BYTES = 255

# Anchored on the fixed stamp prefix and the `-round-N.txt` suffix: map names
# contain `-` themselves, so the name is never split on `-`.
_STATS = re.compile(
    r"(?P<stamp>\d{4}-\d{2}-\d{2}-\d{6})-(?P<map>[A-Za-z0-9_.+-]+?)-round-(?P<round>[12])\.txt"
)
_SIDECAR = re.compile(r"\d{4}-\d{2}-\d{2}-\d{6}-.+-round-\d+(_ws|-endstats)\.txt")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class FileKind(enum.Enum):
    STATS = "stats"  # a round stats file
    SIDECAR = "sidecar"  # weapon or awards side file: ignored
    OTHER = "other"  # anything else in the directory: ignored
    HOSTILE = "hostile"  # never used to build a path: ignored with a warning


@dataclass(frozen=True, slots=True)
class FileName:
    name: str
    kind: FileKind
    stamp: datetime | None = None
    map: str = ""
    round: int = 0

    @property
    def stamp_text(self) -> str:
        return self.stamp.strftime("%Y-%m-%d %H:%M:%S") if self.stamp else ""


def classify_name(name: str) -> FileName:
    """What a directory entry is, by its name alone."""
    if (
        not name
        or len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES
        or "/" in name
        or "\\" in name
        or ".." in name
        or _CONTROL.search(name)
    ):
        return FileName(name, FileKind.HOSTILE)
    if _SIDECAR.fullmatch(name):
        return FileName(name, FileKind.SIDECAR)
    match = _STATS.fullmatch(name)
    if match is None:
        return FileName(name, FileKind.OTHER)
    text = match["stamp"]
    try:  # strptime is ten times slower than this
        stamp = datetime(
            int(text[0:4]),
            int(text[5:7]),
            int(text[8:10]),
            int(text[11:13]),
            int(text[13:15]),
            int(text[15:17]),
        )
    except ValueError:  # 2026-13-45 and friends
        return FileName(name, FileKind.OTHER)
    return FileName(name, FileKind.STATS, stamp, match["map"], int(match["round"]))
