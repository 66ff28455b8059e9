"""A gaming session's summary, posted once when the session is over: when no
round was posted live on its source for SESSION_GAP.

Every live round posted becomes its source's watch (a KV bucket, so a restart
or another replica carries on). A watch older than the gap is announced on the
stream (`stats.session.<source>`) under one message id, so replicas announce it
once, and then dropped unless a newer round replaced it meanwhile. The ordered
consumer of those announcements asks storage for the session holding the round
and posts it once (the poster's ledger, keyed by the session's first round).
Rounds a sync brings in are never posted live, so they start no watch: their
sessions are not posted.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING

from nats.aio.msg import Msg
from nats.js.errors import (
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoKeysError,
    NotFoundError,
)
from nats.js.kv import KeyValue

from etstats.contract import common_pb2, reads_pb2, rounds_pb2
from services.common.aio import sleep_unless
from services.common.consumer import decode
from services.common.reads import Reads
from services.common.render import fits, with_image
from services.common.rpc import ServiceFailed
from services.common.runtime import Runtime
from services.common.session_image import session_png
from services.common.session_text import session_picture, session_post
from services.common.subjects import session_end_msg_id, session_end_subject
from services.poster.pictures import Pictures
from services.poster.sinks import ConsoleSink, Upload

if TYPE_CHECKING:  # the service wires this module in
    from services.poster.service import Poster

log = logging.getLogger(__name__)

PICTURE = "session.png"
LOOK_EVERY_S = 15.0  # at most (a quarter of the gap when that is shorter): a few KV reads


class SessionPosts:
    """The watches of live rounds, and the summaries of the sessions they end."""

    def __init__(self, rt: Runtime, poster: Poster, watches: KeyValue, gap_s: float) -> None:
        self.rt = rt
        self.poster = poster
        self.watches = watches
        self.gap_s = gap_s
        self.reads = Reads(rt.bus)
        self.pictures = Pictures("session")

    async def post_round(self, msg: Msg) -> None:
        await self.poster.post_round(msg)
        await self.watch(msg)

    async def watch(self, msg: Msg) -> None:
        """After a round's post: a live round (not a bot round) restarts its
        source's wait for the end of the session."""
        stored = decode(rounds_pb2.StoredRound, msg.data)
        if not stored.file.recent or stored.duplicate or stored.repaired or stored.flags.bot:
            return
        if not stored.round_id:
            return
        end = reads_pb2.SessionEnd(
            source=stored.file.source,
            round_id=stored.round_id,
            posted_at_ms=int(time.time() * 1000),
        )
        await self.watches.put(stored.file.source, end.SerializeToString())

    async def look(self) -> None:
        """Announce every watch the gap has passed, once."""
        try:
            sources = await self.watches.keys()
        except NoKeysError:
            return
        for source in sources:
            try:
                entry = await self.watches.get(source)
            except (KeyNotFoundError, KeyDeletedError, NotFoundError):
                continue  # another replica took it meanwhile
            end = reads_pb2.SessionEnd.FromString(entry.value or b"")
            if time.time() * 1000 - end.posted_at_ms < self.gap_s * 1000:
                continue
            await self.rt.bus.publish(
                session_end_subject(end.source),
                end.SerializeToString(),
                msg_id=session_end_msg_id(end.source, end.round_id),
            )
            # Unless a newer round came meanwhile: then its wait goes on.
            with contextlib.suppress(KeyWrongLastSequenceError):
                await self.watches.delete(source, last=entry.revision)

    async def keep_looking(self) -> None:
        every = min(LOOK_EVERY_S, self.gap_s / 4)
        while not await sleep_unless(self.rt.stop, every):
            try:
                await self.look()
            except Exception as exc:  # the bus away: the watches wait in the bucket
                log.warning("cannot look at the sessions' watches: %s", exc)

    async def post(self, msg: Msg) -> None:
        """The summary of the session that ended, once; storage not answering is
        an outage (the consumer tries again, with backoff)."""
        end = decode(reads_pb2.SessionEnd, msg.data)
        try:
            reply = await self.reads.session(end.source, round_id=end.round_id)
        except ServiceFailed as exc:
            if exc.code != "404":
                raise
            reply = reads_pb2.SessionReply()  # the round was deleted meanwhile
        if not reply.sessions:
            log.info("no session holds round #%s of %s: nothing to post", end.round_id, end.source)
            return
        s = reply.sessions[0]
        embeds = session_post(s, f"`/session {s.first_stamp[:10]}`")
        files: list[Upload] = []
        picture = await self._picture(s) if self.poster.conf.images else None
        if picture is not None and fits(shown := with_image(embeds, PICTURE)):
            embeds, files = shown, [Upload(PICTURE, picture)]
        await self.poster._post_once(
            "session",
            f"session_{s.source}_{s.first_round_id}",
            self.poster._round_channel(s.source),
            embeds,
            f"etstats-x{s.first_round_id}",
            common_pb2.FileRef(source=s.source, filename=f"session of round #{s.first_round_id}"),
            files,
        )

    async def _picture(self, s: reads_pb2.SessionSummary) -> bytes | None:
        if isinstance(self.poster.sink, ConsoleSink):
            return None  # a terminal shows no images
        return await self.pictures.draw(
            lambda: session_png(session_picture(s)), f"session of round #{s.first_round_id}"
        )
