"""Pipeline events: every stage reports what became of each file (storage logs them)."""

from __future__ import annotations

import logging
import time

from etstats.contract import common_pb2, control_pb2
from services.common.bus import Bus
from services.common.subjects import EVENTS, stage_subject

log = logging.getLogger(__name__)


async def report(
    bus: Bus,
    file: common_pb2.FileRef,
    stage: str,
    outcome: str,
    seconds: float = 0.0,
    detail: str = "",
) -> None:
    """Best effort, without waiting for the stream's ack: a lost event must never
    fail (or slow down) the work it describes."""
    event = control_pb2.PipelineEvent(
        file=file,
        stage=stage,
        outcome=outcome,
        seconds=seconds,
        detail=detail,
        at_ms=int(time.time() * 1000),
    )
    try:
        # A repeat (a redelivered file's) is dropped by the event log's unique key.
        await bus.send(stage_subject(EVENTS, file.source or "unknown"), event.SerializeToString())
    except Exception as exc:
        log.warning("could not report %s/%s: %s", stage, outcome, exc)
