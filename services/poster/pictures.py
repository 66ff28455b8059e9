"""Pictures drawn for posts: beside the event loop, and never in the way of the post."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from prometheus_client import Counter

from services.common.errors import describe
from services.poster.sinks import IMAGE_MAX_BYTES

log = logging.getLogger(__name__)

IMAGE_FAILURES = Counter(
    "etstats_poster_image_failures_total",
    "Pictures that could not be drawn, by picture: the post went without.",
    ["picture"],
)


class Pictures:
    """One kind of picture (`scoreboard`, `session`). A failure is logged once
    and then only counted: a broken font would otherwise log every post."""

    def __init__(self, picture: str) -> None:
        self.picture = picture
        self.failure_logged = False
        IMAGE_FAILURES.labels(picture=picture)

    async def draw(self, draw: Callable[[], bytes], post: str) -> bytes | None:
        """The PNG `draw` makes, in a thread; None when it fails or is too big for
        a message. `post` names the post for the log."""
        try:
            png = await asyncio.to_thread(draw)
            if len(png) > IMAGE_MAX_BYTES:
                raise ValueError(f"the image is {len(png)} bytes, over {IMAGE_MAX_BYTES}")
        except Exception as exc:
            IMAGE_FAILURES.labels(picture=self.picture).inc()
            if not self.failure_logged:
                self.failure_logged = True
                log.error(
                    "%s posted without its %s image: %s",
                    post,
                    self.picture,
                    describe(exc),
                    exc_info=True,
                )
            return None
        return png
