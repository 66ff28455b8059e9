"""Operator requests over the bus, shared by the bot and the `etstats` CLI."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from etstats.contract import common_pb2, control_pb2
from services.common.bus import Bus
from services.common.subjects import (
    EXPECTED_SERVICES,
    FETCHER_STATUS,
    FETCHER_SYNC,
    FETCHER_SYNC_CANCEL,
    HEALTH,
    MONITORING_BUCKET,
    STORAGE_BACKUP,
    STORAGE_REIMPORT,
    STORAGE_STALLED,
    STORAGE_STATUS,
    sync_progress_subject,
    sync_result_subject,
)

ANSWER_WITHIN_S = 5.0


class NotAnswering(Exception):
    """A service did not answer in time; the message names it."""

    def __init__(self, service: str) -> None:
        super().__init__(f"the {service} service is not answering")
        self.service = service


@dataclass(frozen=True)
class Health:
    instances: list[control_pb2.HealthReply]
    missing: list[str]  # expected services that did not answer


class Control:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def _ask(
        self, service: str, subject: str, payload: bytes, within: float = ANSWER_WITHIN_S
    ) -> bytes:
        try:
            return (await self.bus.nc.request(subject, payload, timeout=within)).data
        except (NoRespondersError, NatsTimeout, TimeoutError):
            raise NotAnswering(service) from None

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
        return control_pb2.SyncAccepted.FromString(
            await self._ask("fetcher", FETCHER_SYNC, request.SerializeToString())
        )

    async def cancel_sync(self, sync_id: str) -> bool:
        data = await self._ask(
            "fetcher",
            FETCHER_SYNC_CANCEL,
            control_pb2.SyncCancel(sync_id=sync_id).SerializeToString(),
        )
        return control_pb2.SyncCancelled.FromString(data).found

    async def sync_and_follow(
        self,
        period: str,
        sources: list[str] | None = None,
        requester: control_pb2.Requester | None = None,
    ) -> tuple[
        control_pb2.SyncAccepted, AsyncIterator[control_pb2.SyncProgress | control_pb2.SyncResult]
    ]:
        """Start a sync (or join the running one) and follow it to its result.

        The subscriptions exist before the request, so a quick sync's progress
        and result cannot slip past.
        """
        queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

        async def on_msg(msg) -> None:  # type: ignore[no-untyped-def]
            queue.put_nowait((msg.subject, msg.data))

        subs = [
            await self.bus.nc.subscribe(sync_progress_subject("*"), cb=on_msg),
            await self.bus.nc.subscribe(sync_result_subject("*"), cb=on_msg),
        ]
        try:
            accepted = await self.sync(period, sources, requester)
        except BaseException:
            await _unsubscribe(subs)
            raise
        if not accepted.sync_id:
            await _unsubscribe(subs)
        return accepted, self._follow(accepted.sync_id, queue, subs)

    async def _follow(self, sync_id: str, queue, subs):  # type: ignore[no-untyped-def]
        try:
            while True:
                subject, data = await queue.get()
                if not subject.endswith("." + sync_id):
                    continue
                if subject == sync_result_subject(sync_id):
                    yield control_pb2.SyncResult.FromString(data)
                    return
                yield control_pb2.SyncProgress.FromString(data)
        finally:
            await _unsubscribe(subs)

    async def set_monitoring(self, source: str, enabled: bool, changed_by: str) -> None:
        kv = await self.bus.key_value(MONITORING_BUCKET)
        state = control_pb2.MonitoringState(
            source=source,
            enabled=enabled,
            changed_by=changed_by,
            changed_at_ms=int(time.time() * 1000),
        )
        await kv.put(source, state.SerializeToString())

    async def fetcher_status(self) -> control_pb2.StatusReply:
        return control_pb2.StatusReply.FromString(await self._ask("fetcher", FETCHER_STATUS, b""))

    async def storage_status(self) -> control_pb2.StatusReply:
        return control_pb2.StatusReply.FromString(await self._ask("storage", STORAGE_STATUS, b""))

    async def statuses(
        self,
    ) -> tuple[control_pb2.StatusReply | None, control_pb2.StatusReply | None]:
        """Fetcher and storage status; None for a service that does not answer."""
        replies = await asyncio.gather(
            self.fetcher_status(), self.storage_status(), return_exceptions=True
        )
        for reply in replies:
            if isinstance(reply, BaseException) and not isinstance(reply, NotAnswering):
                raise reply
        fetcher, storage = (r if isinstance(r, control_pb2.StatusReply) else None for r in replies)
        return fetcher, storage

    async def stalled(self, older_than_s: int) -> list[common_pb2.FileRef]:
        request = control_pb2.StalledRequest(older_than_s=older_than_s).SerializeToString()
        return list(
            control_pb2.StalledReply.FromString(
                await self._ask("storage", STORAGE_STALLED, request)
            ).files
        )

    async def backup(self, requested_by: str) -> control_pb2.BackupReply:
        request = control_pb2.BackupRequest(requested_by=requested_by).SerializeToString()
        return control_pb2.BackupReply.FromString(
            await self._ask("storage", STORAGE_BACKUP, request, within=120)
        )

    async def reimport(self, source: str, requested_by: str) -> control_pb2.ReimportReply:
        request = control_pb2.ReimportRequest(source=source, requested_by=requested_by)
        return control_pb2.ReimportReply.FromString(
            await self._ask("storage", STORAGE_REIMPORT, request.SerializeToString(), within=30)
        )

    async def health(
        self, wait_s: float = 1.5, expected: tuple[str, ...] = EXPECTED_SERVICES
    ) -> Health:
        """Every instance that answers within `wait_s`, and the expected ones that did not."""
        replies: list[control_pb2.HealthReply] = []
        inbox = self.bus.nc.new_inbox()

        async def on_reply(msg) -> None:  # type: ignore[no-untyped-def]
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


async def _unsubscribe(subs) -> None:  # type: ignore[no-untyped-def]
    for sub in subs:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
