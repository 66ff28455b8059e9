"""Rounds as the fetcher and the parser would publish them, for pipeline tests."""

from __future__ import annotations

from etstats.contract import common_pb2, files_pb2, rounds_pb2
from etstats.contract.rounds import parsed_round
from etstats.statsfile import parse
from etstats.statsfile.generator import GeneratedFile
from services.common.bus import Bus
from services.common.subjects import RAW, stage_subject


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


def ref(filename: str, source: str = "main") -> common_pb2.FileRef:
    return common_pb2.FileRef(
        source=source, filename=filename, sha256="00", msg_id=f"{source}/{filename}/00"
    )


async def publish_raw(
    bus: Bus, filename: str, body: bytes, source: str = "main", *, recent: bool = False
) -> None:
    """A file as the fetcher publishes it (`recent`: a round to post)."""
    file = ref(filename, source)
    file.recent = recent
    raw = files_pb2.RawFile(file=file, size=len(body), body=body)
    subject = stage_subject(RAW, source, live=recent)
    await bus.publish(subject, raw.SerializeToString(), msg_id=file.msg_id)
