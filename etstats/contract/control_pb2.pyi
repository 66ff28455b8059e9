from etstats.contract import common_pb2 as _common_pb2
from etstats.contract import rounds_pb2 as _rounds_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Requester(_message.Message):
    __slots__ = ("user_id", "user_name", "channel_id", "interaction_token", "via")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    VIA_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    user_name: str
    channel_id: str
    interaction_token: str
    via: str
    def __init__(self, user_id: _Optional[str] = ..., user_name: _Optional[str] = ..., channel_id: _Optional[str] = ..., interaction_token: _Optional[str] = ..., via: _Optional[str] = ...) -> None: ...

class SyncRequest(_message.Message):
    __slots__ = ("sources", "period", "requester", "files")
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedScalarFieldContainer[str]
    period: str
    requester: Requester
    files: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, sources: _Optional[_Iterable[str]] = ..., period: _Optional[str] = ..., requester: _Optional[_Union[Requester, _Mapping]] = ..., files: _Optional[_Iterable[str]] = ...) -> None: ...

class SyncAccepted(_message.Message):
    __slots__ = ("sync_id", "already_running", "sources", "running")
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    ALREADY_RUNNING_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    already_running: bool
    sources: _containers.RepeatedScalarFieldContainer[str]
    running: RunningSync
    def __init__(self, sync_id: _Optional[str] = ..., already_running: _Optional[bool] = ..., sources: _Optional[_Iterable[str]] = ..., running: _Optional[_Union[RunningSync, _Mapping]] = ...) -> None: ...

class RunningSync(_message.Message):
    __slots__ = ("sync_id", "period", "requester", "owner", "sources", "files", "started_at_ms", "cancel_requested")
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    period: str
    requester: Requester
    owner: str
    sources: _containers.RepeatedScalarFieldContainer[str]
    files: _containers.RepeatedScalarFieldContainer[str]
    started_at_ms: int
    cancel_requested: bool
    def __init__(self, sync_id: _Optional[str] = ..., period: _Optional[str] = ..., requester: _Optional[_Union[Requester, _Mapping]] = ..., owner: _Optional[str] = ..., sources: _Optional[_Iterable[str]] = ..., files: _Optional[_Iterable[str]] = ..., started_at_ms: _Optional[int] = ..., cancel_requested: _Optional[bool] = ...) -> None: ...

class SyncMessage(_message.Message):
    __slots__ = ("sync_id", "channel_id", "message_id")
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    channel_id: str
    message_id: str
    def __init__(self, sync_id: _Optional[str] = ..., channel_id: _Optional[str] = ..., message_id: _Optional[str] = ...) -> None: ...

class SyncCancel(_message.Message):
    __slots__ = ("sync_id",)
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    def __init__(self, sync_id: _Optional[str] = ...) -> None: ...

class SyncCancelled(_message.Message):
    __slots__ = ("found",)
    FOUND_FIELD_NUMBER: _ClassVar[int]
    found: bool
    def __init__(self, found: _Optional[bool] = ...) -> None: ...

class SyncProgress(_message.Message):
    __slots__ = ("sync_id", "source", "listed", "unknown", "fetched", "stored", "failed", "updated_at_ms", "rejected", "duplicates", "done", "error", "already_published")
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    LISTED_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    FETCHED_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ALREADY_PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    source: str
    listed: int
    unknown: int
    fetched: int
    stored: int
    failed: int
    updated_at_ms: int
    rejected: int
    duplicates: int
    done: bool
    error: str
    already_published: int
    def __init__(self, sync_id: _Optional[str] = ..., source: _Optional[str] = ..., listed: _Optional[int] = ..., unknown: _Optional[int] = ..., fetched: _Optional[int] = ..., stored: _Optional[int] = ..., failed: _Optional[int] = ..., updated_at_ms: _Optional[int] = ..., rejected: _Optional[int] = ..., duplicates: _Optional[int] = ..., done: _Optional[bool] = ..., error: _Optional[str] = ..., already_published: _Optional[int] = ...) -> None: ...

