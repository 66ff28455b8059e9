"""Asking storage, the truth about what is imported, which files are new."""

from __future__ import annotations

from etstats.contract import control_pb2
from services.common.bus import Bus
from services.common.endpoints import STORAGE_UNKNOWN_FILES
from services.common.rpc import NotAnswering, ServiceFailed, ask

# Names per request: keeps a request well under NATS's default 1 MB payload.
BATCH = 10_000


class StorageUnavailable(Exception):
    """Storage could not say which files are known; the caller retries later.

    Never read as "all known": a file is skipped only on storage's word.
    """


async def unknown_files(bus: Bus, source: str, names: list[str]) -> list[str]:
    """The names storage has never seen (one request per 10,000 names)."""
    unknown: list[str] = []
    for start in range(0, len(names), BATCH):
        request = control_pb2.KnownFilesRequest(
            source=source, filenames=names[start : start + BATCH]
        )
        try:
            reply = await ask(bus, STORAGE_UNKNOWN_FILES, request)
        except (NotAnswering, ServiceFailed) as exc:
            raise StorageUnavailable(f"cannot tell which files are new: {exc}") from None
        unknown.extend(reply.unknown)
    return unknown
