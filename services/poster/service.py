"""Wires stored rounds, sync results and rejections to Discord (or the terminal)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import disnake
from nats.aio.msg import Msg
from nats.js.errors import KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue
from prometheus_client import Counter, Histogram

from etstats.contract import common_pb2, control_pb2, files_pb2, rounds_pb2
from services.common.aio import sleep_unless
from services.common.config import SESSION_GAP_DEFAULT, Env
from services.common.consumer import consume, decode
from services.common.discord_text import safe
from services.common.durables import (
    POSTER_REJECTIONS,
    POSTER_SESSIONS,
    POSTER_SYNCS,
    poster_live,
)
from services.common.events import report
from services.common.metrics import mark_success
from services.common.notices import Notices
from services.common.render import round_embeds, sync_summary, with_image
from services.common.rpc import NotAnswering
from services.common.runtime import Runtime
from services.common.scoreboard import FILENAME, scoreboard_png
from services.common.sources import SourceConfig, load_sources
from services.common.subjects import POSTS_BUCKET, SESSION_WATCH_BUCKET
from services.poster.pictures import Pictures
from services.poster.sessions import SessionPosts
from services.poster.sinks import (
    ConsoleSink,
    DiscordSink,
    PermanentPostError,
    Sink,
    Upload,
)

log = logging.getLogger(__name__)

POSTS = Counter("etstats_poster_posts_total", "Posts, by kind and outcome.", ["kind", "outcome"])
PIPELINE_LATENCY = Histogram(
    "etstats_pipeline_latency_seconds",
    "From file detection by the fetcher to the post.",
    buckets=(0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300),
)


@dataclass(frozen=True)
class PosterConfig:
    token: str | None
    api_base: str | None
    round_channel: str | None
    admin_channel: str | None
    sources: list[SourceConfig]
    notice_cooldown_s: float
    images: bool = True  # round posts carry a scoreboard image
    session_gap_s: float = 3600.0

    @classmethod
    def from_env(cls, env: Env) -> PosterConfig:
        channel = r"\d{15,22}"
        return cls(
            token=env.optional("DISCORD_TOKEN"),
            api_base=env.optional("DISCORD_API_BASE"),
            round_channel=env.optional("DISCORD_ROUND_CHANNEL_ID")
            and env.str("DISCORD_ROUND_CHANNEL_ID", pattern=channel),
            admin_channel=env.optional("DISCORD_ADMIN_CHANNEL_ID")
            and env.str("DISCORD_ADMIN_CHANNEL_ID", pattern=channel),
            sources=load_sources(env),
            notice_cooldown_s=env.duration("ADMIN_NOTICE_COOLDOWN", "10m"),
            images=env.bool("POST_IMAGES", True),
            session_gap_s=env.duration("SESSION_GAP", SESSION_GAP_DEFAULT, minimum_s=1),
        )


class Poster:
    def __init__(self, rt: Runtime, conf: PosterConfig, sink: Sink, ledger: KeyValue) -> None:
        self.rt = rt
        self.conf = conf
        self.sink = sink
        self.channels = {s.name: s.round_channel_id or conf.round_channel for s in conf.sources}
        self.notices = Notices(self._notify, conf.notice_cooldown_s)
        self.ledger = ledger
        self.scoreboards = Pictures("scoreboard")

    async def _notify(self, title: str, text: str, nonce: str) -> None:
        """Send a notice; an outage raises (the notice is tried again), a refusal for
        good is logged instead, so its lines are not held forever."""
        if self.conf.admin_channel or isinstance(self.sink, ConsoleSink):
            embed = disnake.Embed(title=safe(title)[:256], description=safe(text)[:4096])
            try:
                await self.sink.send(self.conf.admin_channel, [embed], nonce)
            except PermanentPostError as exc:
                POSTS.labels(kind="notice", outcome="refused").inc()
                log.error("admin notice %r not sent: %s; it said: %s", title, exc, text)
                return
            POSTS.labels(kind="notice", outcome="posted").inc()

    async def posted(self, key: str) -> str | None:
        """The message the ledger holds for a post, or None: not posted."""
        try:
            entry = await self.ledger.get(key)
        except (KeyNotFoundError, NotFoundError):
            return None
        return (entry.value or b"").decode() or None

    async def post_once(
        self,
        kind: str,
        key: str,
        channel: str | None,
        embeds: Sequence[disnake.Embed],
        nonce: str,
        file: common_pb2.FileRef,
        files: Sequence[Upload] = (),
    ) -> bool:
        """Post unless the ledger says it was; the ledger is written before the ack."""
        if await self.posted(key):
            POSTS.labels(kind=kind, outcome="already_posted").inc()
            return False
        try:
            message_id = await self.sink.send(channel, embeds, nonce, files)
        except PermanentPostError as exc:
            POSTS.labels(kind=kind, outcome="refused").inc()
            log.error("%s", exc, extra={"source": file.source, "file": file.filename})
            self.notices.add(
                f"Posts refused in channel {channel}", f"{file.source} {file.filename}: {exc}"
            )
            return False
        await self.ledger.put(key, message_id.encode())
        POSTS.labels(kind=kind, outcome="posted").inc()
        self.notices.recovered(f"Posts refused in channel {channel}", "posting works again")
        return True

    async def post_round(self, msg: Msg) -> None:
        """Post a recent round once (the file's `recent` flag, whichever path
        brought it in, and the ledger); a repaired round's post is corrected."""
        stored = decode(rounds_pb2.StoredRound, msg.data)
        if stored.duplicate or not stored.round_id:
            return
        if stored.repaired:  # the ledger says whether there is a post to correct
            await self._edit_round(stored)
            return
        if not stored.file.recent:
            return
        source = stored.file.source
        embeds, files = await self._round_post(stored)
        posted = await self.post_once(
            "round",
            f"round_{stored.round_id}",
            self.round_channel(source),
            embeds,
            f"etstats-r{stored.round_id}",
            stored.file,
            files,
        )
        if posted:
            if stored.file.detected_at_ms:
                PIPELINE_LATENCY.observe(max(time.time() - stored.file.detected_at_ms / 1000, 0))
            await report(self.rt.bus, stored.file, "poster", "posted")
            mark_success("poster", source)

    async def _round_post(
        self, stored: rounds_pb2.StoredRound
    ) -> tuple[list[disnake.Embed], list[Upload]]:
        """The round's embeds and, unless images are off, its scoreboard image."""
        embeds = round_embeds(stored)
        image = await self._scoreboard(stored) if self.conf.images else None
        if image is None:
            return embeds, []
        return with_image(embeds, FILENAME), [Upload(FILENAME, image)]

    async def _scoreboard(self, stored: rounds_pb2.StoredRound) -> bytes | None:
        if isinstance(self.sink, ConsoleSink):
            return None  # a terminal shows no images
        return await self.scoreboards.draw(
            partial(scoreboard_png, stored), f"round {stored.round_id}"
        )

    def round_channel(self, source: str) -> str | None:
        return self.channels.get(source, self.conf.round_channel)

    async def _edit_round(self, stored: rounds_pb2.StoredRound) -> None:
        """A late round 1 completed a round 2 posted as an orphan: correct that post."""
        if await self.posted(f"round_{stored.round_id}") is None:
            return  # never posted (refused): nothing to correct, no image to draw
        embeds, files = await self._round_post(stored)
        await self.edit(
            "round",
            f"round_{stored.round_id}",
            self.round_channel(stored.file.source),
            embeds,
            stored.file,
            files,
        )

    async def edit(
        self,
        kind: str,
        key: str,
        channel: str | None,
        embeds: Sequence[disnake.Embed],
        file: common_pb2.FileRef,
        files: Sequence[Upload] = (),
    ) -> bool:
        """Correct the message the ledger holds for `key`, still one message;
        False when there is none (refused) or Discord refuses the edit."""
        message_id = await self.posted(key)
        if message_id is None:
            return False
        try:
            await self.sink.edit(channel, message_id, embeds, files)
        except PermanentPostError as exc:
            POSTS.labels(kind=kind, outcome="refused").inc()
            log.error("%s", exc, extra={"source": file.source, "file": file.filename})
            return False
        POSTS.labels(kind=kind, outcome="edited").inc()
        return True

    async def post_summary(self, msg: Msg) -> None:
        result = decode(control_pb2.SyncResult, msg.data)
        channel = result.requester.channel_id or None
        if channel is None and not isinstance(self.sink, ConsoleSink):
            log.info("sync %s finished; nobody asked in a channel", result.sync_id)
            return
        await self.post_once(
            "sync_summary",
            f"sync_{result.sync_id}",
            channel,
            [sync_summary(result)],
            f"etstats-s{result.sync_id}"[:25],
            common_pb2.FileRef(source="sync", filename=result.sync_id),
        )

    async def note_rejection(self, msg: Msg) -> None:
        """Into the next "Rejected files" notice; the message is acked once that
        notice is sent (the consumer `acks_later`), so a restart loses none."""
        rejection = decode(files_pb2.Rejection, msg.data)
        line = (
            f"{rejection.file.source} {rejection.file.filename}: "
            f"{rejection.stage}: {rejection.reason}"
        )
        key = f"rejection-{msg.metadata.sequence.stream}" if msg.metadata.sequence else ""
        if not self.notices.add("Rejected files", line, key, done=msg.ack):
            await msg.ack()  # a redelivery of a line that was sent already

    async def flush_notices(self) -> None:
        while not await sleep_unless(self.rt.stop, 1.0):
            await self.notices.flush()


