"""Subject and message-id conventions of the bus, defined once.

Request/reply endpoints are in `services.common.endpoints`."""

from __future__ import annotations

from etstats.contract import rounds_pb2

STREAM_SUBJECTS = ["stats.>"]

RAW = "raw"
PARSED = "parsed"
STORED = "stored"
REJECTED = "rejected"
EVENTS = "events"


# Rounds to post (FileRef.recent) travel in a lane of their own, `.live`, which
# each stage takes in order and ahead of any backlog: a live round is posted in
# seconds, in play order, while a sync's thousands of old files wait their turn.
LIVE = "live"


def stage_subject(kind: str, source: str, *, live: bool = False) -> str:
    """`stats.<kind>.<source>[.live]`; source names are restricted to [a-z0-9_-]."""
    return f"stats.{kind}.{source}" + (f".{LIVE}" if live else "")


def to_post(stored: rounds_pb2.StoredRound) -> bool:
    """A round to post, or a correction of a posted one: it takes the live lane."""
    return stored.file.recent or stored.repaired


def stored_subject(stored: rounds_pb2.StoredRound) -> str:
    return stage_subject(STORED, stored.file.source, live=to_post(stored))


def all_sources(kind: str, *, live: bool = False) -> str:
    """Every source's subject of a stage, in one lane (kinds without lanes: the backlog's)."""
    return f"stats.{kind}.*" + (f".{LIVE}" if live else "")


def source_of(subject: str) -> str:
    """The source token of a `stats.<kind>.<source>[.live]` subject."""
    parts = subject.split(".")
    return parts[2] if len(parts) in (3, 4) else ""


def raw_msg_id(source: str, filename: str, sha256: str) -> str:
    """The Nats-Msg-Id of a raw file, carried through every later stage."""
    return f"{source}/{filename}/{sha256}"


def stage_msg_id(kind: str, msg_id: str) -> str:
    """Dedup id of a later stage's message: the stream deduplicates by id
    across all its subjects, so each stage prefixes the raw id."""
    return f"{kind}:{msg_id}"


# Sync reporting. A running job sends progress at least every heartbeat, so a
# follower can tell a quiet job from a dead one.
SYNC_HEARTBEAT_S = 5.0


def sync_progress_subject(sync_id: str) -> str:
    """Core NATS: progress of a running sync, at most once a second per source."""
    return f"etstats.sync.progress.{sync_id}"


def sync_cancel_subject(sync_id: str) -> str:
    """Core NATS, heard by every fetcher: cancel that job wherever it runs."""
    return f"etstats.sync.cancel.{sync_id}"


SYNC_RESULTS = "stats.sync.result"


def sync_result_subject(sync_id: str) -> str:
    """In the stream: the final result of a sync, for the poster's summary."""
    return f"{SYNC_RESULTS}.{sync_id}"


# The end of a gaming session (no round posted live on its source for the
# gap), in the stream: the poster posts the session's summary once.
SESSION_ENDS = "stats.session"


def session_end_subject(source: str) -> str:
    return f"{SESSION_ENDS}.{source}"


def session_end_msg_id(source: str, round_id: int) -> str:
    """One announcement per session's last live round, however many replicas see it."""
    return f"session-end:{source}:{round_id}"


# KV buckets: monitoring on/off per source (written by the bot and the CLI),
# one fetcher lease per source, one running sync per source.
MONITORING_BUCKET = "etstats_monitoring"
LEASE_BUCKET = "etstats_leases"
# A running sync's lock per source, renewed by its fetcher every heartbeat: a
# lock whose fetcher died is gone within SYNC_LOCK_TTL_S.
SYNC_BUCKET = "etstats_sync_locks"
SYNC_LOCK_TTL_S = 3 * SYNC_HEARTBEAT_S
# Every sync job until its result is out, by id: a job whose locks are gone (its
# fetcher died) is resumed by another fetcher, or the restarted one.
SYNC_JOBS_BUCKET = "etstats_sync_jobs"
# Every sync's result by id, for a week: a follower that comes late (a bot
# restarted meanwhile) still finds it.
SYNC_RESULTS_BUCKET = "etstats_sync_results"
SYNC_RESULT_TTL_S = 7 * 24 * 3600.0
# The poster's ledger: round or sync -> Discord message id.
POSTS_BUCKET = "etstats_posts"
# Each source's last round posted live, until its session is over (the poster's).
SESSION_WATCH_BUCKET = "etstats_session_watch"
# The bot's sync progress messages: sync -> the Discord message following it.
SYNC_MESSAGES_BUCKET = "etstats_sync_messages"
# When the last backup was written, by whichever storage replica or backup job.
BACKUPS_BUCKET = "etstats_backups"

# Every instance of every service answers here (fan-out, for `!health`).
HEALTH = "etstats.health"
EXPECTED_SERVICES = ("fetcher", "parser", "storage", "poster")
