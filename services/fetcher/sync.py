"""Sync jobs: fetch every unknown file of a period, report progress and a result."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue
from prometheus_client import Counter as MetricCounter
from prometheus_client import Gauge

from etstats.contract import common_pb2, control_pb2, files_pb2, rounds_pb2
from etstats.period import Period, PeriodError, parse_period
from etstats.statsfile import FileKind, classify_name
from services.common.backoff import backoff
from services.common.bus import Bus
from services.common.rpc import ServiceError
from services.common.sources import unknown_source
from services.common.subjects import (
    REJECTED,
    STORED,
    SYNC_HEARTBEAT_S,
    stage_subject,
    sync_progress_subject,
    sync_result_subject,
)
from services.fetcher.known import StorageUnavailable, unknown_files
from services.fetcher.publish import download, now_ms, publish_file
from services.fetcher.source import Entry, Source, SourceError

log = logging.getLogger(__name__)

SYNC_JOBS = MetricCounter("etstats_fetcher_sync_jobs_total", "Sync jobs, by outcome.", ["outcome"])
SYNC_FILES = Gauge(
    "etstats_fetcher_sync_files", "Files of running sync jobs, by state.", ["source", "state"]
)

PROGRESS_EVERY_S = 1.0
FETCH_ATTEMPTS = 3


@dataclass
class SyncJob:
    id: str
    request: control_pb2.SyncRequest
    period: Period
    sources: list[str]
    progress: dict[str, control_pb2.SyncProgress]
    lock: bytes  # a RunningSync: the value of this job's per-source locks
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    started_ms: int = field(default_factory=now_ms)
    rejections: list[str] = field(default_factory=list)
    rounds_per_map: Counter[str] = field(default_factory=Counter)
    changed: bool = True
    news: asyncio.Event = field(default_factory=asyncio.Event)
    fetched_names: set[str] = field(default_factory=set)

    def settled(self) -> bool:
        return all(p.stored + p.rejected >= p.fetched for p in self.progress.values())


def running_sync(lock: bytes) -> control_pb2.RunningSync:
    """A sync lock's value; a lock written before locks said more holds the bare id."""
    with contextlib.suppress(DecodeError):
        if (parsed := control_pb2.RunningSync.FromString(lock)).sync_id:
            return parsed
    return control_pb2.RunningSync(sync_id=lock.decode(errors="replace"))


