"""Wires stored-round events to an output sink."""

from __future__ import annotations

import sys
import time

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from prometheus_client import Counter, Histogram

from proto import common_pb2, rounds_pb2
from services.common.config import Env
from services.common.consumer import Reject, consume
from services.common.events import report
from services.common.metrics import mark_success
from services.common.runtime import Runtime
from services.common.subjects import STORED, all_sources
from services.poster.render import round_summary

POSTS = Counter(
    "etstats_poster_posts_total", "Round posts, by sink and outcome.", ["sink", "outcome"]
)
PIPELINE_LATENCY = Histogram(
    "etstats_pipeline_latency_seconds",
    "From file detection by the fetcher to the post.",
    buckets=(0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300),
)
POSTED_ORIGINS = (common_pb2.ORIGIN_MONITOR, common_pb2.ORIGIN_CATCH_UP)


def load_config(env: Env) -> None:
    """The console sink has no settings of its own yet."""


def print_post(text: str) -> None:
    """The console sink of local mode: posts go to stdout, logs to stderr."""
    print(text, file=sys.stdout, flush=True)


async def main(rt: Runtime, _: None) -> None:
    async def handle(msg: Msg) -> None:
        try:
            stored = rounds_pb2.StoredRound.FromString(msg.data)
        except DecodeError:
            raise Reject("bad_message", "stored round message is not a valid StoredRound") from None
        if stored.redelivered or stored.duplicate or stored.file.origin not in POSTED_ORIGINS:
            return
        print_post(round_summary(stored))
        POSTS.labels(sink="console", outcome="posted").inc()
        await report(rt.bus, stored.file, "poster", "posted")
        if stored.file.detected_at_ms:
            PIPELINE_LATENCY.observe(max(time.time() - stored.file.detected_at_ms / 1000, 0))
        mark_success("poster", stored.file.source)

    await consume(rt.bus, stage="poster", subject=all_sources(STORED), handler=handle, stop=rt.stop)
