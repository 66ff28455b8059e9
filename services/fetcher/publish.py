"""Putting a fetched file on the bus (shared by monitoring and sync jobs)."""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta

from prometheus_client import Counter, Histogram

from etstats.contract import common_pb2, files_pb2
from services.common.bus import Bus
from services.common.events import report
from services.common.metrics import REJECTIONS, mark_success
from services.common.subjects import RAW, REJECTED, raw_msg_id, stage_msg_id, stage_subject
from services.fetcher.source import Entry, Source

log = logging.getLogger(__name__)

FETCHED = Counter(
    "etstats_fetcher_files_fetched_total", "Stats files published.", ["source", "origin"]
)
FETCHED_BYTES = Counter("etstats_fetcher_bytes_total", "Bytes of stats files fetched.", ["source"])
DOWNLOAD_SECONDS = Histogram(
    "etstats_fetcher_download_seconds", "Time to fetch one file.", ["source"]
)

ORIGIN_LABELS = {
    common_pb2.ORIGIN_MONITOR: "monitor",
    common_pb2.ORIGIN_CATCH_UP: "catch-up",
    common_pb2.ORIGIN_SYNC: "sync",
}


def now_ms() -> int:
    return int(time.time() * 1000)


def recent(entry: Entry, catchup: timedelta) -> bool:
    """Modified within the catch-up window: its round is posted on its own.

    The one rule for every path (monitor, catch-up, sync): which of them wins a
    race for a file never decides whether its round is posted. The file's mtime,
    not the stamp in its name: that is the game server's local time, of no zone."""
    return entry.mtime_ns / 1e9 >= time.time() - catchup.total_seconds()


async def download(source: Source, entry: Entry, max_bytes: int) -> tuple[bytes, float]:
    """Up to `max_bytes + 1` bytes of one file and the seconds it took."""
    started = time.perf_counter()
    body = await source.read(entry.name, max_bytes)
    return body, downloaded(source, started)


async def download_and_stat(
    source: Source, entry: Entry, max_bytes: int
) -> tuple[bytes, Entry, float]:
    """The same, and the file's size and mtime once read."""
    started = time.perf_counter()
    body, after = await source.read_and_stat(entry.name, max_bytes)
    return body, after, downloaded(source, started)


def downloaded(source: Source, started: float) -> float:
    seconds = time.perf_counter() - started
    DOWNLOAD_SECONDS.labels(source=source.name).observe(seconds)
    return seconds


async def publish_file(
    bus: Bus,
    source: str,
    entry: Entry,
    body: bytes,
    *,
    origin: common_pb2.Origin,
    max_bytes: int,
    detected_at_ms: int,
    catchup: timedelta,
    sync_id: str = "",
) -> bool:
    """Publish a downloaded file, or its rejection when it is over the size cap.

    False when the stream had it already: another path (monitoring, another
    job) published the same file first, and its outcome belongs to that one."""
    sha256 = hashlib.sha256(body).hexdigest()
    file = common_pb2.FileRef(
        source=source,
        filename=entry.name,
        sha256=sha256,
        msg_id=raw_msg_id(source, entry.name, sha256),
        origin=origin,
        sync_id=sync_id,
        detected_at_ms=detected_at_ms,
        recent=recent(entry, catchup),
    )
    if len(body) > max_bytes:
        reason = f"file is over MAX_FILE_BYTES={max_bytes} bytes ({entry.size} bytes listed)"
        rejection = files_pb2.Rejection(
            file=file,
            stage="fetcher",
            reason=reason,
            reason_code="too_big",
            rejected_at_ms=now_ms(),
        )
        new = await bus.publish(
            stage_subject(REJECTED, source),
            rejection.SerializeToString(),
            msg_id=stage_msg_id(f"{REJECTED}-fetcher", file.msg_id),
        )
        REJECTIONS.labels(stage="fetcher", reason="too_big").inc()
        log.warning(
            "rejected %s: %s", entry.name, reason, extra={"source": source, "file": entry.name}
        )
        return new
    raw = files_pb2.RawFile(
        file=file,
        size=len(body),
        mtime_ms=entry.mtime_ns // 1_000_000,
        body=body,
        fetched_at_ms=now_ms(),
    )
    if not await bus.publish(
        stage_subject(RAW, source, live=file.recent), raw.SerializeToString(), msg_id=file.msg_id
    ):
        log.info(
            "%s was published already",
            entry.name,
            extra={"source": source, "file": entry.name, "sync_id": sync_id or None},
        )
        return False
    FETCHED.labels(source=source, origin=ORIGIN_LABELS[origin]).inc()
    FETCHED_BYTES.labels(source=source).inc(len(body))
    mark_success("fetch", source)
    await report(bus, file, "fetcher", "fetched", detail=ORIGIN_LABELS[origin])
    log.info(
        "published %s",
        entry.name,
        extra={"source": source, "file": entry.name, "sync_id": sync_id or None},
    )
    return True
