"""The round stats file format: pure code, no I/O (see docs/stats-format.md)."""

from etstats.statsfile.model import Header, ParsedFile, Player, Weapon
from etstats.statsfile.names import FileKind, FileName, classify_name
from etstats.statsfile.parser import ParseError, parse

__all__ = [
    "FileKind",
    "FileName",
    "Header",
    "ParseError",
    "ParsedFile",
    "Player",
    "Weapon",
    "classify_name",
    "parse",
]
