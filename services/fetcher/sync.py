"""Sync jobs: fetch every unknown file of a period, report progress and a result."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.js.errors import (
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoKeysError,
    NotFoundError,
)
from nats.js.kv import KeyValue
from prometheus_client import Counter as MetricCounter
from prometheus_client import Gauge

from etstats.contract import common_pb2, control_pb2, files_pb2, rounds_pb2
from etstats.period import Period, PeriodError, parse_period
from etstats.statsfile import FileKind, classify_name
from services.common.aio import sleep_unless
from services.common.backoff import backoff
from services.common.bus import Bus
from services.common.consumer import OUTAGES
from services.common.errors import describe
from services.common.heap import give_back
from services.common.rpc import ServiceError
from services.common.sources import unknown_source
from services.common.subjects import (
    REJECTED,
    STORED,
    SYNC_HEARTBEAT_S,
    SYNC_RESULT_TTL_S,
    SYNC_RESULTS_BUCKET,
    stage_subject,
    sync_cancel_subject,
    sync_progress_subject,
    sync_result_subject,
)
from services.fetcher.known import StorageUnavailable, unknown_files
from services.fetcher.publish import download, now_ms, publish_file
from services.fetcher.source import Entry, Source, SourceError

log = logging.getLogger(__name__)

T = TypeVar("T")

SYNC_JOBS = MetricCounter("etstats_fetcher_sync_jobs_total", "Sync jobs, by outcome.", ["outcome"])
SYNC_RETRIES = MetricCounter(
    "etstats_fetcher_sync_retries_total",
    "Sync steps tried again while the source, storage or NATS was away.",
    ["cause"],
)
SYNC_FILES = Gauge(
    "etstats_fetcher_sync_files", "Files of running sync jobs, by state.", ["source", "state"]
)

PROGRESS_EVERY_S = 1.0
# A file fails for good after this many failed reads while its source answers;
# while the source does not answer at all, the job waits for it instead.
FETCH_ATTEMPTS = 3
# Published files whose stream ack a sync has not seen yet: enough to keep the
# bus busy, few enough that a NATS outage leaves little to publish again.
PUBLISHES_IN_FLIGHT = 64
# Files of a sync published but not stored yet, at most: enough to keep every
# stage busy, and what bounds the stream while a sync runs.
SYNC_AHEAD = 512
RETRY_CAP_S = 30.0
SHOWN_MISSING = 50
# What a job waits out: the source, storage or NATS away for a while.
WAITED_OUT: tuple[type[Exception], ...] = (SourceError, StorageUnavailable, *OUTAGES)


class Cancelled(Exception):
    """The job was cancelled while it waited."""


class Stalled(Exception):
    """The source or NATS stayed away longer than the job waits; the message says why."""


@dataclass
class SyncJob:
    id: str
    request: control_pb2.SyncRequest
    period: Period
    sources: list[str]
    progress: dict[str, control_pb2.SyncProgress]
    lock: bytes  # a RunningSync: the job's record and the value of its per-source locks
    revisions: dict[str, int]  # of this job's lock, per source
    superseded: bool = False  # another fetcher resumed it: that one publishes the result
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    started_ms: int = field(default_factory=now_ms)
    rejections: list[str] = field(default_factory=list)
    missing: dict[tuple[str, str], str] = field(default_factory=dict)  # (source, file): why
    rounds_per_map: Counter[str] = field(default_factory=Counter)
    changed: bool = True
    news: asyncio.Event = field(default_factory=asyncio.Event)
    fetched_names: set[str] = field(default_factory=set)
    awaiting: set[tuple[str, str]] = field(default_factory=set)  # published, no verdict yet

    def settled(self) -> bool:
        return not self.awaiting

    def miss(self, source: str, name: str, why: str) -> None:
        self.missing.setdefault((source, name), why)


def running_sync(lock: bytes) -> control_pb2.RunningSync:
    """A sync lock's value; a lock written before locks said more holds the bare id."""
    with contextlib.suppress(DecodeError):
        if (parsed := control_pb2.RunningSync.FromString(lock)).sync_id:
            return parsed
    return control_pb2.RunningSync(sync_id=lock.decode(errors="replace"))


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep before a retry; Cancelled when `stop` is set first."""
    if await sleep_unless(stop, seconds):
        raise Cancelled


def cause(exc: Exception) -> str:
    """Who was away: the source, storage, or NATS."""
    if isinstance(exc, SourceError):
        return "source"
    return "storage" if isinstance(exc, StorageUnavailable) else "nats"


def first_error(exc: BaseException) -> BaseException:
    """The error inside a task group's group of errors."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class SyncRunner:
    """Runs sync jobs in this fetcher; one job per source across all replicas (KV lock).

    A job waits out outages of its source and of NATS (with backoff) for up to
    `settle_timeout_s` at a time, as it waits for storage's verdicts; what it could
    not import is listed in its result, with the reason."""

    def __init__(
        self,
        bus: Bus,
        sources: dict[str, Source],
        locks: KeyValue,
        records: KeyValue,
        *,
        owner: str,
        max_bytes: int,
        concurrency: int,
        settle_timeout_s: float,
        catchup: timedelta,
        now: Callable[[], datetime] = datetime.now,
        on_done: Callable[[SyncJob], None] = lambda _: None,
        on_fetched: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.bus = bus
        self.sources = sources
        self.locks = locks
        self.records = records
        self.owner = owner
        self.max_bytes = max_bytes
        self.concurrency = concurrency
        self.settle_timeout_s = settle_timeout_s
        self.catchup = catchup
        self.now = now
        self.on_done = on_done
        self.on_fetched = on_fetched
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
        record = control_pb2.RunningSync(
            sync_id=uuid.uuid4().hex[:12],
            period=request.period,
            requester=request.requester,
            owner=self.owner,
            sources=names,
            files=request.files,
            started_at_ms=now_ms(),
        )
        taken, holder, held = await self._lock_all(record)
        if holder is not None:  # refused, not joined: that sync's result is not this period's
            return control_pb2.SyncAccepted(
                sync_id=holder.sync_id, already_running=True, sources=[held], running=holder
            )
        await self.records.put(record.sync_id, record.SerializeToString())
        self._launch(record, period, taken)
        log.info(
            "sync %s started: %s for %s",
            record.sync_id,
            period.text,
            ", ".join(names),
            extra={"sync_id": record.sync_id},
        )
        return control_pb2.SyncAccepted(sync_id=record.sync_id, sources=names)

    async def _lock_all(
        self, record: control_pb2.RunningSync
    ) -> tuple[dict[str, int], control_pb2.RunningSync | None, str]:
        """Every source's lock for the job, or none: then the sync holding one, and which."""
        taken: dict[str, int] = {}
        value = record.SerializeToString()
        for name in record.sources:
            try:
                taken[name] = await self.locks.create(name, value)
            except KeyWrongLastSequenceError:
                for other in taken:
                    await self._unlock(other, record.sync_id)
                return {}, await self._lock_holder(name), name
        return taken, None, ""

    def _launch(
        self, record: control_pb2.RunningSync, period: Period, taken: dict[str, int]
    ) -> SyncJob:
        request = control_pb2.SyncRequest(
            period=record.period,
            sources=record.sources,
            requester=record.requester,
            files=record.files,
        )
        names = list(record.sources)
        progress = {n: control_pb2.SyncProgress(sync_id=record.sync_id, source=n) for n in names}
        job = SyncJob(
            record.sync_id,
            request,
            period,
            names,
            progress,
            record.SerializeToString(),
            taken,
            started_ms=record.started_at_ms or now_ms(),
        )
        if record.cancel_requested:
            job.cancelled.set()
        self.jobs[job.id] = job
        task = asyncio.create_task(self._run(job), name=f"sync-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def watch(self, stop: asyncio.Event) -> None:
        """Hear cancels meant for jobs here, and resume jobs whose fetcher died
        (their locks expired), every heartbeat."""
        sub = await self.bus.nc.subscribe(sync_cancel_subject("*"), cb=self._cancel_heard)
        try:
            while not await sleep_unless(stop, SYNC_HEARTBEAT_S):
                try:
                    await self.adopt_orphans()
                except Exception as exc:  # NATS away: look again next time
                    log.debug("sync jobs not checked: %s", describe(exc))
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _cancel_heard(self, msg: Msg) -> None:
        self.cancel(msg.subject.rsplit(".", 1)[-1])

    async def adopt_orphans(self) -> list[str]:
        """Resume the jobs no fetcher holds a lock for any more; their ids."""
        try:
            ids = await self.records.keys()
        except NoKeysError:
            return []
        adopted = []
        for sync_id in ids:
            if sync_id in self.jobs:
                continue
            try:
                record = control_pb2.RunningSync.FromString(
                    (await self.records.get(sync_id)).value or b""
                )
            except (KeyNotFoundError, NotFoundError, DecodeError):
                continue
            if not record.sources or await self._any_locked(record):
                continue
            gone = record.owner
            record.owner = self.owner
            taken, holder, _ = await self._lock_all(record)
            if holder is not None:
                continue  # another fetcher was quicker
            try:
                period = parse_period(record.period or "all", self.now())
            except PeriodError:
                period = parse_period("all", self.now())
            await self.records.put(sync_id, record.SerializeToString())
            self._launch(record, period, taken)
            adopted.append(sync_id)
            log.warning(
                "sync %s resumed here: its fetcher %s is gone",
                sync_id,
                gone or "?",
                extra={"sync_id": sync_id},
            )
        return adopted

    async def _any_locked(self, record: control_pb2.RunningSync) -> bool:
        return any([await self.locked(name) for name in record.sources])

    async def locked(self, name: str) -> bool:
        """A sync holds the source, on whichever fetcher."""
        try:
            await self.locks.get(name)
            return True
        except (KeyNotFoundError, NotFoundError):
            return False

    async def cancel_anywhere(self, sync_id: str) -> bool:
        """Cancel a job here, or the one another fetcher runs (it hears it; should it
        be gone, the job's record says so to whoever resumes it)."""
        if self.cancel(sync_id):
            return True
        try:
            entry = await self.records.get(sync_id)
        except (KeyNotFoundError, NotFoundError):
            return False
        record = control_pb2.RunningSync.FromString(entry.value or b"")
        record.cancel_requested = True
        with contextlib.suppress(KeyWrongLastSequenceError):  # it ended or moved meanwhile
            await self.records.update(sync_id, record.SerializeToString(), last=entry.revision)
        await self.bus.nc.publish(sync_cancel_subject(sync_id), b"")
        return True

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
        """Delete the lock if it is still this job's (compare and delete: never another's)."""
        with contextlib.suppress(Exception):
            entry = await self.locks.get(name)
            if running_sync(entry.value or b"").sync_id == job_id:
                await self.locks.delete(name, last=entry.revision)

    async def _renew(self, job: SyncJob, name: str) -> None:
        """Keep the lock alive; only ever this job's own revision of it, so a renewal
        can never bring back a lock that was released or taken over."""
        try:
            job.revisions[name] = await self.locks.update(name, job.lock, last=job.revisions[name])
            return
        except (KeyNotFoundError, NotFoundError):
            # Expired while NATS was away: take it again unless someone else has.
            with contextlib.suppress(KeyWrongLastSequenceError):
                job.revisions[name] = await self.locks.create(name, job.lock)
                return
        except KeyWrongLastSequenceError:
            pass
        entry = await self.locks.get(name)
        holder = running_sync(entry.value or b"")
        if holder.sync_id == job.id and holder.owner not in ("", self.owner):
            job.superseded = True  # another fetcher resumed it meanwhile: it goes on
            job.cancelled.set()
            job.news.set()
        if holder.sync_id != job.id or job.superseded:
            raise KeyWrongLastSequenceError()
        # Our last renewal may have landed unanswered: adopt it.
        job.revisions[name] = entry.revision or job.revisions[name]

    async def _run(self, job: SyncJob) -> None:
        """The job, then always its result (with the reason if it could not go on),
        then the locks released, after the ticker that renews them has ended."""
        subs = []

        async def on_event(msg: Msg) -> None:
            self._account(job, msg)

        ticker = asyncio.create_task(self._report(job))
        error = ""
        try:
            try:
                for name in job.sources:
                    for subject in (
                        stage_subject(STORED, name),
                        stage_subject(STORED, name, live=True),
                        stage_subject(REJECTED, name),
                    ):
                        subs.append(await self.bus.nc.subscribe(subject, cb=on_event))
                async with asyncio.TaskGroup() as group:
                    for name in job.sources:
                        group.create_task(self._sync_source(job, name))
                await self._settle(job)
            except Exception as exc:
                error = f"the sync stopped: {describe(first_error(exc))}"
                log.exception("sync %s failed", job.id, extra={"sync_id": job.id})
            job.finished.set()  # the ticker ends its round: no lock write after this
            await ticker
            if job.superseded:
                log.warning("sync %s: resumed by another fetcher", job.id)
                SYNC_JOBS.labels(outcome="handed_over").inc()
                return
            await self._publish_progress(job, done=True)
            await self._publish_result(job, error)
            with contextlib.suppress(Exception):  # nothing left to resume
                await self.records.delete(job.id)
            outcome = "failed" if error else "cancelled" if job.cancelled.is_set() else "done"
            SYNC_JOBS.labels(outcome=outcome).inc()
        except Exception:
            SYNC_JOBS.labels(outcome="failed").inc()
            log.exception("sync %s: no result published", job.id, extra={"sync_id": job.id})
        finally:
            job.finished.set()
            if not ticker.done():
                ticker.cancel()
                with contextlib.suppress(BaseException):
                    await ticker
            for sub in subs:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
            if not job.superseded:
                for name in job.sources:
                    await self._unlock(name, job.id)
            self.jobs.pop(job.id, None)
            self.on_done(job)
            give_back()  # the job's listing and files' bytes

    def _account(self, job: SyncJob, msg: Msg) -> None:
        """Count storage's and the parser's verdicts on this job's files, once each."""
        if msg.subject.startswith("stats.stored."):
            stored = rounds_pb2.StoredRound.FromString(msg.data)
            file = stored.file
        else:
            rejection = files_pb2.Rejection.FromString(msg.data)
            file = rejection.file
        if file.sync_id != job.id or (file.source, file.filename) not in job.awaiting:
            return  # another job's or monitoring's file, or a repeated verdict
        job.awaiting.discard((file.source, file.filename))
        progress = job.progress[file.source]
        if msg.subject.startswith("stats.stored."):
            progress.stored += 1
            if stored.duplicate:
                progress.duplicates += 1
            else:
                job.rounds_per_map[stored.header.map] += 1
        else:
            progress.rejected += 1
            job.rejections.append(f"{file.filename}: {rejection.reason}")
        job.changed = True
        job.news.set()

    async def _sync_source(self, job: SyncJob, name: str) -> None:
        source, progress = self.sources[name], job.progress[name]
        try:
            listing = await self._again(job, f"listing {name}", source.list)
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
            unknown = await self._again(
                job, "asking storage", lambda: unknown_files(self.bus, name, sorted(wanted))
            )
        except Stalled as exc:
            progress.error = str(exc)
            job.miss(name, "(listing)", str(exc))
            job.changed = True
            return
        except Cancelled:
            return
        entries = [wanted[n][1] for n in sorted(unknown, key=lambda n: (wanted[n][0], n))]
        progress.unknown = len(entries)
        job.changed = True
        try:
            async with asyncio.TaskGroup() as group:  # one stalls: the others stop too
                await self._pipeline(job, source, entries, group)
        except (Stalled, Cancelled, BaseExceptionGroup) as exc:
            why = first_error(exc)
            if not isinstance(why, Stalled | Cancelled):
                raise
            self._give_up(job, name, entries, why)
        finally:
            job.changed = True

    async def _pipeline(
        self, job: SyncJob, source: Source, entries: list[Entry], group: asyncio.TaskGroup
    ) -> None:
        """Download `concurrency` files at a time, a new one as soon as the oldest
        is in, and publish them oldest first without waiting for each ack: up to
        PUBLISHES_IN_FLIGHT are on their way at once."""
        ahead = iter(entries)
        downloads: deque[tuple[Entry, asyncio.Task[bytes | None]]] = deque()
        publishes: deque[asyncio.Task[None]] = deque()

        def download_next() -> None:
            if (entry := next(ahead, None)) is not None:
                downloads.append((entry, group.create_task(self._download(job, source, entry))))

        for _ in range(self.concurrency):
            download_next()
        while downloads:
            if job.cancelled.is_set():
                raise Cancelled
            entry, download = downloads.popleft()
            body = await download
            download_next()
            if body is not None:
                await self._room(job)
                job.awaiting.add((source.name, entry.name))  # a verdict may come back at once
                publishes.append(group.create_task(self._publish(job, source, entry, body)))
            while publishes and (len(publishes) > PUBLISHES_IN_FLIGHT or publishes[0].done()):
                await publishes.popleft()
            job.changed = True
        for publish in publishes:
            await publish

    async def _room(self, job: SyncJob) -> None:
        """Wait while SYNC_AHEAD files are published and not yet stored: the stream
        holds the backlog, so its size (and nats-server's memory) stays bounded
        however many files the sync has; Stalled when storage stops answering."""
        since = time.monotonic()
        while (waiting := len(job.awaiting)) >= SYNC_AHEAD:
            job.news.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job.news.wait(), 1.0)
            if job.cancelled.is_set():
                raise Cancelled
            if len(job.awaiting) < waiting:
                since = time.monotonic()
            elif time.monotonic() - since >= self.settle_timeout_s:
                raise Stalled(
                    f"storage confirmed none of {waiting} files in {self.settle_timeout_s:.0f}s"
                )

    def _give_up(
        self, job: SyncJob, name: str, left: list[Entry], why: Stalled | Cancelled
    ) -> None:
        """The files of a source this job will not import: missing, with the reason."""
        progress = job.progress[name]
        if isinstance(why, Stalled):
            progress.error = str(why)
        for entry in left:
            if entry.name in job.fetched_names or (name, entry.name) in job.missing:
                continue
            if isinstance(why, Stalled):
                progress.failed += 1
            job.miss(name, entry.name, str(why) or "cancelled before it was fetched")

    async def _publish(self, job: SyncJob, source: Source, entry: Entry, body: bytes) -> None:
        """Publish one file, waiting out an outage of NATS."""
        progress = job.progress[source.name]
        key = (source.name, entry.name)  # awaiting its verdict since before the publish
        tries = 0

        async def publish() -> bool:
            nonlocal tries
            tries += 1
            return await publish_file(
                self.bus,
                source.name,
                entry,
                body,
                origin=common_pb2.ORIGIN_SYNC,
                max_bytes=self.max_bytes,
                detected_at_ms=now_ms(),
                catchup=self.catchup,
                sync_id=job.id,
            )

        try:
            new = await self._again(job, f"publishing {entry.name}", publish)
        except BaseException:
            job.awaiting.discard(key)
            raise
        job.fetched_names.add(entry.name)
        if new or tries > 1:  # a retry's duplicate is this job's own earlier try
            progress.fetched += 1
            self.on_fetched(source.name)
        else:  # monitoring (or another job) was first: that path imports it
            job.awaiting.discard(key)
            progress.already_published += 1

    async def _download(self, job: SyncJob, source: Source, entry: Entry) -> bytes | None:
        """The file's bytes. While the source is away the job waits for it (_again);
        a file that cannot be read while its source answers, FETCH_ATTEMPTS times,
        or that is gone, is missing, with the reason (None)."""
        failures = 0
        while True:
            try:
                body, _ = await download(source, entry, self.max_bytes)
                return body
            except SourceError as exc:
                error = describe(exc)
                gone = exc.kind == "missing"  # final: asking again finds nothing either
            if not gone:
                log.warning("sync: %s: %s", entry.name, error, extra={"source": source.name})
            try:
                await source.stamp()
            except SourceError:  # the source (or its directory) is away: not the file's fault
                await self._again(job, f"reaching {source.name}", source.stamp)
                continue
            failures += 1
            if gone or failures >= FETCH_ATTEMPTS:
                job.progress[source.name].failed += 1
                why = "gone since it was listed" if gone else f"could not be read: {error}"
                job.miss(source.name, entry.name, why)
                return None
            await pause(job.cancelled, backoff(failures))

    async def _again(
        self,
        job: SyncJob,
        what: str,
        attempt: Callable[[], Awaitable[T]],
        stop: asyncio.Event | None = None,
    ) -> T:
        """`attempt` until it works, waiting with backoff while the source, NATS or
        storage is away; Stalled once they stayed away for the job's patience,
        Cancelled when `stop` (the job's cancellation) is set meanwhile."""
        failures = 0
        since = time.monotonic()
        while True:
            try:
                return await attempt()
            except WAITED_OUT as exc:
                failures += 1
                SYNC_RETRIES.labels(cause=cause(exc)).inc()
                away = time.monotonic() - since
                if away >= self.settle_timeout_s:
                    raise Stalled(f"{what}: {describe(exc)} (for {away:.0f}s)") from None
                delay = min(backoff(failures, jitter=0.2), RETRY_CAP_S)
                log.warning(
                    "sync %s: %s: %s; trying again in %.1fs",
                    job.id,
                    what,
                    describe(exc),
                    delay,
                    extra={"sync_id": job.id},
                )
                await pause(job.cancelled if stop is None else stop, delay)

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
                why = f"fetched, but storage did not confirm it within {self.settle_timeout_s:.0f}s"
                for source, name in sorted(job.awaiting):
                    job.miss(source, name, why)
                return
            job.news.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job.news.wait(), remaining)

    async def _report(self, job: SyncJob) -> None:
        """Progress when something changed, and at least every SYNC_HEARTBEAT_S while the
        job lives, so that followers can tell a quiet job from a dead one. Ends at
        `job.finished`, never in the middle of a lock renewal."""
        last = time.monotonic()
        renewing = set(job.sources)
        while not job.finished.is_set():
            if job.changed or time.monotonic() - last >= SYNC_HEARTBEAT_S:
                job.changed = False
                last = time.monotonic()
                await self._publish_progress(job)
                for name in sorted(renewing):  # keep the per-source locks alive
                    try:
                        await self._renew(job, name)
                    except (KeyNotFoundError, NotFoundError, KeyWrongLastSequenceError):
                        renewing.discard(name)
                        log.warning(
                            "sync %s: lost the lock of %s", job.id, name, extra={"sync_id": job.id}
                        )
                    except Exception as exc:  # NATS away: renewed on the next round
                        log.debug("sync %s: lock not renewed: %s", job.id, describe(exc))
            await sleep_unless(job.finished, PROGRESS_EVERY_S)

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

    async def _publish_result(self, job: SyncJob, error: str) -> None:
        """The result, for the poster's summary; waits out a NATS outage like the job."""
        progress = list(job.progress.values())
        missing = [f"{source} {name}: {why}" for (source, name), why in job.missing.items()]
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
            error=error,
            missing=missing[:SHOWN_MISSING],
            missing_total=len(missing),
        )

        async def publish() -> None:
            # Kept for late followers first, then to the poster for its summary.
            results = await self.bus.key_value(SYNC_RESULTS_BUCKET, ttl=SYNC_RESULT_TTL_S)
            await results.put(job.id, result.SerializeToString())
            await self.bus.publish(
                sync_result_subject(job.id),
                result.SerializeToString(),
                msg_id=f"sync-result:{job.id}",
            )

        # A cancelled job still publishes its result.
        await self._again(job, "publishing the result", publish, stop=asyncio.Event())
        log.info(
            "sync %s finished: %d imported, %d duplicates, %d rejected, %d missing%s",
            job.id,
            result.imported,
            result.duplicates,
            result.rejected,
            result.missing_total,
            f" ({error})" if error else "",
            extra={"sync_id": job.id},
        )
