"""Parsed rounds as the parser would publish them, for storage tests."""

from __future__ import annotations

from etstats.contract import common_pb2, rounds_pb2
from etstats.contract.rounds import parsed_round
from etstats.statsfile import parse
from etstats.statsfile.generator import GeneratedFile


def parsed(
    generated: GeneratedFile,
    source: str = "main",
    *,
    filename: str | None = None,
    sha256: str = "00",
    origin: common_pb2.Origin = common_pb2.ORIGIN_SYNC,
    recent: bool = False,
) -> rounds_pb2.ParsedRound:
    name = filename or generated.filename
    file = common_pb2.FileRef(
        source=source,
        filename=name,
        sha256=sha256,
        msg_id=f"{source}/{name}/{sha256}",
        origin=origin,
        recent=recent,
    )
    return parsed_round(parse(generated.body, generated.filename), file, len(generated.body))
