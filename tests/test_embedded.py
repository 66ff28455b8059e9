import contextlib
import os
import socket
from pathlib import Path

import pytest

from etstats_cli import embedded
from etstats_cli.embedded import (
    EPHEMERAL_RANGE,
    NATS_MEMORY_LIMIT,
    EmbeddedError,
    EmbeddedNats,
    free_port_run,
    port_open,
)

pytestmark = pytest.mark.service


def test_nats_is_out_of_reach_of_a_terminal_ctrl_c(nats_server: EmbeddedNats) -> None:
    # Ctrl-C signals the terminal's process group; NATS must outlive the
    # services' drain, so it may not be in ours.
    assert nats_server.proc is not None
    assert os.getpgid(nats_server.proc.pid) != os.getpgid(0)
    assert port_open(nats_server.host, nats_server.port)


def test_busy_port_is_a_clear_error(nats_server: EmbeddedNats, tmp_path) -> None:
    second = EmbeddedNats(tmp_path / "other", nats_server.port)
    try:
        second.start()
    except EmbeddedError as exc:
        assert f"port {nats_server.port} is already in use" in str(exc)
        assert "EMBEDDED_NATS_PORT" in str(exc)
    else:
        second.stop()
        raise AssertionError("a second server started on a busy port")


def test_a_port_run_is_free_and_below_the_ephemeral_range() -> None:
    """Outgoing connections take ports from the ephemeral range: a run picked there
    could be taken before the stack binds it (seen as a service restarting)."""
    low = int(EPHEMERAL_RANGE.read_text().split()[0]) if EPHEMERAL_RANGE.exists() else 32768
    for _ in range(20):
        base = free_port_run(6)
        assert base >= 10000 and base + 6 <= low
        with contextlib.ExitStack() as held:
            for port in range(base, base + 6):
                held.enter_context(socket.socket()).bind(("127.0.0.1", port))


def test_no_room_below_the_ephemeral_range_is_a_clear_error(tmp_path, monkeypatch) -> None:
    ranges = tmp_path / "ip_local_port_range"
    ranges.write_text("1024\t65535\n")
    monkeypatch.setattr(embedded, "EPHEMERAL_RANGE", ranges)
    with pytest.raises(EmbeddedError, match="no room for 6 ports between 10000 and 1024"):
        free_port_run(6)


def test_the_embedded_nats_heap_has_a_soft_limit(nats_server: EmbeddedNats) -> None:
    """Without GOMEMLIMIT nats-server's heap grows with every file a sync passes."""
    assert nats_server.proc is not None
    environ = Path(f"/proc/{nats_server.proc.pid}/environ").read_bytes().split(b"\0")
    expected = os.environ.get("GOMEMLIMIT", NATS_MEMORY_LIMIT)
    assert f"GOMEMLIMIT={expected}".encode() in environ