class SyncResult(_message.Message):
    __slots__ = ("sync_id", "requester", "sources", "imported", "duplicates", "rejected", "rejections", "rounds_per_map", "started_at_ms", "finished_at_ms", "cancelled", "error", "missing", "missing_total")
    class RoundsPerMapEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    ROUNDS_PER_MAP_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    MISSING_TOTAL_FIELD_NUMBER: _ClassVar[int]
    sync_id: str
    requester: Requester
    sources: _containers.RepeatedCompositeFieldContainer[SyncProgress]
    imported: int
    duplicates: int
    rejected: int
    rejections: _containers.RepeatedScalarFieldContainer[str]
    rounds_per_map: _containers.ScalarMap[str, int]
    started_at_ms: int
    finished_at_ms: int
    cancelled: bool
    error: str
    missing: _containers.RepeatedScalarFieldContainer[str]
    missing_total: int
    def __init__(self, sync_id: _Optional[str] = ..., requester: _Optional[_Union[Requester, _Mapping]] = ..., sources: _Optional[_Iterable[_Union[SyncProgress, _Mapping]]] = ..., imported: _Optional[int] = ..., duplicates: _Optional[int] = ..., rejected: _Optional[int] = ..., rejections: _Optional[_Iterable[str]] = ..., rounds_per_map: _Optional[_Mapping[str, int]] = ..., started_at_ms: _Optional[int] = ..., finished_at_ms: _Optional[int] = ..., cancelled: _Optional[bool] = ..., error: _Optional[str] = ..., missing: _Optional[_Iterable[str]] = ..., missing_total: _Optional[int] = ...) -> None: ...

class MonitoringState(_message.Message):
    __slots__ = ("source", "enabled", "changed_by", "changed_at_ms")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    source: str
    enabled: bool
    changed_by: str
    changed_at_ms: int
    def __init__(self, source: _Optional[str] = ..., enabled: _Optional[bool] = ..., changed_by: _Optional[str] = ..., changed_at_ms: _Optional[int] = ...) -> None: ...

class KnownFilesRequest(_message.Message):
    __slots__ = ("source", "filenames")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FILENAMES_FIELD_NUMBER: _ClassVar[int]
    source: str
    filenames: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, source: _Optional[str] = ..., filenames: _Optional[_Iterable[str]] = ...) -> None: ...

class KnownFilesReply(_message.Message):
    __slots__ = ("unknown",)
    UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    unknown: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, unknown: _Optional[_Iterable[str]] = ...) -> None: ...

class PipelineEvent(_message.Message):
    __slots__ = ("file", "stage", "outcome", "seconds", "detail", "at_ms")
    FILE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    file: _common_pb2.FileRef
    stage: str
    outcome: str
    seconds: float
    detail: str
    at_ms: int
    def __init__(self, file: _Optional[_Union[_common_pb2.FileRef, _Mapping]] = ..., stage: _Optional[str] = ..., outcome: _Optional[str] = ..., seconds: _Optional[float] = ..., detail: _Optional[str] = ..., at_ms: _Optional[int] = ...) -> None: ...

class SourceStatus(_message.Message):
    __slots__ = ("source", "connected", "monitoring", "lease_holder", "last_poll_ms", "last_new_file_ms", "files_today", "files_total", "errors", "last_error", "avg_poll_seconds", "avg_download_seconds", "older_unimported", "file_problems")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    MONITORING_FIELD_NUMBER: _ClassVar[int]
    LEASE_HOLDER_FIELD_NUMBER: _ClassVar[int]
    LAST_POLL_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_NEW_FILE_MS_FIELD_NUMBER: _ClassVar[int]
    FILES_TODAY_FIELD_NUMBER: _ClassVar[int]
    FILES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    AVG_POLL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    AVG_DOWNLOAD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    OLDER_UNIMPORTED_FIELD_NUMBER: _ClassVar[int]
    FILE_PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    source: str
    connected: bool
    monitoring: bool
    lease_holder: str
    last_poll_ms: int
    last_new_file_ms: int
    files_today: int
    files_total: int
    errors: int
    last_error: str
    avg_poll_seconds: float
    avg_download_seconds: float
    older_unimported: int
    file_problems: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, source: _Optional[str] = ..., connected: _Optional[bool] = ..., monitoring: _Optional[bool] = ..., lease_holder: _Optional[str] = ..., last_poll_ms: _Optional[int] = ..., last_new_file_ms: _Optional[int] = ..., files_today: _Optional[int] = ..., files_total: _Optional[int] = ..., errors: _Optional[int] = ..., last_error: _Optional[str] = ..., avg_poll_seconds: _Optional[float] = ..., avg_download_seconds: _Optional[float] = ..., older_unimported: _Optional[int] = ..., file_problems: _Optional[_Iterable[str]] = ...) -> None: ...

