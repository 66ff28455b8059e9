"""The operator CLI (`etstats sync|status|monitor|health|backup|reimport`) against
the real services, run as a user runs it."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from etstats_cli.embedded import free_port
from services.common.config import Env
from services.common.sources import SourceConfig
from services.fetcher.service import main as fetcher_main
from services.parser.service import ParserConfig
from services.parser.service import main as parser_main
from services.poster.service import PosterConfig
from services.poster.service import main as poster_main
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.inprocess import running
from tests.test_fetcher import caught_up, dated_file, write_aged
from tests.test_fetcher import conf as fetcher_conf

pytestmark = pytest.mark.e2e


async def cli(
    nats_url: str | None, *args: str, within: float = 60, **env: str
) -> tuple[int, str, str]:
    """`etstats ARGS` as a process; NATS_URL set unless None (then as `make up` leaves it)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "EMBEDDED_NATS_PORT")}
    if nats_url is not None:
        environ["NATS_URL"] = nats_url
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "etstats_cli.cli",
        *args,
        env={**environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), within)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_operator_commands(nats_server, database_url: str, tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    for age in (1, 3, 10):
        name, body = dated_file(700 + age, age)
        write_aged(box / name, body, timedelta(days=age))
    url = nats_server.url
    storage_conf = StorageConfig(database_url, 2, backup_dir=tmp_path / "backups")
    settings = fetcher_conf(SourceConfig("box", dir=box), catchup=timedelta(hours=1))
    async with (
        running("parser", parser_main, ParserConfig(batch=8), url),
        running("fetcher", fetcher_main, settings, url) as fetcher,
        running(
            "poster",
            poster_main,
            PosterConfig(None, None, None, None, [settings.sources[0]], 600),
            url,
        ),
    ):
        async with running("storage", storage_main, storage_conf, url):
            # Storage is ready; the fetcher's catch-up (which counts the older
            # files) must be done before the sync takes some of them.
            await caught_up(fetcher, fetcher.runtime.bus, "box")
            code, out, err = await cli(url, "monitor", "off", "--source", "box")
            assert (code, out.strip()) == (0, "monitoring off for box")

            code, out, err = await cli(url, "sync", "fortnight")
            assert code == 2 and "Accepted: today, yesterday, all" in err

            for args, line in [
                (
                    ("sync", "9999-12-31"),
                    "etstats: '9999-12-31' starts after today: there is nothing to sync yet"
                    " (fetcher sync, error 400)",
                ),
                (
                    ("sync", "2d", "--source", "nosuch"),
                    "etstats: unknown source 'nosuch'; sources: box (fetcher sync, error 404)",
                ),
                (
                    ("monitor", "off", "--source", "nosuch"),
                    "etstats: unknown source 'nosuch'; sources: box",
                ),
                (
                    ("reimport", "--rejected", "--source", "nosuch"),
                    "etstats: unknown source 'nosuch'; sources: box",
                ),
            ]:
                code, out, err = await cli(url, *args)
                assert (code, out, err.strip().splitlines()) == (2, "", [line]), args

            port = url.rsplit(":", 1)[1]
            code, out, err = await cli(None, "status", EMBEDDED_NATS_PORT=port)
            assert code == 0, err
            assert "box: connected" in out

            code, out, err = await cli(url, "sync", "4days", "--source", "box")
            assert code == 0, err
            assert "2 imported, 0 duplicates, 0 rejected" in out
            assert "stored 2" in err  # the progress line

            code, out, _ = await cli(url, "status")
            assert code == 0
            assert "box: connected, monitoring off, polled by fetcher-a" in out
            assert "1 older files not imported: run a sync" in out
            assert "storage: 2 rounds, 2 files imported" in out

            code, out, _ = await cli(url, "health")
            assert code == 0
            services = {line.split()[0] for line in out.splitlines()}
            assert services == {"fetcher", "parser", "poster", "storage"}

            code, out, err = await cli(url, "backup")
            assert code == 0 and out.startswith("Backup written: etstats-"), err

            code, out, _ = await cli(url, "reimport", "--rejected", "--source", "box")
            assert (code, out.strip()) == (0, "0 rejected files requested again (syncs: none)")

        code, out, _ = await cli(url, "health", within=10)  # storage is stopped now
        assert code == 1
        assert "storage  NOT ANSWERING" in out
        code, _, err = await cli(url, "backup")
        assert code == 1 and "the storage service is not answering" in err


async def test_without_a_stack_the_cli_says_where_it_looked(tmp_path: Path) -> None:
    """No NATS_URL: the CLI looks where `make up` puts NATS (EMBEDDED_NATS_PORT)."""
    port = str(free_port())
    code, out, err = await cli(None, "status", within=20, EMBEDDED_NATS_PORT=port)
    assert (code, out) == (1, "")
    [line] = err.strip().splitlines()
    assert line.startswith(f"etstats: cannot reach NATS at nats://127.0.0.1:{port} (")
    assert "()" not in line and line.endswith(
        "is the stack running (make up)? Set NATS_URL otherwise."
    )


async def test_a_backup_on_a_temporary_disk_says_so(nats_server, database_url: str, tmp_path):
    """On Kubernetes storage's backup directory is the pod's own (the backup job's
    volume cannot be shared): `etstats backup` and `!backup` say the file will not last."""
    env = {
        "DATABASE_URL": database_url,
        "BACKUP_DIR": str(tmp_path / "backups"),
        "BACKUP_DIR_TEMPORARY": "true",  # as k8s/base/storage.yaml sets it
    }
    async with running("storage", storage_main, StorageConfig.from_env(Env(env)), nats_server.url):
        code, out, err = await cli(nats_server.url, "backup")
    assert code == 0, err
    assert out.startswith("Backup written: etstats-")
    assert "temporary disk and is lost with the pod: copy it out now" in out
