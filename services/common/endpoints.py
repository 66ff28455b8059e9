"""Every request/reply endpoint of the stack, with its message types (the contract)."""

from __future__ import annotations

from google.protobuf.empty_pb2 import Empty

from etstats.contract import control_pb2, reads_pb2
from services.common.rpc import Endpoint

# Fetcher: sync jobs and the sources' state.
FETCHER_SYNC = Endpoint("fetcher", "sync", control_pb2.SyncRequest, control_pb2.SyncAccepted)
FETCHER_SYNC_CANCEL = Endpoint(
    "fetcher", "sync_cancel", control_pb2.SyncCancel, control_pb2.SyncCancelled
)
FETCHER_STATUS = Endpoint("fetcher", "status", Empty, control_pb2.StatusReply)

# Storage: the ledger, queries and maintenance.
STORAGE_UNKNOWN_FILES = Endpoint(
    "storage",
    "unknown_files",
    control_pb2.KnownFilesRequest,
    control_pb2.KnownFilesReply,
    timeout_s=10.0,
)
STORAGE_STATUS = Endpoint("storage", "status", Empty, control_pb2.StatusReply)
STORAGE_ROUND = Endpoint("storage", "round", control_pb2.RoundQuery, control_pb2.RoundReply)
STORAGE_STALLED = Endpoint(
    "storage", "stalled", control_pb2.StalledRequest, control_pb2.StalledReply
)
STORAGE_BACKUP = Endpoint(
    "storage", "backup", control_pb2.BackupRequest, control_pb2.BackupReply, timeout_s=120.0
)
STORAGE_REIMPORT = Endpoint(
    "storage", "reimport", control_pb2.ReimportRequest, control_pb2.ReimportReply, timeout_s=30.0
)

# Storage: players read back (stats, leaderboards) and Discord links.
STORAGE_STATS = Endpoint("storage", "stats", reads_pb2.StatsRequest, reads_pb2.StatsReply)
STORAGE_TOP = Endpoint("storage", "top", reads_pb2.TopRequest, reads_pb2.TopReply)
STORAGE_LINK = Endpoint("storage", "link", reads_pb2.LinkRequest, reads_pb2.LinkReply)
STORAGE_UNLINK = Endpoint("storage", "unlink", reads_pb2.UnlinkRequest, reads_pb2.UnlinkReply)
# Storage: gaming sessions summed up (a day's, the last, the one holding a round).
STORAGE_SESSION = Endpoint("storage", "session", reads_pb2.SessionRequest, reads_pb2.SessionReply)

ALL = (
    FETCHER_SYNC,
    FETCHER_SYNC_CANCEL,
    FETCHER_STATUS,
    STORAGE_UNKNOWN_FILES,
    STORAGE_STATUS,
    STORAGE_ROUND,
    STORAGE_STALLED,
    STORAGE_BACKUP,
    STORAGE_REIMPORT,
    STORAGE_STATS,
    STORAGE_TOP,
    STORAGE_LINK,
    STORAGE_UNLINK,
    STORAGE_SESSION,
)
