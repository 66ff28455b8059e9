"""Real SSH servers for the fetcher tests: asyncssh in-process and OpenSSH's sshd."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from etstats_cli.embedded import free_port, port_open
from services.common.sources import SourceConfig, SshTarget
from tests.debian import ensure_package
from tests.waiting import wait_until_sync

SSHD = Path("/usr/sbin/sshd")


@dataclass
class SshServer:
    kind: str
    port: int
    root: Path  # the served stats directory
    key_file: Path
    known_hosts_file: Path
    server_key: asyncssh.SSHKey
    close: Callable[[], None]
    aborts: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)
    on_read: dict[str, Callable[[], None]] = field(default_factory=dict)
    # asyncssh only: SFTP requests served, by kind (stat, scandir, open), and opens by file
    requests: Counter[str] = field(default_factory=Counter)
    opened: Counter[str] = field(default_factory=Counter)
    # asyncssh only: the server killed (no listener, every connection dropped), and back
    kill: Callable[[], None] = lambda: None
    restart: Callable[[], Awaitable[None]] | None = None

    def source(self, name: str = "main") -> SourceConfig:
        return SourceConfig(
            name,
            ssh=SshTarget(
                "127.0.0.1",
                self.port,
                os.environ.get("USER", "root"),
                self.key_file,
                self.known_hosts_file,
                str(self.root),
            ),
        )


def keys(tmp: Path, server_key: asyncssh.SSHKey, port: int) -> tuple[Path, Path]:
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp / "id_ed25519"
    client_key.write_private_key(str(key_file))
    key_file.chmod(0o600)
    (tmp / "authorized_keys").write_bytes(client_key.export_public_key())
    known = tmp / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {server_key.export_public_key().decode().strip()}\n")
    return key_file, known


class FlakySftp(asyncssh.SFTPServer):
    """Drops the whole connection on the first read of each file named in `abort_reads`;
    refuses to open the files named in `deny_opens`, as a server does a file of another
    user (which a test run as root cannot make); runs `on_read[name]` on the first read
    of that file (a fault a test injects at that very moment: the server or NATS going
    down). Counts directory stats, listings and opens in `requests`, and opens of
    each file in `opened`."""

    abort_reads: list[str] = []
    deny_opens: list[str] = []
    on_read: dict[str, Callable[[], None]] = {}
    requests: Counter[str] = Counter()
    opened: Counter[str] = Counter()

    def stat(
        self, path: bytes
    ) -> os.stat_result | asyncssh.SFTPAttrs | Awaitable[os.stat_result | asyncssh.SFTPAttrs]:
        self.requests["stat"] += 1
        return super().stat(path)

    def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        self.requests["scandir"] += 1
        return super().scandir(path)

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        self.requests["open"] += 1
        self.opened[os.path.basename(os.fsdecode(path))] += 1
        if os.path.basename(os.fsdecode(path)) in self.deny_opens:
            raise asyncssh.SFTPPermissionDenied("Permission denied")
        return super().open(path, pflags, attrs)

    def read(self, file_obj: object, offset: int, size: int) -> bytes | Awaitable[bytes]:
        name = os.path.basename(os.fsdecode(getattr(file_obj, "name", "")))
        if (fault := self.on_read.pop(name, None)) is not None:
            fault()
        if name in self.abort_reads:
            self.abort_reads.remove(name)
            self.channel.get_connection().abort()
            raise asyncssh.SFTPConnectionLost("dropped by the test server")
        return super().read(file_obj, offset, size)


async def start_asyncssh(tmp: Path) -> SshServer:
    server_key = asyncssh.generate_private_key("ssh-ed25519")
    root = tmp / "gamestats"
    root.mkdir()
    port = free_port()
    key_file, known = keys(tmp, server_key, port)
    FlakySftp.abort_reads = []
    FlakySftp.deny_opens = []
    FlakySftp.on_read = {}
    FlakySftp.requests = Counter()
    FlakySftp.opened = Counter()
    connections: list[asyncssh.SSHServerConnection] = []

    class Tracked(asyncssh.SSHServer):
        def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
            connections.append(conn)

    async def listen() -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            "127.0.0.1",
            port,
            server_factory=Tracked,
            server_host_keys=[server_key],
            authorized_client_keys=str(tmp / "authorized_keys"),
            sftp_factory=FlakySftp,
            allow_scp=False,
        )

    listeners = [await listen()]

    def close() -> None:
        listeners[-1].close()

    def kill() -> None:
        close()
        for conn in connections:
            conn.abort()
        connections.clear()

    async def restart() -> None:
        listeners.append(await listen())

    return SshServer(
        "asyncssh",
        port,
        root,
        key_file,
        known,
        server_key,
        close,
        FlakySftp.abort_reads,
        FlakySftp.deny_opens,
        FlakySftp.on_read,
        FlakySftp.requests,
        FlakySftp.opened,
        kill,
        restart,
    )


def ensure_sshd() -> str | None:
    """OpenSSH's server, installed when running as root; the reason when unavailable."""
    return ensure_package(SSHD, "openssh-server")


def openssh(tmp: Path) -> SshServer:
    """OpenSSH's sshd on loopback, installed first where it can be (the benchmarks
    measure against it); SystemExit saying why when it cannot run here."""
    if (missing := ensure_sshd()) is not None:
        raise SystemExit(f"OpenSSH's sshd is needed: {missing}")
    return start_sshd(tmp)


def start_sshd(tmp: Path) -> SshServer:
    server_key = asyncssh.generate_private_key("ssh-ed25519")
    host_key = tmp / "ssh_host_ed25519_key"
    server_key.write_private_key(str(host_key))
    host_key.chmod(0o600)
    root = tmp / "gamestats"
    root.mkdir()
    port = free_port()
    key_file, known = keys(tmp, server_key, port)
    Path("/run/sshd").mkdir(exist_ok=True)
    config = tmp / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {tmp / 'authorized_keys'}\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "PermitRootLogin prohibit-password\n"
        f"PidFile {tmp / 'sshd.pid'}\nSubsystem sftp internal-sftp\n"
    )
    log = tmp / "sshd.log"
    proc = subprocess.Popen([str(SSHD), "-D", "-E", str(log), "-f", str(config)])
    try:
        wait_until_sync(
            lambda: proc.poll() is not None or port_open("127.0.0.1", port),
            within=10,
            what="sshd listening",
        )
    except AssertionError as exc:
        proc.kill()
        raise RuntimeError(f"sshd did not start ({exc}): " + log.read_text()) from None
    if proc.poll() is not None:
        raise RuntimeError("sshd did not start: " + log.read_text())

    def stop() -> None:
        proc.terminate()
        proc.wait(10)

    return SshServer("openssh", port, root, key_file, known, server_key, stop)
