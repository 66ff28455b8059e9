"""One backup, then exit: `python -m services.storage.backup_job`.

For schedulers outside the service (a Kubernetes CronJob): the dump goes to
BACKUP_DIR with the same rotation, and the time is recorded on the bus so that
storage's last-backup metric, and the alert on it, see it.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from services.common.bus import BusUnavailable, connect_once
from services.common.config import CommonConfig, ConfigError, Env
from services.common.logs import setup_logging
from services.storage import backup
from services.storage.service import StorageConfig

log = logging.getLogger(__name__)


async def run(common: CommonConfig, conf: StorageConfig) -> int:
    try:
        path = await backup.backup(
            conf.pg_dump,
            conf.database_url,
            conf.backup_dir,
            conf.backup_keep,
        )
    except backup.BackupError as exc:
        log.error("backup failed: %s", exc)
        return 1
    log.info("backup written: %s", path)
    try:
        bus = await connect_once(common)
    except BusUnavailable as exc:
        log.warning("backup written, but not recorded on the bus: %s", exc)
        return 0
    try:
        await backup.record(bus, path.stat().st_mtime)
    except Exception as exc:
        log.warning("backup written, but not recorded on the bus: %s", exc)
    finally:
        await bus.close()
    return 0


def main() -> int:
    env = Env()
    try:
        common = CommonConfig.from_env("backup", env)
        conf = StorageConfig.from_env(env)
    except ConfigError as exc:
        print(f"etstats backup: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging("backup", common.log_level)
    return asyncio.run(run(common, conf))


if __name__ == "__main__":
    sys.exit(main())
