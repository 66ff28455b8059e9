"""Wires the pure parser to the bus."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from nats.aio.msg import Msg
from prometheus_client import Counter, Histogram

from etstats.contract import common_pb2, files_pb2, rounds_pb2
from etstats.contract.rounds import parsed_round
from etstats.statsfile import ParseError, parse
from etstats.statsfile.parser import CODES
from services.common.config import Env
from services.common.consumer import Reject, consume, decode
from services.common.durables import PARSER, PARSER_LIVE
from services.common.errors import describe
from services.common.events import report
from services.common.metrics import mark_success, zero_stage
from services.common.runtime import Runtime
from services.common.subjects import PARSED, stage_msg_id, stage_subject

log = logging.getLogger(__name__)

PARSED_FILES = Counter("etstats_parser_files_parsed_total", "Stats files parsed.", ["source"])
PARSE_SECONDS = Histogram(
    "etstats_parser_parse_seconds",
    "Time to parse one stats file.",
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1),
)


@dataclass(frozen=True)
class ParserConfig:
    batch: int

    @classmethod
    def from_env(cls, env: Env) -> ParserConfig:
        return cls(batch=env.int("PARSER_BATCH", 32, minimum=1, maximum=256))


async def main(rt: Runtime, conf: ParserConfig) -> None:
    max_bytes = rt.cfg.max_file_bytes
    zero_stage("parser", (*CODES, "too_big", "parser_error"))

    def parse_one(msg: Msg) -> tuple[files_pb2.RawFile, rounds_pb2.ParsedRound, float]:
        raw = decode(files_pb2.RawFile, msg.data)
        if len(raw.body) > max_bytes:
            raise Reject(
                "too_big",
                f"file is {len(raw.body)} bytes, over MAX_FILE_BYTES={max_bytes}",
                raw.file,
            )
        started = time.perf_counter()
        try:
            parsed = parse(raw.body, raw.file.filename)
            message = parsed_round(parsed, raw.file, raw.size or len(raw.body))
        except ParseError as exc:
            raise Reject(exc.code, str(exc), raw.file) from None
        except Exception as exc:
            # Parsing is pure: the same bytes would fail the same way on every retry.
            log.exception("parser bug on %s", raw.file.filename)
            raise Reject(
                "parser_error", f"{type(exc).__name__}: {describe(exc)}", raw.file
            ) from exc
        seconds = time.perf_counter() - started
        PARSE_SECONDS.observe(seconds)
        return raw, message, seconds

    async def handle_batch(msgs: list[Msg]) -> None:
        """Parse every file, then publish the parsed rounds all in flight at once."""
        done = [parse_one(msg) for msg in msgs]
        await asyncio.gather(
            *(
                rt.bus.publish(
                    stage_subject(PARSED, raw.file.source, live=raw.file.recent),
                    message.SerializeToString(),
                    msg_id=stage_msg_id(PARSED, raw.file.msg_id),
                )
                for raw, message, _ in done
            )
        )
        for raw, _, seconds in done:
            await report(rt.bus, raw.file, "parser", "parsed", seconds)
            PARSED_FILES.labels(source=raw.file.source).inc()
            mark_success("parser", raw.file.source)

    async def handle(msg: Msg) -> None:
        await handle_batch([msg])

    def file_of(data: bytes) -> common_pb2.FileRef:
        return files_pb2.RawFile.FromString(data).file

    await asyncio.gather(
        consume(
            rt.bus,
            stage="parser",
            consumer=PARSER,
            handler=handle,
            batch_handler=handle_batch,
            stop=rt.stop,
            batch=conf.batch,
            file_of=file_of,
        ),
        consume(  # rounds to post: one at a time, in order, past the backlog
            rt.bus,
            stage="parser",
            consumer=PARSER_LIVE,
            handler=handle,
            stop=rt.stop,
            file_of=file_of,
        ),
    )
