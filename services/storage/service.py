"""Wires PostgreSQL to the bus: imports, the ledger of rejections, the event log,
queries and backups."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from google.protobuf.empty_pb2 import Empty
from nats.aio.msg import Msg
from prometheus_client import Counter, Gauge, Histogram

from etstats.contract import common_pb2, control_pb2, files_pb2, rounds_pb2
from services.common.aio import sleep_unless
from services.common.backoff import backoff
from services.common.config import SESSION_GAP_DEFAULT, Env
from services.common.consumer import consume, decode
from services.common.control import Control
from services.common.durables import (
    STORAGE,
    STORAGE_EVENTS,
    STORAGE_LIVE,
    STORAGE_REJECTIONS,
    poster_live,
)
from services.common.endpoints import (
    STORAGE_BACKUP,
    STORAGE_REIMPORT,
    STORAGE_ROUND,
    STORAGE_STALLED,
    STORAGE_STATUS,
    STORAGE_UNKNOWN_FILES,
)
from services.common.events import report
from services.common.metrics import mark_success
from services.common.reports import sync_text
from services.common.rpc import ServiceError, serve
from services.common.runtime import Runtime
from services.common.subjects import (
    STORED,
    stage_msg_id,
    stored_subject,
    to_post,
)
from services.storage import backup, eventlog, queries
from services.storage.db import Conn
from services.storage.fold import fold_sums
from services.storage.importer import (
    ImportResult,
    Outcome,
    import_batch,
    record_rejection,
    unknown_files,
)
from services.storage.migrations import migrate
from services.storage.reads import serve_reads
from services.storage.sessions import serve_sessions
from services.storage.stored import bare_stored

log = logging.getLogger(__name__)

IMPORTS = Counter(
    "etstats_storage_files_total", "Files handled by storage, by outcome.", ["source", "outcome"]
)
IMPORT_SECONDS = Histogram(
    "etstats_storage_import_seconds",
    "Time to import one file.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
# Values PostgreSQL refuses (out of range, NUL in text, bad text for a type):
# asyncpg raises DataError, or OverflowError for a COPY; retrying cannot help.
DATA_ERRORS = (asyncpg.DataError, OverflowError)
# The database unreachable or the pool closing: the file waits for it, unbounded.
DATABASE_OUTAGES = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)
# Rounds per import transaction, pipeline events per INSERT: a sync's thousands
# of files cost a few hundred transactions, a live round still goes alone.
IMPORT_BATCH = 64
EVENT_BATCH = 256
BACKUPS = Counter("etstats_storage_backups_total", "Database backups, by outcome.", ["outcome"])
LAST_BACKUP = Gauge(
    "etstats_storage_last_backup_timestamp_seconds", "When the last backup succeeded."
)


@dataclass(frozen=True)
class StorageConfig:
    database_url: str
    pool_size: int
    backup_dir: Path = Path("./var/backups")
    backup_interval_s: float = 86400.0
    backup_keep: int = 7
    pg_dump: str | None = None
    event_retention_s: float = 7 * 86400.0
    backup_dir_temporary: bool = False  # Kubernetes: the pod's own disk
    session_gap_s: float = 3600.0

    @classmethod
    def from_env(cls, env: Env) -> StorageConfig:
        return cls(
            database_url=env.str("DATABASE_URL", pattern=r"postgres(ql)?://\S*"),
            pool_size=env.int("DATABASE_POOL_SIZE", 5, minimum=1, maximum=100),
            backup_dir=Path(env.str("BACKUP_DIR", "./var/backups")),
            backup_interval_s=env.duration("BACKUP_INTERVAL", "1d"),
            backup_keep=env.int("BACKUP_KEEP", 7, minimum=1, maximum=1000),
            pg_dump=env.optional("PG_DUMP"),
            event_retention_s=env.duration("EVENT_RETENTION", "7d", minimum_s=60),
            backup_dir_temporary=env.bool("BACKUP_DIR_TEMPORARY", False),
            session_gap_s=env.duration("SESSION_GAP", SESSION_GAP_DEFAULT, minimum_s=1),
        )


async def open_pool(conf: StorageConfig, rt: Runtime) -> asyncpg.Pool | None:
    """Connect (retrying while PostgreSQL is down) and migrate; None if stopped first."""
    failures = 0
    while not rt.stop.is_set():
        try:
            pool = await asyncpg.create_pool(conf.database_url, min_size=1, max_size=conf.pool_size)
        except (OSError, asyncpg.PostgresError) as exc:
            failures += 1
            delay = backoff(failures, first=0.5, cap=10.0)
            log.warning("cannot reach PostgreSQL (%s); retrying in %.1fs", exc, delay)
            await sleep_unless(rt.stop, delay)
            continue
        async with pool.acquire() as conn:
            await migrate(conn)
        return pool
    return None


class Storage:
    """The handlers: each runs one transaction or query and reports on the bus."""

    def __init__(self, rt: Runtime, pool: asyncpg.Pool, conf: StorageConfig) -> None:
        self.rt = rt
        self.pool = pool
        self.conf = conf
        self.last_backup = 0.0  # epoch seconds of the newest backup known

    async def import_parsed(self, msg: Msg) -> None:
        await self.import_batch([msg])

    async def import_batch(self, msgs: list[Msg]) -> None:
        """Import parsed rounds in one transaction, then tell the bus: a stored
        event per round (and one per repaired round 2), all in flight at once."""
        batch = [decode(rounds_pb2.ParsedRound, msg.data) for msg in msgs]
        started = time.perf_counter()
        async with self.pool.acquire() as conn:
            results = await import_batch(conn, batch)
            events = [
                await self._stored_event(conn, p, r) for p, r in zip(batch, results, strict=True)
            ]
            repaired = [await queries.stored_round(conn, r2) for r in results for r2 in r.repaired]
        seconds = (time.perf_counter() - started) / len(batch)
        for source in sorted({s.file.source for s in (*events, *filter(None, repaired))}):
            # Rounds to post are kept only for a consumer that exists: the poster's.
            await self.rt.bus.ensure_consumer(poster_live(source))
        publishes = []
        for parsed, result, stored in zip(batch, results, events, strict=True):
            IMPORT_SECONDS.observe(seconds)
            IMPORTS.labels(source=parsed.file.source, outcome=result.outcome.value).inc()
            if to_post(stored):
                publishes.append(
                    self.rt.bus.publish(
                        stored_subject(stored),
                        stored.SerializeToString(),
                        msg_id=stage_msg_id(STORED, parsed.file.msg_id),
                    )
                )
            else:  # no consumer keeps it: only a sync that fetched the file hears it
                await self.rt.bus.send(stored_subject(stored), stored.SerializeToString())
        paired_by = {
            r2: p.file.msg_id for p, r in zip(batch, results, strict=True) for r2 in r.repaired
        }
        for again in filter(None, repaired):
            # The round 2 posted before as an orphan: the poster edits that post.
            again.repaired = True
            publishes.append(
                self.rt.bus.publish(
                    stored_subject(again),
                    again.SerializeToString(),
                    msg_id=stage_msg_id(
                        STORED, f"{again.file.msg_id}/paired/{paired_by[again.round_id]}"
                    ),
                )
            )
        await asyncio.gather(*publishes)
        for parsed, result in zip(batch, results, strict=True):
            await report(
                self.rt.bus, parsed.file, "storage", "stored", seconds, result.outcome.value
            )
            mark_success("storage", parsed.file.source)

    async def _stored_event(
        self, conn: Conn, parsed: rounds_pb2.ParsedRound, result: ImportResult
    ) -> rounds_pb2.StoredRound:
        """The stored round: built by the import, else read back (a round to post),
        else the bare file."""
        if result.stored is not None:
            return result.stored
        if result.round_id is not None and not parsed.file.recent:
            return bare_stored(
                parsed.file,
                result.round_id,
                parsed.stamp,
                parsed.header,
                redelivered=result.outcome is Outcome.REDELIVERED,
                duplicate=result.outcome is Outcome.DUPLICATE,
            )
        if result.round_id is not None:
            stored = await queries.stored_round(
                conn,
                result.round_id,
                parsed.file,
                redelivered=result.outcome is Outcome.REDELIVERED,
                duplicate=result.outcome is Outcome.DUPLICATE,
            )
            if stored is not None:
                return stored
        return rounds_pb2.StoredRound(
            file=parsed.file,
            header=parsed.header,
            duplicate=result.outcome is Outcome.DUPLICATE,
        )

    async def record_rejection(self, msg: Msg) -> None:
        rejection = decode(files_pb2.Rejection, msg.data)
        async with self.pool.acquire() as conn:
            await record_rejection(conn, rejection)
        # A rejected file has reached its outcome too: no stall alert waits on it.
        if rejection.file.source:
            mark_success("storage", rejection.file.source)

    async def record_event(self, msg: Msg) -> None:
        await self.record_events([msg])

    async def record_events(self, msgs: list[Msg]) -> None:
        events = [decode(control_pb2.PipelineEvent, msg.data) for msg in msgs]
        async with self.pool.acquire() as conn:
            await eventlog.record(conn, events)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        """A pooled connection for an endpoint; a database outage is a 503 for the caller."""
        try:
            async with self.pool.acquire() as conn:
                yield conn
        except DATABASE_OUTAGES as exc:
            raise ServiceError("503", f"the database is unavailable: {exc}") from exc

    async def answer_unknown(
        self, query: control_pb2.KnownFilesRequest
    ) -> control_pb2.KnownFilesReply:
        async with self.connection() as conn:
            unknown = await unknown_files(conn, query.source, list(query.filenames))
        return control_pb2.KnownFilesReply(unknown=unknown)

    async def answer_status(self, _: Empty) -> control_pb2.StatusReply:
        async with self.connection() as conn:
            return await queries.status(conn)

    async def answer_round(self, query: control_pb2.RoundQuery) -> control_pb2.RoundReply:
        async with self.connection() as conn:
            round_id = query.round_id or await queries.last_round_id(conn, query.source)
            stored = await queries.stored_round(conn, round_id) if round_id else None
        if stored is None:
            what = f"round #{query.round_id}" if query.round_id else f"a round of {query.source!r}"
            raise ServiceError("404", f"no {what} is stored")
        return control_pb2.RoundReply(round=stored)

    async def answer_stalled(self, query: control_pb2.StalledRequest) -> control_pb2.StalledReply:
        async with self.connection() as conn:
            files = await eventlog.stalled(conn, query.older_than_s)
        return control_pb2.StalledReply(
            files=[common_pb2.FileRef(source=s, filename=f) for s, f in files]
        )

    async def answer_backup(self, _: control_pb2.BackupRequest) -> control_pb2.BackupReply:
        try:
            path = await self.backup_now()
        except backup.BackupError as exc:
            raise ServiceError("503", str(exc)) from exc
        return control_pb2.BackupReply(
            filename=path.name,
            size=path.stat().st_size,
            temporary=self.conf.backup_dir_temporary,
        )

    async def answer_reimport(
        self, query: control_pb2.ReimportRequest
    ) -> control_pb2.ReimportReply:
        """Forget rejected files, then have the fetcher fetch exactly those again."""
        async with self.connection() as conn:
            rows = await conn.fetch(
                "DELETE FROM files WHERE status = 'rejected' AND ($1 = '' OR source = $1)"
                " RETURNING source, filename",
                query.source,
            )
        by_source: dict[str, list[str]] = {}
        for row in rows:
            by_source.setdefault(row["source"], []).append(row["filename"])
        sync_ids = []
        for source, files in sorted(by_source.items()):
            accepted = await Control(self.rt.bus).sync(
                "all",
                [source],
                control_pb2.Requester(user_name=query.requested_by, via="reimport"),
                files=files,
            )
            if accepted.already_running:
                raise ServiceError(
                    "409",
                    f"{sync_text(accepted.running)} is running for {source}; its"
                    f" {len(files)} rejected files are forgotten now, so the next sync of"
                    " their days imports them",
                )
            sync_ids.append(accepted.sync_id)
        return control_pb2.ReimportReply(files=len(rows), sync_ids=sync_ids)

    async def backup_now(self) -> Path:
        try:
            path = await backup.backup(
                self.conf.pg_dump,
                self.conf.database_url,
                self.conf.backup_dir,
                self.conf.backup_keep,
            )
        except backup.BackupError:
            BACKUPS.labels(outcome="failed").inc()
            raise
        BACKUPS.labels(outcome="done").inc()
        self.last_backup = time.time()
        LAST_BACKUP.set(self.last_backup)
        log.info("backup written: %s", path)
        try:
            await backup.record(self.rt.bus, self.last_backup)
        except Exception as exc:
            log.warning("backup written, but other replicas were not told: %s", exc)
        return path

    async def maintain(self) -> None:
        """Scheduled backups and event-log pruning, until stopped."""
        interval = self.conf.backup_interval_s
        tick = min(60.0, interval or 60.0)
        local = backup.latest(self.conf.backup_dir)
        self.last_backup = local.stat().st_mtime if local else 0.0
        started = time.time()
        next_try = 0.0  # a failed backup is tried again an interval later, not every tick
        while True:
            try:
                # Another replica's (or the backup job's) backup counts too: one
                # backup per interval, and one last-backup time on every replica.
                self.last_backup = max(self.last_backup, await backup.last_recorded(self.rt.bus))
            except Exception as exc:
                log.warning("cannot read the last backup time from the bus: %s", exc)
            LAST_BACKUP.set(self.last_backup)
            if await sleep_unless(self.rt.stop, tick):
                return
            try:
                async with self.pool.acquire() as conn:
                    if pruned := await eventlog.prune(conn, self.conf.event_retention_s):
                        log.info("pruned %d old pipeline events", pruned)
                due = self.last_backup + interval if self.last_backup else started + tick
                if interval and time.time() >= max(due, next_try):
                    next_try = time.time() + interval
                    await self.backup_now()
            except Exception as exc:
                log.warning("maintenance failed: %s", exc)


async def main(rt: Runtime, conf: StorageConfig) -> None:
    for outcome in ("done", "failed"):  # at 0 from the start (see zero_stage)
        BACKUPS.labels(outcome=outcome)
    rt.health.add_check("postgres", lambda: False)  # not ready until the schema is current
    pool = await open_pool(conf, rt)
    if pool is None:
        return
    storage = Storage(rt, pool, conf)
    await serve(rt.micro, STORAGE_UNKNOWN_FILES, storage.answer_unknown)
    await serve(rt.micro, STORAGE_STATUS, storage.answer_status)
    await serve(rt.micro, STORAGE_ROUND, storage.answer_round)
    await serve(rt.micro, STORAGE_BACKUP, storage.answer_backup)
    await serve(rt.micro, STORAGE_STALLED, storage.answer_stalled)
    await serve(rt.micro, STORAGE_REIMPORT, storage.answer_reimport)
    await serve_reads(rt.micro, storage.connection)
    await serve_sessions(rt.micro, storage.connection, conf.session_gap_s)
    rt.health.add_check("postgres", lambda: not pool.is_closing())
    try:
        await asyncio.gather(
            consume(
                rt.bus,
                stage="storage",
                consumer=STORAGE,
                handler=storage.import_parsed,
                batch_handler=storage.import_batch,
                batch=IMPORT_BATCH,
                stop=rt.stop,
                permanent=DATA_ERRORS,
                outages=DATABASE_OUTAGES,
                file_of=lambda data: rounds_pb2.ParsedRound.FromString(data).file,
            ),
            consume(
                rt.bus,
                stage="storage",
                consumer=STORAGE_LIVE,
                handler=storage.import_parsed,
                stop=rt.stop,
                permanent=DATA_ERRORS,
                outages=DATABASE_OUTAGES,
                file_of=lambda data: rounds_pb2.ParsedRound.FromString(data).file,
            ),
            consume(
                rt.bus,
                stage="storage-rejections",
                consumer=STORAGE_REJECTIONS,
                handler=storage.record_rejection,
                stop=rt.stop,
                permanent=DATA_ERRORS,
                outages=DATABASE_OUTAGES,
                publish_rejections=False,
            ),
            consume(
                rt.bus,
                stage="storage-events",
                consumer=STORAGE_EVENTS,
                handler=storage.record_event,
                batch_handler=storage.record_events,
                batch=EVENT_BATCH,
                stop=rt.stop,
                permanent=DATA_ERRORS,
                outages=DATABASE_OUTAGES,
                publish_rejections=False,
            ),
            storage.maintain(),
            fold_sums(pool, rt.stop),
        )
    finally:
        await pool.close()
