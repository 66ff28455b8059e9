"""Every durable consumer of the pipeline stream, declared once.

The stream keeps a message only while a consumer has yet to acknowledge it
(interest retention): what every stage has taken is gone, so the stream's
size, and nats-server's memory, follow the backlog instead of the history.
That holds only if each consumer exists before the first message for it is
published, so every service creates the whole table when it connects (and
brings older installs' consumers to this configuration), and storage creates
a source's poster consumer before it publishes a round of that source to post.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.common.subjects import (
    EVENTS,
    PARSED,
    RAW,
    REJECTED,
    SESSION_ENDS,
    STORED,
    SYNC_RESULTS,
    all_sources,
    stage_subject,
)

# A delivery not acked in this long goes again: also how long the work a killed
# replica had taken waits before another takes it.
ACK_WAIT_S = 30.0
# A rejection notice is held until the poster sends it, grouped with others.
REJECTION_ACK_WAIT_S = 10.0


@dataclass(frozen=True)
class Durable:
    """A durable pull consumer: its name, what it takes, and how."""

    name: str
    subject: str
    ack_wait_s: float = ACK_WAIT_S
    ordered: bool = False  # one message in flight across all replicas, in stream order

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.name,
            filter_subject=self.subject,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait_s,
            max_ack_pending=1 if self.ordered else 1000,
        )


PARSER = Durable("parser", all_sources(RAW))
# Rounds to post: one at a time, in order, past any backlog.
PARSER_LIVE = Durable("parser-live", all_sources(RAW, live=True), ordered=True)
STORAGE = Durable("storage", all_sources(PARSED))
STORAGE_LIVE = Durable("storage-live", all_sources(PARSED, live=True), ordered=True)
STORAGE_REJECTIONS = Durable("storage-rejections", all_sources(REJECTED))
STORAGE_EVENTS = Durable("storage-events", all_sources(EVENTS))
POSTER_SYNCS = Durable("poster-syncs", f"{SYNC_RESULTS}.>")
POSTER_REJECTIONS = Durable(
    "poster-rejections", all_sources(REJECTED), ack_wait_s=REJECTION_ACK_WAIT_S
)
# Sessions that ended: one summary at a time across replicas.
POSTER_SESSIONS = Durable("poster-sessions", f"{SESSION_ENDS}.>", ordered=True)

PIPELINE = (
    PARSER,
    PARSER_LIVE,
    STORAGE,
    STORAGE_LIVE,
    STORAGE_REJECTIONS,
    STORAGE_EVENTS,
    POSTER_SYNCS,
    POSTER_REJECTIONS,
    POSTER_SESSIONS,
)


def poster_live(source: str) -> Durable:
    """The poster's consumer of one source's rounds to post, in play order.
    (Stored rounds outside the live lane have no consumer: nothing keeps them.)"""
    return Durable(f"poster-live-{source}", stage_subject(STORED, source, live=True), ordered=True)
