"""The operator CLI (`etstats sync|status|monitor|health|backup|reimport`) against
the real services, run as a user runs it."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from services.common.sources import SourceConfig
from services.fetcher.service import main as fetcher_main
from services.parser.service import ParserConfig
from services.parser.service import main as parser_main
from services.poster.service import PosterConfig
from services.poster.service import main as poster_main
from services.storage.service import StorageConfig
from services.storage.service import main as storage_main
from tests.inprocess import running
from tests.test_fetcher import conf as fetcher_conf
from tests.test_fetcher import dated_file


async def cli(nats_url: str, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "etstats_cli.cli",
        *args,
        env=dict(os.environ, NATS_URL=nats_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_operator_commands(nats_server, database_url: str, tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    for age in (1, 3, 10):
        name, body = dated_file(700 + age, age)
        (box / name).write_bytes(body)
    url = nats_server.url
    storage_conf = StorageConfig(database_url, 2, backup_dir=tmp_path / "backups")
    settings = fetcher_conf(SourceConfig("box", dir=box), catchup=timedelta(hours=1))
    async with (
        running("parser", parser_main, ParserConfig(batch=8), url),
        running("fetcher", fetcher_main, settings, url),
        running(
            "poster",
            poster_main,
            PosterConfig(None, None, None, None, [settings.sources[0]], 600),
            url,
        ),
    ):
        async with running("storage", storage_main, storage_conf, url):
            await asyncio.sleep(2)
            code, out, err = await cli(url, "monitor", "off", "--source", "box")
            assert (code, out.strip()) == (0, "monitoring off for box")

            code, out, err = await cli(url, "sync", "fortnight")
            assert code == 2 and "Accepted: today, yesterday, all" in err

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
            assert code == 0 and out.startswith("backup written: etstats-"), err

            code, out, _ = await cli(url, "reimport", "--rejected", "--source", "box")
            assert (code, out.strip()) == (0, "0 rejected files requested again (syncs: none)")

        started = time.monotonic()
        code, out, _ = await cli(url, "health")  # storage is stopped now
        assert code == 1
        assert "storage  NOT ANSWERING" in out
        assert time.monotonic() - started < 10
        code, _, err = await cli(url, "backup")
        assert code == 1 and "the storage service is not answering" in err