class StatusReply(_message.Message):
    __slots__ = ("service", "instance", "sources", "counters", "last_error")
    class CountersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    service: str
    instance: str
    sources: _containers.RepeatedCompositeFieldContainer[SourceStatus]
    counters: _containers.ScalarMap[str, int]
    last_error: str
    def __init__(self, service: _Optional[str] = ..., instance: _Optional[str] = ..., sources: _Optional[_Iterable[_Union[SourceStatus, _Mapping]]] = ..., counters: _Optional[_Mapping[str, int]] = ..., last_error: _Optional[str] = ...) -> None: ...

class RoundQuery(_message.Message):
    __slots__ = ("round_id", "source")
    ROUND_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    round_id: int
    source: str
    def __init__(self, round_id: _Optional[int] = ..., source: _Optional[str] = ...) -> None: ...

class RoundReply(_message.Message):
    __slots__ = ("round",)
    ROUND_FIELD_NUMBER: _ClassVar[int]
    round: _rounds_pb2.StoredRound
    def __init__(self, round: _Optional[_Union[_rounds_pb2.StoredRound, _Mapping]] = ...) -> None: ...

class BackupRequest(_message.Message):
    __slots__ = ("requested_by",)
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    requested_by: str
    def __init__(self, requested_by: _Optional[str] = ...) -> None: ...

class BackupReply(_message.Message):
    __slots__ = ("filename", "size", "temporary")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    TEMPORARY_FIELD_NUMBER: _ClassVar[int]
    filename: str
    size: int
    temporary: bool
    def __init__(self, filename: _Optional[str] = ..., size: _Optional[int] = ..., temporary: _Optional[bool] = ...) -> None: ...

class ReimportRequest(_message.Message):
    __slots__ = ("source", "requested_by")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    source: str
    requested_by: str
    def __init__(self, source: _Optional[str] = ..., requested_by: _Optional[str] = ...) -> None: ...

class ReimportReply(_message.Message):
    __slots__ = ("files", "sync_ids")
    FILES_FIELD_NUMBER: _ClassVar[int]
    SYNC_IDS_FIELD_NUMBER: _ClassVar[int]
    files: int
    sync_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, files: _Optional[int] = ..., sync_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class HealthReply(_message.Message):
    __slots__ = ("service", "instance", "version", "uptime_s", "ready", "checks", "last_success_ms")
    class ChecksEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bool
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bool] = ...) -> None: ...
    class LastSuccessMsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPTIME_S_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    LAST_SUCCESS_MS_FIELD_NUMBER: _ClassVar[int]
    service: str
    instance: str
    version: str
    uptime_s: float
    ready: bool
    checks: _containers.ScalarMap[str, bool]
    last_success_ms: _containers.ScalarMap[str, int]
    def __init__(self, service: _Optional[str] = ..., instance: _Optional[str] = ..., version: _Optional[str] = ..., uptime_s: _Optional[float] = ..., ready: _Optional[bool] = ..., checks: _Optional[_Mapping[str, bool]] = ..., last_success_ms: _Optional[_Mapping[str, int]] = ...) -> None: ...

class StalledRequest(_message.Message):
    __slots__ = ("older_than_s",)
    OLDER_THAN_S_FIELD_NUMBER: _ClassVar[int]
    older_than_s: int
    def __init__(self, older_than_s: _Optional[int] = ...) -> None: ...

class StalledReply(_message.Message):
    __slots__ = ("files",)
    FILES_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[_common_pb2.FileRef]
    def __init__(self, files: _Optional[_Iterable[_Union[_common_pb2.FileRef, _Mapping]]] = ...) -> None: ...
