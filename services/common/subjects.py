"""Subject and message-id conventions of the bus, defined once."""

from __future__ import annotations

STREAM_SUBJECTS = ["stats.>"]

RAW = "raw"
PARSED = "parsed"
STORED = "stored"
REJECTED = "rejected"
EVENTS = "events"

# Request/reply subjects served through nats.micro.
STORAGE_UNKNOWN_FILES = "etstats.storage.unknown_files"


def stage_subject(kind: str, source: str) -> str:
    """`stats.<kind>.<source>`; source names are restricted to [a-z0-9_-]."""
    return f"stats.{kind}.{source}"


def all_sources(kind: str) -> str:
    return f"stats.{kind}.>"


def source_of(subject: str) -> str:
    """The source token of a `stats.<kind>.<source>` subject."""
    parts = subject.split(".", 2)
    return parts[2] if len(parts) == 3 else ""


def raw_msg_id(source: str, filename: str, sha256: str) -> str:
    """The Nats-Msg-Id of a raw file, carried through every later stage."""
    return f"{source}/{filename}/{sha256}"


def stage_msg_id(kind: str, msg_id: str) -> str:
    """Dedup id of a later stage's message: the stream deduplicates by id
    across all its subjects, so each stage prefixes the raw id."""
    return f"{kind}:{msg_id}"
