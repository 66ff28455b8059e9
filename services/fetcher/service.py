"""Wires sources, monitors, leases and sync jobs to the bus."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from google.protobuf.empty_pb2 import Empty
from nats.aio.msg import Msg
from nats.js.kv import KeyValue
from prometheus_client import Gauge

from etstats.contract import control_pb2
from services.common.aio import sleep_unless
from services.common.bus import STREAM_MAX_AGE_S
from services.common.config import Env
from services.common.endpoints import FETCHER_STATUS, FETCHER_SYNC, FETCHER_SYNC_CANCEL
from services.common.metrics import REJECTIONS
from services.common.rpc import serve
from services.common.runtime import Runtime
from services.common.sources import SourceConfig, load_sources, require_key_files
from services.common.subjects import (
    LEASE_BUCKET,
    MONITORING_BUCKET,
    SYNC_BUCKET,
    SYNC_JOBS_BUCKET,
    SYNC_LOCK_TTL_S,
)
from services.fetcher.control import Lease, monitoring_enabled, switch_subject
from services.fetcher.known import StorageUnavailable
from services.fetcher.localdir import DirectorySource
from services.fetcher.monitor import (
    DETECTED,
    HOSTILE,
    POLL_ERRORS,
    POLL_SECONDS,
    POLLS,
    Monitor,
)
from services.fetcher.publish import DOWNLOAD_SECONDS, FETCHED, FETCHED_BYTES, ORIGIN_LABELS
from services.fetcher.sftp import RECONNECTS, SSH_ERROR_KINDS, SSH_ERRORS, SftpSource
from services.fetcher.source import Source, SourceError
from services.fetcher.sync import SYNC_JOBS, SyncJob, SyncRunner

log = logging.getLogger(__name__)


MONITORING = Gauge(
    "etstats_fetcher_monitoring", "1 while monitoring a source is on, 0 when stopped.", ["source"]
)
LEASE_HELD = Gauge(
    "etstats_fetcher_lease_held", "1 while this replica holds a source's lease.", ["source"]
)
# The monitoring switch is read when a write of it is heard (switch_subject),
# after every reconnect (a write while the bus was away went unheard), and at
# least this often besides; not at every poll, which stays one round trip to
# the source and none to the bus (a lease is renewed at a third of its time,
# see Lease.hold).
SWITCH_READ_S = 30.0


@dataclass(frozen=True)
class FetcherConfig:
    sources: list[SourceConfig]
    poll_interval: float
    catchup: timedelta
    lease_s: float
    instance: str
    sync_concurrency: int
    sync_settle_s: float
    ssh_keepalive_s: float
    stable_s: float

    @classmethod
    def from_env(cls, env: Env) -> FetcherConfig:
        sources = load_sources(env)
        require_key_files(sources)
        return cls(
            sources=sources,
            poll_interval=env.float("POLL_INTERVAL", 0.5, minimum=0.1, maximum=300),
            catchup=timedelta(seconds=env.duration("MONITOR_CATCHUP", "48h")),
            lease_s=env.duration("LEASE_TIME", "15s", minimum_s=3),
            instance=env.str("INSTANCE_ID", f"{socket.gethostname()}-{os.getpid()}"),
            sync_concurrency=env.int("SYNC_CONCURRENCY", 4, minimum=1, maximum=32),
            sync_settle_s=env.duration("SYNC_SETTLE_TIMEOUT", "300s", minimum_s=1),
            ssh_keepalive_s=env.duration("SSH_KEEPALIVE", "15s", minimum_s=1),
            stable_s=env.float("STABLE_DELAY", 1.0, minimum=0.05, maximum=30),
        )


def make_source(config: SourceConfig, keepalive_s: float) -> Source:
    if config.ssh is not None:
        return SftpSource(config, keepalive_s)
    assert config.dir is not None
    return DirectorySource(config.name, config.dir)


class SourceWorker:
    """Polls one source while this replica holds its lease and monitoring is on."""

    def __init__(self, monitor: Monitor, lease: Lease, switches: KeyValue, poll_s: float) -> None:
        self.monitor = monitor
        self.lease = lease
        self.switches = switches
        self.poll_s = poll_s
        self.monitoring = True
        self._switch_read_at = -math.inf
        self._reconnects = monitor.bus.reconnects
        self._error = ""

    @property
    def name(self) -> str:
        return self.monitor.source.name

    async def switched(self, _: Msg) -> None:
        """The switch was written: read it before the next poll."""
        self._switch_read_at = -math.inf

    async def run(self, stop: asyncio.Event, syncing: Callable[[str], bool]) -> None:
        while not stop.is_set():
            try:
                reconnects = self.monitor.bus.reconnects
                if (
                    time.monotonic() - self._switch_read_at >= SWITCH_READ_S
                    or reconnects != self._reconnects
                ):
                    self.monitoring = await monitoring_enabled(self.switches, self.name)
                    self._switch_read_at, self._reconnects = time.monotonic(), reconnects
                held = await self.lease.hold()
            except Exception as exc:  # the bus is down: keep the last known state
                log.warning("cannot read monitoring state or lease: %s", exc)
                held = self.lease.held
            MONITORING.labels(source=self.name).set(self.monitoring)
            LEASE_HELD.labels(source=self.name).set(held)
            if held and self.monitoring:
                await self._poll()
            elif not held and self.monitor.source.connected and not syncing(self.name):
                await self.monitor.source.close()  # another replica polls this source
            await sleep_unless(stop, self.poll_s)
        await self.lease.release()
        await self.monitor.source.close()

    async def _poll(self) -> None:
        try:
            await self.monitor.poll()
        except (SourceError, StorageUnavailable) as exc:
            if str(exc) != self._error:
                log.warning("%s", exc, extra={"source": self.name})
            self._error = str(exc)
            return
        except Exception:
            log.exception("poll failed", extra={"source": self.name})
            return
        if self._error:
            log.info("polling works again", extra={"source": self.name})
            self._error = ""

    async def status(self) -> control_pb2.SourceStatus:
        status = self.monitor.status()
        try:  # the switch as it is now, not as of the last poll
            status.monitoring = await monitoring_enabled(self.switches, self.name)
        except Exception:
            status.monitoring = self.monitoring
        status.lease_holder = (
            self.lease.holder if self.lease.held else await self.lease.current_holder()
        )
        return status


def zero_metrics(sources: dict[str, Source]) -> None:
    """Every labelled fetcher series at 0 from the start (see zero_stage)."""
    REJECTIONS.labels(stage="fetcher", reason="too_big")
    for outcome in ("done", "cancelled", "failed", "handed_over"):  # services/fetcher/sync.py
        SYNC_JOBS.labels(outcome=outcome)
    for name, source in sources.items():
        for metric in (POLLS, POLL_ERRORS, POLL_SECONDS, DETECTED, HOSTILE):
            metric.labels(source=name)
        for per_source in (FETCHED_BYTES, DOWNLOAD_SECONDS):
            per_source.labels(source=name)
        for origin in ORIGIN_LABELS.values():
            FETCHED.labels(source=name, origin=origin)
        if isinstance(source, SftpSource):
            RECONNECTS.labels(source=name)
            for kind in SSH_ERROR_KINDS:
                SSH_ERRORS.labels(source=name, kind=kind)


async def main(rt: Runtime, conf: FetcherConfig) -> None:
    sources = {c.name: make_source(c, conf.ssh_keepalive_s) for c in conf.sources}
    zero_metrics(sources)
    switches = await rt.bus.key_value(MONITORING_BUCKET)
    leases = await rt.bus.key_value(LEASE_BUCKET, ttl=conf.lease_s)
    sync_locks = await rt.bus.key_value(SYNC_BUCKET, ttl=SYNC_LOCK_TTL_S)
    # A result stays in the stream as long: a record older than that is let go.
    sync_records = await rt.bus.key_value(SYNC_JOBS_BUCKET, ttl=STREAM_MAX_AGE_S)
    workers = {
        name: SourceWorker(
            Monitor(source, rt.bus, rt.cfg.max_file_bytes, conf.catchup, stable_s=conf.stable_s),
            Lease(leases, name, conf.instance, conf.lease_s),
            switches,
            conf.poll_interval,
        )
        for name, source in sources.items()
    }

    for name, worker in workers.items():
        await rt.bus.nc.subscribe(switch_subject(name), cb=worker.switched)

    def tell_monitors(job: SyncJob) -> None:
        """Files a sync fetched are not fetched again by the monitor."""
        for name in job.sources:
            workers[name].monitor.synced(job.fetched_names)

    runner = SyncRunner(
        rt.bus,
        sources,
        sync_locks,
        sync_records,
        owner=conf.instance,
        max_bytes=rt.cfg.max_file_bytes,
        concurrency=conf.sync_concurrency,
        settle_timeout_s=conf.sync_settle_s,
        catchup=conf.catchup,
        on_done=tell_monitors,
        on_fetched=lambda name: workers[name].monitor.stats.synced(),
    )

    async def start_sync(request: control_pb2.SyncRequest) -> control_pb2.SyncAccepted:
        return await runner.start(request)

    async def cancel_sync(request: control_pb2.SyncCancel) -> control_pb2.SyncCancelled:
        return control_pb2.SyncCancelled(found=await runner.cancel_anywhere(request.sync_id))

    async def status(_: Empty) -> control_pb2.StatusReply:
        sources = [await w.status() for w in workers.values()]
        for s in sources:
            if s.older_unimported and await runner.locked(s.source):
                s.older_unimported = 0  # a sync is importing them now: no advice to sync
        return control_pb2.StatusReply(service="fetcher", instance=conf.instance, sources=sources)

    await serve(rt.micro, FETCHER_SYNC, start_sync)
    await serve(rt.micro, FETCHER_SYNC_CANCEL, cancel_sync)
    await serve(rt.micro, FETCHER_STATUS, status)

    def polled(w: SourceWorker) -> bool:
        return w.lease.held and w.monitoring

    rt.health.add_check(
        "catch-up", lambda: all(w.monitor.started or not polled(w) for w in workers.values())
    )
    # A source this replica polls is there: a missing directory, an unreachable server.
    rt.health.add_check(
        "sources",
        lambda: all(w.monitor.source.connected or not polled(w) for w in workers.values()),
    )
    for c in conf.sources:
        log.info(
            "source %r: %s every %.1fs",
            c.name,
            c.where,
            conf.poll_interval,
            extra={"source": c.name},
        )

    def syncing(name: str) -> bool:
        return any(name in job.sources for job in runner.jobs.values())

    await asyncio.gather(
        runner.watch(rt.stop), *(w.run(rt.stop, syncing) for w in workers.values())
    )
    await runner.stop()
