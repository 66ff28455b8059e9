"""Prometheus metrics shared by every service (`etstats_` prefix, base units)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter(
    "etstats_messages_total",
    "Bus messages handled, by consumer stage and outcome (ack, nak, term).",
    ["stage", "outcome"],
)
HANDLE_SECONDS = Histogram(
    "etstats_handle_seconds",
    "Time to handle one bus message, by stage.",
    ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REJECTIONS = Counter(
    "etstats_rejections_total",
    "Files rejected for good, by stage and reason.",
    ["stage", "reason"],
)
LAST_SUCCESS = Gauge(
    "etstats_last_success_timestamp_seconds",
    "When a stage last succeeded for a source (for stall alerts).",
    ["stage", "source"],
)
BUS_CONNECTED = Gauge("etstats_bus_connected", "1 while connected to NATS.")
CONSUMER_PENDING = Gauge(
    "etstats_consumer_pending_messages",
    "Messages a durable consumer has not finished yet (undelivered plus unacked).",
    ["stage", "consumer"],
)


def mark_success(stage: str, source: str) -> None:
    LAST_SUCCESS.labels(stage=stage, source=source).set(time.time())


# What the consumer loop itself ends messages with, on every stage.
OUTCOMES = ("ack", "nak", "term", "held")
CONSUMER_REASONS = ("bad_message", "invalid_data", "retries_exhausted")


def zero_stage(stage: str, reasons: Iterable[str] = ()) -> None:
    """A consumer stage's series at 0 from the start: rate() and increase() over
    a series that its first event creates miss that event (a panel would read
    0 after the first rejection, an alert miss the first failure)."""
    for outcome in OUTCOMES:
        MESSAGES.labels(stage=stage, outcome=outcome)
    HANDLE_SECONDS.labels(stage=stage)
    for reason in (*CONSUMER_REASONS, *reasons):
        REJECTIONS.labels(stage=stage, reason=reason)
