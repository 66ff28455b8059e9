from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Origin(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORIGIN_UNSPECIFIED: _ClassVar[Origin]
    ORIGIN_MONITOR: _ClassVar[Origin]
    ORIGIN_SYNC: _ClassVar[Origin]
    ORIGIN_CATCH_UP: _ClassVar[Origin]
ORIGIN_UNSPECIFIED: Origin
ORIGIN_MONITOR: Origin
ORIGIN_SYNC: Origin
ORIGIN_CATCH_UP: Origin

class FileRef(_message.Message):
    __slots__ = ("source", "filename", "sha256", "msg_id", "origin", "sync_id", "detected_at_ms", "recent")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    MSG_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    SYNC_ID_FIELD_NUMBER: _ClassVar[int]
    DETECTED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    RECENT_FIELD_NUMBER: _ClassVar[int]
    source: str
    filename: str
    sha256: str
    msg_id: str
    origin: Origin
    sync_id: str
    detected_at_ms: int
    recent: bool
    def __init__(self, source: _Optional[str] = ..., filename: _Optional[str] = ..., sha256: _Optional[str] = ..., msg_id: _Optional[str] = ..., origin: _Optional[_Union[Origin, str]] = ..., sync_id: _Optional[str] = ..., detected_at_ms: _Optional[int] = ..., recent: _Optional[bool] = ...) -> None: ...
