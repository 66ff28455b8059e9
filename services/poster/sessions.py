"""A gaming session's summary, posted once when the session is over: when no
round was posted live on its source for SESSION_GAP.

Every live round posted becomes its source's watch (a KV bucket, so a restart
or another replica carries on). A watch older than the gap is announced on the
stream (`stats.session.<source>`) under one message id, so replicas announce it
once, and then dropped unless a newer round replaced it meanwhile. A round
whose stamp is more than the gap after the watch's round begins another
session however soon it is posted (a backlog posts several sessions' rounds
within seconds): the watch's session is announced before the round replaces
it. The ordered consumer of those announcements asks storage for the session
holding the round and posts it once (the poster's ledger, keyed by the
session's first round, and beside it the rounds the post shows). A session
announced again with more rounds (a round posted late, after the wait, though
within the gap by its stamp) has its post edited: one message, the whole
session. Rounds a sync brings in are never posted live, so they start no
watch: their sessions are not posted.
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import datetime, timedelta
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
from etstats.contract.players import STAMP
from etstats.sessions import begins_another
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
WATCH_TRIES = 5  # a round's watch replaces the one read, or is tried again (compare-and-set)


def shown_key(key: str) -> str:
    """The ledger's note of the rounds a session's post shows, beside its message."""
    return f"shown_{key}"


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
        source's wait for the end of the session, and ends the session of the
        watch it replaces when it is more than the gap later by its stamp."""
        stored = decode(rounds_pb2.StoredRound, msg.data)
        if not stored.file.recent or stored.duplicate or stored.repaired or stored.flags.bot:
            return
        if not stored.round_id:
            return
        end = reads_pb2.SessionEnd(
            source=stored.file.source,
            round_id=stored.round_id,
            posted_at_ms=int(time.time() * 1000),
            stamp=stored.stamp,
        )
        for _ in range(WATCH_TRIES):  # a replica's look may take the watch in between
            before, revision = await self._current(end.source)
            if before is not None and self._ends(before, end):
                await self._announce(before)
            try:
                await self.watches.update(end.source, end.SerializeToString(), last=revision)
                return
            except KeyWrongLastSequenceError:
                continue
        raise RuntimeError(f"the session watch of {end.source} kept changing: tried again later")

    async def _current(self, source: str) -> tuple[reads_pb2.SessionEnd | None, int]:
        """The source's watch, if any, and the revision to replace it at (a
        deleted watch's marker, or 0: none ever)."""
        try:
            entry = await self.watches.get(source)
        except NotFoundError as exc:  # KeyNotFoundError carries a deleted key's marker
            marker = getattr(exc, "entry", None)
            return None, marker.revision if marker is not None and marker.revision else 0
        return reads_pb2.SessionEnd.FromString(entry.value or b""), entry.revision or 0

    def _ends(self, before: reads_pb2.SessionEnd, after: reads_pb2.SessionEnd) -> bool:
        """`after` begins another session than `before` (unknown stamps: not said,
        the wait decides)."""
        if not before.stamp or not after.stamp:
            return False
        return begins_another(
            datetime.strptime(before.stamp, STAMP),
            datetime.strptime(after.stamp, STAMP),
            timedelta(seconds=self.gap_s),
        )

    async def _announce(self, end: reads_pb2.SessionEnd) -> None:
        """The end of the session holding `end`'s round, once for that round."""
        await self.rt.bus.publish(
            session_end_subject(end.source),
            end.SerializeToString(),
            msg_id=session_end_msg_id(end.source, end.round_id),
        )

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
            await self._announce(end)
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
        key = f"session_{s.source}_{s.first_round_id}"
        channel = self.poster.round_channel(s.source)
        file = common_pb2.FileRef(source=s.source, filename=f"session of round #{s.first_round_id}")
        rounds = [r.round_id for r in s.rounds]
        if await self.poster.post_once(
            "session", key, channel, embeds, f"etstats-x{s.first_round_id}", file, files
        ):
            await self._shows(key, rounds)
            return
        # Posted before: the whole session now, if it holds a round the post lacks.
        if not set(rounds) <= await self._shown(key) and await self.poster.edit(
            "session", key, channel, embeds, file, files
        ):
            await self._shows(key, rounds)

    async def _shown(self, key: str) -> set[int]:
        """The rounds the session's post shows, by the ledger (none noted: none
        known, so the post is made whole)."""
        try:
            entry = await self.poster.ledger.get(shown_key(key))
        except (KeyNotFoundError, KeyDeletedError, NotFoundError):
            return set()
        return {int(r) for r in (entry.value or b"").decode().split()}

    async def _shows(self, key: str, rounds: list[int]) -> None:
        await self.poster.ledger.put(shown_key(key), " ".join(map(str, rounds)).encode())

    async def _picture(self, s: reads_pb2.SessionSummary) -> bytes | None:
        if isinstance(self.poster.sink, ConsoleSink):
            return None  # a terminal shows no images
        return await self.pictures.draw(
            lambda: session_png(session_picture(s)), f"session of round #{s.first_round_id}"
        )