async def make_sink(conf: PosterConfig) -> Sink:
    if conf.token is None:
        log.info("no DISCORD_TOKEN: posts are printed to the terminal")
        return ConsoleSink()
    sink = DiscordSink(conf.token, conf.api_base)
    name = await sink.login()
    log.info("logged in to Discord as %s (REST only)", name)
    return sink


def zero_posts() -> None:
    """Every kind and outcome of a post at 0 from the start (see zero_stage)."""
    for kind in ("round", "sync_summary", "session"):
        for outcome in ("posted", "refused", "already_posted"):
            POSTS.labels(kind=kind, outcome=outcome)
    for kind in ("round", "session"):
        POSTS.labels(kind=kind, outcome="edited")
    for outcome in ("posted", "refused"):
        POSTS.labels(kind="notice", outcome=outcome)


async def main(rt: Runtime, conf: PosterConfig) -> None:
    zero_posts()
    sink = await make_sink(conf)
    poster = Poster(rt, conf, sink, await rt.bus.key_value(POSTS_BUCKET))
    watches = await rt.bus.key_value(SESSION_WATCH_BUCKET)
    sessions = SessionPosts(rt, poster, watches, conf.session_gap_s)
    rounds = [
        consume(
            rt.bus,
            stage="poster",
            consumer=poster_live(s.name),  # only rounds to post
            handler=sessions.post_round,  # the round's post, then its session's watch
            stop=rt.stop,
        )
        for s in conf.sources
    ]
    try:
        await asyncio.gather(
            *rounds,
            consume(
                rt.bus,
                stage="poster-syncs",
                consumer=POSTER_SYNCS,
                handler=poster.post_summary,
                stop=rt.stop,
            ),
            consume(
                rt.bus,
                stage="poster-rejections",
                consumer=POSTER_REJECTIONS,
                handler=poster.note_rejection,
                stop=rt.stop,
                publish_rejections=False,  # a rejection of a rejection would come back here
                acks_later=True,
                # Held until their notice is sent (grouped, one per cooldown): a
                # redelivery meanwhile only renews the line's ack.
            ),
            consume(
                rt.bus,
                stage="poster-sessions",
                consumer=POSTER_SESSIONS,
                handler=sessions.post,
                stop=rt.stop,
                outages=(NotAnswering,),  # storage away: the summary waits for it
            ),
            sessions.keep_looking(),
            poster.flush_notices(),
        )
    finally:
        await sink.close()
