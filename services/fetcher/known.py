"""Asking storage, the truth about what is imported, which files are new."""

from __future__ import annotations

from etstats.contract import control_pb2
from services.common.bus import Bus
from services.common.subjects import STORAGE_UNKNOWN_FILES

# Names per request: keeps a request well under NATS's default 1 MB payload.
BATCH = 10_000
REQUEST_TIMEOUT_S = 10.0


class StorageUnavailable(Exception):
    """Storage did not answer; the caller retries later."""


async def unknown_files(bus: Bus, source: str, names: list[str]) -> list[str]:
    """The names storage has never seen (one request per 10,000 names)."""
    unknown: list[str] = []
    for start in range(0, len(names), BATCH):
        request = control_pb2.KnownFilesRequest(
            source=source, filenames=names[start : start + BATCH]
        )
        try:
            msg = await bus.nc.request(
                STORAGE_UNKNOWN_FILES, request.SerializeToString(), REQUEST_TIMEOUT_S
            )
            reply = control_pb2.KnownFilesReply.FromString(msg.data)
        except Exception as exc:
            raise StorageUnavailable(
                f"storage is not answering ({exc or type(exc).__name__})"
            ) from None
        if reply.error:
            raise StorageUnavailable(f"storage could not tell which files are known: {reply.error}")
        unknown.extend(reply.unknown)
    return unknown
