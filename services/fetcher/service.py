"""Wires sources and their monitors to the bus."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from services.common.aio import sleep_unless
from services.common.config import Env
from services.common.runtime import Runtime
from services.fetcher.localdir import DirectorySource
from services.fetcher.monitor import POLL_ERRORS, Monitor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetcherConfig:
    source_name: str
    source_dir: Path
    poll_interval: float

    @classmethod
    def from_env(cls, env: Env) -> FetcherConfig:
        return cls(
            source_name=env.str("LOCAL_SOURCE_NAME", "local", pattern=r"[a-z0-9_-]{1,32}"),
            source_dir=Path(env.str("LOCAL_SOURCE_DIR", "./var/gamestats")),
            poll_interval=env.float("POLL_INTERVAL", 2.0, minimum=0.1, maximum=300),
        )


async def main(rt: Runtime, conf: FetcherConfig) -> None:
    conf.source_dir.mkdir(parents=True, exist_ok=True)
    monitor = Monitor(
        DirectorySource(conf.source_name, conf.source_dir), rt.bus, rt.cfg.max_file_bytes
    )
    rt.health.add_check("catch-up", lambda: monitor.started)
    log.info(
        "watching %s as source %r every %.1fs",
        conf.source_dir.resolve(),
        conf.source_name,
        conf.poll_interval,
    )
    while not rt.stop.is_set():
        try:
            await monitor.poll()
        except Exception:
            POLL_ERRORS.labels(source=conf.source_name).inc()
            log.exception("poll failed", extra={"source": conf.source_name})
        await sleep_unless(rt.stop, conf.poll_interval)
