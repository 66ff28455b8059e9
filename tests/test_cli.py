import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from etstats.statsfile import classify_name, parse
from etstats_cli.cli import main
from etstats_cli.embedded import EmbeddedNats, free_port


@pytest.mark.unit
def test_demo_writes_a_parseable_round_pair(tmp_path: Path) -> None:
    assert main(["demo", "--dir", str(tmp_path), "--gap", "0", "--seed", "4"]) == 0
    files = sorted(tmp_path.iterdir())
    assert [classify_name(f.name).round for f in files] == [1, 2]
    assert len({classify_name(f.name).map for f in files}) == 1
    for path in files:
        assert parse(path.read_bytes(), path.name).players


@pytest.mark.unit
def test_demo_refuses_bad_arguments(tmp_path: Path, capsys) -> None:
    assert main(["demo", "--dir", str(tmp_path), "--maps", "0"]) == 2
    assert "--maps must be at least 1" in capsys.readouterr().err


@pytest.mark.service
def test_service_exits_cleanly_on_sigterm(nats_server: EmbeddedNats) -> None:
    env = dict(os.environ, NATS_URL=nats_server.url, HTTP_PORT=str(free_port()))
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.parser"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "connected to NATS" in line:
            break
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert '"msg": "stopped"' in proc.stderr.read()
