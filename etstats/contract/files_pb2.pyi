from etstats.contract import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RawFile(_message.Message):
    __slots__ = ("file", "size", "mtime_ms", "body", "fetched_at_ms")
    FILE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MTIME_MS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    FETCHED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    file: _common_pb2.FileRef
    size: int
    mtime_ms: int
    body: bytes
    fetched_at_ms: int
    def __init__(self, file: _Optional[_Union[_common_pb2.FileRef, _Mapping]] = ..., size: _Optional[int] = ..., mtime_ms: _Optional[int] = ..., body: _Optional[bytes] = ..., fetched_at_ms: _Optional[int] = ...) -> None: ...

class Rejection(_message.Message):
    __slots__ = ("file", "stage", "reason", "reason_code", "rejected_at_ms")
    FILE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    REJECTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    file: _common_pb2.FileRef
    stage: str
    reason: str
    reason_code: str
    rejected_at_ms: int
    def __init__(self, file: _Optional[_Union[_common_pb2.FileRef, _Mapping]] = ..., stage: _Optional[str] = ..., reason: _Optional[str] = ..., reason_code: _Optional[str] = ..., rejected_at_ms: _Optional[int] = ...) -> None: ...