class SyncRunner:
    """Runs sync jobs in this fetcher; one job per source across all replicas (KV lock)."""

    def __init__(
        self,
        bus: Bus,
        sources: dict[str, Source],
        locks: KeyValue,
        *,
        max_bytes: int,
        concurrency: int,
        settle_timeout_s: float,
        now: Callable[[], datetime] = datetime.now,
        on_done: Callable[[SyncJob], None] = lambda _: None,
    ) -> None:
        self.bus = bus
        self.sources = sources
        self.locks = locks
        self.max_bytes = max_bytes
        self.concurrency = concurrency
        self.settle_timeout_s = settle_timeout_s
        self.now = now
        self.on_done = on_done
        self.jobs: dict[str, SyncJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, request: control_pb2.SyncRequest) -> control_pb2.SyncAccepted:
        """Validate and start a job; the reply is immediate."""
        try:
            period = parse_period(request.period or "all", self.now())
        except PeriodError as exc:
            raise ServiceError("400", str(exc)) from None
        names = list(request.sources) or sorted(self.sources)
        if unknown := [n for n in names if n not in self.sources]:
            raise ServiceError("404", unknown_source(unknown[0], self.sources))
        job_id = uuid.uuid4().hex[:12]
        lock = control_pb2.RunningSync(
            sync_id=job_id, period=request.period, requester=request.requester
        ).SerializeToString()
        taken: list[str] = []
        for name in names:
            try:
                await self.locks.create(name, lock)
                taken.append(name)
            except KeyWrongLastSequenceError:
                for other in taken:
                    await self._unlock(other, job_id)
                # Refused, not joined: the requester must not take that sync's
                # result for his own period's.
                running = await self._lock_holder(name)
                return control_pb2.SyncAccepted(
                    sync_id=running.sync_id, already_running=True, sources=[name], running=running
                )
        progress = {n: control_pb2.SyncProgress(sync_id=job_id, source=n) for n in names}
        job = SyncJob(job_id, request, period, names, progress, lock)
        self.jobs[job_id] = job
        task = asyncio.create_task(self._run(job), name=f"sync-{job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        log.info(
            "sync %s started: %s for %s",
            job_id,
            period.text,
            ", ".join(names),
            extra={"sync_id": job_id},
        )
        return control_pb2.SyncAccepted(sync_id=job_id, sources=names)

    def cancel(self, sync_id: str) -> bool:
        job = self.jobs.get(sync_id)
        if job is None:
            return False
        job.cancelled.set()
        job.news.set()
        return True

    async def stop(self) -> None:
        for job in self.jobs.values():
            job.cancelled.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)

    async def _lock_holder(self, name: str) -> control_pb2.RunningSync:
        try:
            value = (await self.locks.get(name)).value or b""
        except (KeyNotFoundError, NotFoundError):
            return control_pb2.RunningSync()
        return running_sync(value)

    async def _unlock(self, name: str, job_id: str) -> None:
        with contextlib.suppress(Exception):
            if (await self._lock_holder(name)).sync_id == job_id:
                await self.locks.delete(name)

    async def _run(self, job: SyncJob) -> None:
        subs = []

        async def on_event(msg: Msg) -> None:
            self._account(job, msg)

        ticker = asyncio.create_task(self._report(job))
        try:
            for name in job.sources:
                for kind in (STORED, REJECTED):
                    subs.append(await self.bus.nc.subscribe(stage_subject(kind, name), cb=on_event))
            await asyncio.gather(*(self._sync_source(job, name) for name in job.sources))
            await self._settle(job)
            ticker.cancel()
            await self._publish_progress(job, done=True)
            await self._publish_result(job)
            SYNC_JOBS.labels(outcome="cancelled" if job.cancelled.is_set() else "done").inc()
        except Exception:
            SYNC_JOBS.labels(outcome="failed").inc()
            log.exception("sync %s failed", job.id, extra={"sync_id": job.id})
        finally:
            ticker.cancel()
            for sub in subs:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
            for name in job.sources:
                await self._unlock(name, job.id)
            self.jobs.pop(job.id, None)
            self.on_done(job)

    def _account(self, job: SyncJob, msg: Msg) -> None:
        """Count storage's and the parser's verdicts on this job's files."""
        if msg.subject.startswith("stats.stored."):
            stored = rounds_pb2.StoredRound.FromString(msg.data)
            if stored.file.sync_id != job.id:
                return
            progress = job.progress[stored.file.source]
            progress.stored += 1
            if stored.duplicate:
                progress.duplicates += 1
            else:
                job.rounds_per_map[stored.header.map] += 1
        else:
            rejection = files_pb2.Rejection.FromString(msg.data)
            if rejection.file.sync_id != job.id:
                return
            job.progress[rejection.file.source].rejected += 1
            job.rejections.append(f"{rejection.file.filename}: {rejection.reason}")
        job.changed = True
        job.news.set()

    async def _sync_source(self, job: SyncJob, name: str) -> None:
        source, progress = self.sources[name], job.progress[name]
        try:
            listing = await source.list()
            only = set(job.request.files)  # a re-import names its files
            wanted = {}
            for entry in listing.values():
                parsed = classify_name(entry.name)
                if parsed.kind is not FileKind.STATS or (only and entry.name not in only):
                    continue
                assert parsed.stamp is not None  # a stats file's name always has one
                if only or parsed.stamp in job.period:
                    wanted[entry.name] = (parsed.stamp, entry)
            progress.listed = len(wanted)
            unknown = await unknown_files(self.bus, name, sorted(wanted))
        except (SourceError, StorageUnavailable) as exc:
            progress.error = str(exc)
            job.changed = True
            return
        entries = [wanted[n][1] for n in sorted(unknown, key=lambda n: (wanted[n][0], n))]
        progress.unknown = len(entries)
        job.changed = True
        for start in range(0, len(entries), self.concurrency):
            if job.cancelled.is_set():
                return
            window = entries[start : start + self.concurrency]
            bodies = await asyncio.gather(*(self._download(source, e) for e in window))
            for entry, body in zip(window, bodies, strict=True):
                if body is None:
                    progress.failed += 1
                    continue
                await publish_file(
                    self.bus,
                    name,
                    entry,
                    body,
                    origin=common_pb2.ORIGIN_SYNC,
                    max_bytes=self.max_bytes,
                    detected_at_ms=now_ms(),
                    sync_id=job.id,
                )
                progress.fetched += 1
                job.fetched_names.add(entry.name)
            job.changed = True

    async def _download(self, source: Source, entry: Entry) -> bytes | None:
        for attempt in range(FETCH_ATTEMPTS):
            try:
                body, _ = await download(source, entry, self.max_bytes)
                return body
            except SourceError as exc:
                log.warning("sync: %s: %s", entry.name, exc, extra={"source": source.name})
                await asyncio.sleep(backoff(attempt + 1))
        return None

    async def _settle(self, job: SyncJob) -> None:
        """Wait until storage (or the parser) has answered for every fetched file."""
        deadline = time.monotonic() + self.settle_timeout_s
        while not job.settled() and not job.cancelled.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning(
                    "sync %s: storage did not confirm every file within %.0fs",
                    job.id,
                    self.settle_timeout_s,
                    extra={"sync_id": job.id},
                )
                return
            job.news.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job.news.wait(), remaining)

    async def _report(self, job: SyncJob) -> None:
        """Progress when something changed, and at least every SYNC_HEARTBEAT_S while the
        job lives, so that followers can tell a quiet job from a dead one."""
        last = time.monotonic()
        while True:
            if job.changed or time.monotonic() - last >= SYNC_HEARTBEAT_S:
                job.changed = False
                last = time.monotonic()
                await self._publish_progress(job)
                for name in job.sources:  # keep the per-source locks alive
                    with contextlib.suppress(Exception):
                        await self.locks.put(name, job.lock)
            await asyncio.sleep(PROGRESS_EVERY_S)

    async def _publish_progress(self, job: SyncJob, done: bool = False) -> None:
        for progress in job.progress.values():
            progress.updated_at_ms = now_ms()
            progress.done = done
            SYNC_FILES.labels(source=progress.source, state="unknown").set(progress.unknown)
            SYNC_FILES.labels(source=progress.source, state="fetched").set(progress.fetched)
            with contextlib.suppress(Exception):
                await self.bus.nc.publish(
                    sync_progress_subject(job.id), progress.SerializeToString()
                )

    async def _publish_result(self, job: SyncJob) -> None:
        progress = list(job.progress.values())
        result = control_pb2.SyncResult(
            sync_id=job.id,
            requester=job.request.requester,
            sources=progress,
            imported=sum(p.stored - p.duplicates for p in progress),
            duplicates=sum(p.duplicates for p in progress),
            rejected=sum(p.rejected for p in progress),
            rejections=job.rejections[:50],
            rounds_per_map=dict(job.rounds_per_map),
            started_at_ms=job.started_ms,
            finished_at_ms=now_ms(),
            cancelled=job.cancelled.is_set(),
        )
        await self.bus.publish(
            sync_result_subject(job.id), result.SerializeToString(), msg_id=f"sync-result:{job.id}"
        )
        log.info(
            "sync %s finished: %d imported, %d duplicates, %d rejected",
            job.id,
            result.imported,
            result.duplicates,
            result.rejected,
            extra={"sync_id": job.id},
        )
