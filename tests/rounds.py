"""Parsed rounds as the parser would publish them, for storage tests."""

from __future__ import annotations

from etstats.statsfile import parse
from etstats.statsfile.generator import GeneratedFile
from proto import common_pb2, rounds_pb2
from services.parser.convert import to_message


def parsed(
    generated: GeneratedFile,
    source: str = "main",
    *,
    filename: str | None = None,
    sha256: str = "00",
    origin: int = common_pb2.ORIGIN_SYNC,
) -> rounds_pb2.ParsedRound:
    name = filename or generated.filename
    file = common_pb2.FileRef(
        source=source,
        filename=name,
        sha256=sha256,
        msg_id=f"{source}/{name}/{sha256}",
        origin=origin,
    )
    return to_message(parse(generated.body, generated.filename), file, len(generated.body))
