"""Live monitoring of one source: detect new stats files, fetch once stable, publish."""

from __future__ import annotations

import hashlib
import logging
import time

from prometheus_client import Counter, Histogram

from etstats.statsfile import FileKind, classify_name
from proto import common_pb2, control_pb2, files_pb2
from services.common.bus import Bus
from services.common.metrics import REJECTIONS, mark_success
from services.common.subjects import (
    RAW,
    REJECTED,
    STORAGE_UNKNOWN_FILES,
    raw_msg_id,
    stage_msg_id,
    stage_subject,
)
from services.fetcher.source import Entry, Source

log = logging.getLogger(__name__)

POLLS = Counter("etstats_fetcher_polls_total", "Directory polls.", ["source"])
POLL_ERRORS = Counter("etstats_fetcher_poll_errors_total", "Failed polls.", ["source"])
DETECTED = Counter("etstats_fetcher_files_detected_total", "New stats files seen.", ["source"])
FETCHED = Counter(
    "etstats_fetcher_files_fetched_total", "Stats files published.", ["source", "origin"]
)
FETCHED_BYTES = Counter("etstats_fetcher_bytes_total", "Bytes of stats files fetched.", ["source"])
HOSTILE = Counter("etstats_fetcher_hostile_names_total", "Hostile file names ignored.", ["source"])
DOWNLOAD_SECONDS = Histogram(
    "etstats_fetcher_download_seconds", "Time to fetch one file.", ["source"]
)

ORIGIN_LABELS = {common_pb2.ORIGIN_MONITOR: "monitor", common_pb2.ORIGIN_CATCH_UP: "catch-up"}


def now_ms() -> int:
    return int(time.time() * 1000)


class Monitor:
    """Polls a source; a file is fetched once its size and mtime held for one poll."""

    def __init__(self, source: Source, bus: Bus, max_bytes: int) -> None:
        self.source = source
        self.bus = bus
        self.max_bytes = max_bytes
        self.known: set[str] = set()
        self.pending: dict[str, Entry] = {}
        self.detected_at: dict[str, int] = {}
        self.catching_up: set[str] = set()
        self.warned: set[str] = set()
        self.started = False
        self._dir_stamp: int | None = None

    async def poll(self) -> None:
        """One poll: cheap directory stat, a listing only when something may have changed."""
        POLLS.labels(source=self.source.name).inc()
        stamp = await self.source.stamp()
        if self.started and stamp == self._dir_stamp and not self.pending:
            return
        listing = await self.source.list()
        new = self._new_stats_files(listing)
        if not self.started:
            unknown = await self._ask_storage(sorted(new))
            if unknown is None:
                return  # storage not answering yet: try again next poll
            self.known.update(set(new) - set(unknown))
            new = {name: new[name] for name in unknown}
            self.catching_up = set(new)
            self.started = True
        self._dir_stamp = stamp
        for name, entry in new.items():
            if name not in self.detected_at:
                self.detected_at[name] = now_ms()
                DETECTED.labels(source=self.source.name).inc()
            if self.pending.get(name) == entry:
                await self._fetch(entry)
            else:
                self.pending[name] = entry
        for gone in set(self.pending) - set(new):
            self.pending.pop(gone, None)
        mark_success("poll", self.source.name)

    def _new_stats_files(self, listing: dict[str, Entry]) -> dict[str, Entry]:
        new = {}
        for name, entry in listing.items():
            if name in self.known:
                continue
            kind = classify_name(name).kind
            if kind is FileKind.STATS:
                new[name] = entry
            elif kind is FileKind.HOSTILE and name not in self.warned:
                self.warned.add(name)
                HOSTILE.labels(source=self.source.name).inc()
                log.warning(
                    "ignoring hostile file name %r", name, extra={"source": self.source.name}
                )
        return new

    async def _ask_storage(self, names: list[str]) -> list[str] | None:
        if not names:
            return []
        request = control_pb2.KnownFilesRequest(source=self.source.name, filenames=names)
        try:
            reply_msg = await self.bus.nc.request(
                STORAGE_UNKNOWN_FILES, request.SerializeToString(), timeout=5
            )
            reply = control_pb2.KnownFilesReply.FromString(reply_msg.data)
        except Exception as exc:
            log.warning(
                "storage did not answer which files are known (%s); will retry",
                exc or type(exc).__name__,
                extra={"source": self.source.name},
            )
            return None
        if reply.error:
            log.warning("storage could not tell which files are known: %s", reply.error)
            return None
        return list(reply.unknown)

    async def _fetch(self, entry: Entry) -> None:
        name = entry.name
        origin = (
            common_pb2.ORIGIN_CATCH_UP if name in self.catching_up else common_pb2.ORIGIN_MONITOR
        )
        started = time.perf_counter()
        body = await self.source.read(name, self.max_bytes)
        DOWNLOAD_SECONDS.labels(source=self.source.name).observe(time.perf_counter() - started)
        sha256 = hashlib.sha256(body).hexdigest()
        file = common_pb2.FileRef(
            source=self.source.name,
            filename=name,
            sha256=sha256,
            msg_id=raw_msg_id(self.source.name, name, sha256),
            origin=origin,
            detected_at_ms=self.detected_at.get(name, now_ms()),
        )
        if len(body) > self.max_bytes:
            await self._reject_too_big(file, entry.size)
        else:
            raw = files_pb2.RawFile(
                file=file,
                size=len(body),
                mtime_ms=entry.mtime_ns // 1_000_000,
                body=body,
                fetched_at_ms=now_ms(),
            )
            await self.bus.publish(
                stage_subject(RAW, self.source.name), raw.SerializeToString(), msg_id=file.msg_id
            )
            FETCHED.labels(source=self.source.name, origin=ORIGIN_LABELS[origin]).inc()
            FETCHED_BYTES.labels(source=self.source.name).inc(len(body))
            log.info("published %s", name, extra={"source": self.source.name, "file": name})
        self.known.add(name)
        self.pending.pop(name, None)
        self.detected_at.pop(name, None)
        self.catching_up.discard(name)
        mark_success("fetch", self.source.name)

    async def _reject_too_big(self, file: common_pb2.FileRef, size: int) -> None:
        reason = f"file is {size} bytes, over MAX_FILE_BYTES={self.max_bytes}"
        rejection = files_pb2.Rejection(
            file=file,
            stage="fetcher",
            reason=reason,
            reason_code="too_big",
            rejected_at_ms=now_ms(),
        )
        await self.bus.publish(
            stage_subject(REJECTED, self.source.name),
            rejection.SerializeToString(),
            msg_id=stage_msg_id(f"{REJECTED}-fetcher", file.msg_id),
        )
        REJECTIONS.labels(stage="fetcher", reason="too_big").inc()
        log.warning(
            "rejected %s: %s",
            file.filename,
            reason,
            extra={"source": self.source.name, "file": file.filename},
        )
