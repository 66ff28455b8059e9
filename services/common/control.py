"""Operator requests over the bus, shared by the bot and the `etstats` CLI."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from google.protobuf.empty_pb2 import Empty
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import BucketNotFoundError, NoKeysError, NotFoundError

from etstats.contract import common_pb2, control_pb2
from services.common.bus import Bus
from services.common.endpoints import (
    FETCHER_STATUS,
    FETCHER_SYNC,
    FETCHER_SYNC_CANCEL,
    STORAGE_BACKUP,
    STORAGE_REIMPORT,
    STORAGE_STALLED,
    STORAGE_STATUS,
)
from services.common.rpc import NotAnswering, ServiceFailed, ask
from services.common.sources import unknown_source
from services.common.subjects import (
    EXPECTED_SERVICES,
    HEALTH,
    MONITORING_BUCKET,
    SYNC_BUCKET,
    SYNC_HEARTBEAT_S,
    SYNC_RESULT_TTL_S,
    SYNC_RESULTS_BUCKET,
    sync_progress_subject,
    sync_result_subject,
)

SyncEvents = AsyncIterator[control_pb2.SyncProgress | control_pb2.SyncResult]

# A follower that hears nothing from a running sync for this long takes it for dead.
FOLLOW_SILENCE_S = 6 * SYNC_HEARTBEAT_S


class UnknownSource(Exception):
    """A command named a source the fetcher does not have; the message lists them."""


class SyncLost(Exception):
    """A followed sync stopped reporting before its result."""

    def __init__(self, sync_id: str, silent_s: float) -> None:
        super().__init__(
            f"sync {sync_id} has sent nothing for {silent_s:.0f}s; its fetcher may have stopped"
            " (see `etstats status`); sync again to finish it"
        )
        self.sync_id = sync_id


# Every failure of an operator request: each has a one-line message for people.
RequestFailed = (NotAnswering, ServiceFailed, UnknownSource, SyncLost)


@dataclass(frozen=True)
class Health:
    instances: list[control_pb2.HealthReply]
    missing: list[str]  # expected services that did not answer


class Control:
    """Every operator request, with a deadline on each."""

    def __init__(self, bus: Bus, follow_silence_s: float = FOLLOW_SILENCE_S) -> None:
        self.bus = bus
        self.follow_silence_s = follow_silence_s

    async def sync(
        self,
        period: str,
        sources: list[str] | None = None,
        requester: control_pb2.Requester | None = None,
        files: list[str] | None = None,
    ) -> control_pb2.SyncAccepted:
        request = control_pb2.SyncRequest(
            period=period, sources=sources or [], requester=requester, files=files or []
        )
        return await ask(self.bus, FETCHER_SYNC, request)

    async def cancel_sync(self, sync_id: str) -> bool:
        reply = await ask(self.bus, FETCHER_SYNC_CANCEL, control_pb2.SyncCancel(sync_id=sync_id))
        return reply.found

    async def sync_and_follow(
        self,
        period: str,
        sources: list[str] | None = None,
        requester: control_pb2.Requester | None = None,
    ) -> tuple[control_pb2.SyncAccepted, SyncEvents | None]:
        """Start a sync and follow it to its result; no follower when the fetcher
        refused because another sync holds the source (`accepted.running` says which).

        The subscriptions exist before the request, so a quick sync's progress
        and result cannot slip past.
        """
        queue, subs = await self._listen("*")
        try:
            accepted = await self.sync(period, sources, requester)
        except BaseException:
            await _unsubscribe(subs)
            raise
        if accepted.already_running:  # refused: that sync's progress is not ours to follow
            await _unsubscribe(subs)
            return accepted, None
        return accepted, self._follow(accepted.sync_id, queue, subs, self.follow_silence_s)

    async def follow(self, sync_id: str) -> SyncEvents:
        """Follow a sync started earlier (by a bot before its restart, say): its
        result at once if it has ended (results are kept a week), else its
        progress and result as they come; SyncLost when it falls silent."""
        queue, subs = await self._listen(sync_id)
        try:
            results = await self.bus.key_value(SYNC_RESULTS_BUCKET, ttl=SYNC_RESULT_TTL_S)
            entry = await results.get(sync_id)
            queue.put_nowait((sync_result_subject(sync_id), entry.value or b""))
        except NotFoundError:  # KeyNotFoundError too
            pass  # still running, or lost: the follower tells
        except BaseException:
            await _unsubscribe(subs)
            raise
        return self._follow(sync_id, queue, subs, self.follow_silence_s)

    async def _listen(
        self, sync_id: str
    ) -> tuple[asyncio.Queue[tuple[str, bytes]], list[Subscription]]:
        """Subscriptions to a sync's progress and result (`*`: every sync's)."""
        queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

        async def on_msg(msg: Msg) -> None:
            queue.put_nowait((msg.subject, msg.data))

        subs = [
            await self.bus.nc.subscribe(sync_progress_subject(sync_id), cb=on_msg),
            await self.bus.nc.subscribe(sync_result_subject(sync_id), cb=on_msg),
        ]
        return queue, subs

    async def _follow(
        self,
        sync_id: str,
        queue: asyncio.Queue[tuple[str, bytes]],
        subs: list[Subscription],
        silence_s: float,
    ) -> SyncEvents:
        """The job's progress and result; SyncLost when it falls silent."""
        try:
            heard = time.monotonic()
            while True:
                try:
                    subject, data = await asyncio.wait_for(
                        queue.get(), heard + silence_s - time.monotonic()
                    )
                except TimeoutError:
                    raise SyncLost(sync_id, silence_s) from None
                if not subject.endswith("." + sync_id):
                    continue
                heard = time.monotonic()
                if subject == sync_result_subject(sync_id):
                    yield control_pb2.SyncResult.FromString(data)
                    return
                yield control_pb2.SyncProgress.FromString(data)
        finally:
            await _unsubscribe(subs)

    async def sources(self) -> list[str]:
        """The sources the fetcher has, in its order."""
        return [s.source for s in (await self.fetcher_status()).sources]

    async def check_source(self, source: str) -> None:
        """UnknownSource unless the fetcher has `source`."""
        known = await self.sources()
        if source not in known:
            raise UnknownSource(unknown_source(source, known))

    async def running_syncs(self) -> list[control_pb2.RunningSync]:
        """The syncs holding a source now, read from the fetcher's per-source locks."""
        try:
            kv = await self.bus.js.key_value(SYNC_BUCKET)  # never create it from here
            keys = await kv.keys()
        except (BucketNotFoundError, NoKeysError):
            return []
        found: dict[str, control_pb2.RunningSync] = {}
        for key in keys:
            with contextlib.suppress(Exception):  # a lock that went away meanwhile
                lock = control_pb2.RunningSync.FromString((await kv.get(key)).value or b"")
                if lock.sync_id:
                    found.setdefault(lock.sync_id, lock)
        return list(found.values())

    async def cancel_syncs(self, sync_id: str | None) -> list[tuple[control_pb2.RunningSync, bool]]:
        """Cancel one sync, or with no id every running one; each with whether the
        fetcher had it running."""
        targets = (
            [control_pb2.RunningSync(sync_id=sync_id)] if sync_id else await self.running_syncs()
        )
        return [(sync, await self.cancel_sync(sync.sync_id)) for sync in targets]

    async def switch_monitoring(
        self, source: str | None, enabled: bool, changed_by: str
    ) -> list[str]:
        """Switch one source (checked against the fetcher's) or, with None, all of them;
        returns the sources switched."""
        known = await self.sources()
        if source is not None and source not in known:
            raise UnknownSource(unknown_source(source, known))
        names = known if source is None else [source]
        for name in names:
            await self.set_monitoring(name, enabled, changed_by)
        return names

    async def set_monitoring(self, source: str, enabled: bool, changed_by: str) -> None:
        """Write the switch as it is; the fetcher watches it (even before it starts)."""
        kv = await self.bus.key_value(MONITORING_BUCKET)
        state = control_pb2.MonitoringState(
            source=source,
            enabled=enabled,
            changed_by=changed_by,
            changed_at_ms=int(time.time() * 1000),
        )
        await kv.put(source, state.SerializeToString())

    async def fetcher_status(self) -> control_pb2.StatusReply:
        return await ask(self.bus, FETCHER_STATUS, Empty())

    async def storage_status(self) -> control_pb2.StatusReply:
        return await ask(self.bus, STORAGE_STATUS, Empty())

    async def statuses(
        self,
    ) -> tuple[control_pb2.StatusReply | None, control_pb2.StatusReply | None]:
        """Fetcher and storage status; None for a service that does not answer."""
        replies = await asyncio.gather(
            self.fetcher_status(), self.storage_status(), return_exceptions=True
        )
        for reply in replies:
            if isinstance(reply, BaseException) and not isinstance(reply, RequestFailed):
                raise reply
        fetcher, storage = (r if isinstance(r, control_pb2.StatusReply) else None for r in replies)
        return fetcher, storage

    async def stalled(self, older_than_s: int) -> list[common_pb2.FileRef]:
        request = control_pb2.StalledRequest(older_than_s=older_than_s)
        return list((await ask(self.bus, STORAGE_STALLED, request)).files)

    async def backup(self, requested_by: str) -> control_pb2.BackupReply:
        request = control_pb2.BackupRequest(requested_by=requested_by)
        return await ask(self.bus, STORAGE_BACKUP, request)

    async def reimport(self, source: str, requested_by: str) -> control_pb2.ReimportReply:
        """Import rejected files again: of one source (checked first), or of all ('')."""
        if source:
            await self.check_source(source)
        request = control_pb2.ReimportRequest(source=source, requested_by=requested_by)
        return await ask(self.bus, STORAGE_REIMPORT, request)

    async def health(
        self, wait_s: float = 1.5, expected: tuple[str, ...] = EXPECTED_SERVICES
    ) -> Health:
        """Every instance that answers within `wait_s`, and the expected ones that did not."""
        replies: list[control_pb2.HealthReply] = []
        inbox = self.bus.nc.new_inbox()

        async def on_reply(msg: Msg) -> None:
            with contextlib.suppress(Exception):
                replies.append(control_pb2.HealthReply.FromString(msg.data))

        sub = await self.bus.nc.subscribe(inbox, cb=on_reply)
        try:
            await self.bus.nc.publish(HEALTH, b"", reply=inbox)
            await asyncio.sleep(wait_s)
        finally:
            await sub.unsubscribe()
        found = {r.service for r in replies}
        return Health(
            sorted(replies, key=lambda r: (r.service, r.instance)),
            [s for s in expected if s not in found],
        )


async def _unsubscribe(subs: list[Subscription]) -> None:
    for sub in subs:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
