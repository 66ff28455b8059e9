"""A game server reached over SSH/SFTP: one persistent connection, strict host keys."""

from __future__ import annotations

import asyncio
import logging
import posixpath
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncssh
from asyncssh.encryption import get_default_encryption_algs
from prometheus_client import Counter

from services.common.backoff import backoff
from services.common.errors import describe
from services.common.sources import SourceConfig, SshTarget
from services.fetcher.problems import FileProblems, Listed
from services.fetcher.source import Entry, SourceError

log = logging.getLogger(__name__)

SSH_ERRORS = Counter(
    "etstats_fetcher_ssh_errors_total", "SSH/SFTP errors, by kind.", ["source", "kind"]
)
# Every kind SSH_ERRORS counts (_failed's first argument).
SSH_ERROR_KINDS = ("auth", "connect", "host_key", "io")
RECONNECTS = Counter("etstats_fetcher_ssh_connects_total", "SSH connections opened.", ["source"])

MAX_BACKOFF_S = 60.0

T = TypeVar("T")

# The server's answers about one file: the connection itself is fine.
# AES-GCM first: with AES instructions it costs the fetcher a quarter less CPU
# per file than asyncssh's first choice, ChaCha20; the rest stay for servers
# without it.
CIPHERS = [
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    *(a.decode() for a in get_default_encryption_algs() if b"-gcm@" not in a),
]
FILE_ERRORS = (asyncssh.SFTPPermissionDenied, asyncssh.SFTPFailure)


def mtime_ns(attrs: asyncssh.SFTPAttrs) -> int:
    return (attrs.mtime or 0) * 1_000_000_000 + (attrs.mtime_ns or 0)


def host_key_advice(target: SshTarget) -> str:
    entry = target.host if target.port == 22 else f"[{target.host}]:{target.port}"
    return (
        f"the host key of {target.host}:{target.port} is not in {target.known_hosts_file}, or it "
        f"changed. Get the server's key fingerprint from its owner (on the server: ssh-keygen -lf "
        f"/etc/ssh/ssh_host_ed25519_key.pub), compare it with `ssh-keyscan -p {target.port} "
        f"{target.host} | ssh-keygen -lf -`, and only if they match add the line for {entry} "
        f"to {target.known_hosts_file}. Host keys are never accepted automatically."
    )


class SftpSource:
    """Connects lazily, reconnects with exponential backoff and jitter after errors."""

    def __init__(self, config: SourceConfig, keepalive_s: float = 15.0) -> None:
        assert config.ssh is not None
        self.name = config.name
        self.target = config.ssh
        self.problems = FileProblems(config.name)
        self.keepalive_s = keepalive_s
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._lock = asyncio.Lock()
        self._failures = 0
        self._retry_at = 0.0
        self.last_error = ""
        self.connections = 0

    @property
    def connected(self) -> bool:
        return self._sftp is not None

    async def _client(self) -> asyncssh.SFTPClient:
        async with self._lock:
            if self._sftp is not None:
                return self._sftp
            wait = self._retry_at - time.monotonic()
            if wait > 0:
                raise SourceError(
                    "backoff", f"reconnecting in {wait:.0f}s after: {self.last_error}"
                )
            t = self.target
            try:
                self._conn = await asyncssh.connect(
                    t.host,
                    t.port,
                    username=t.user,
                    client_keys=[str(t.key_file)],
                    known_hosts=str(t.known_hosts_file),
                    keepalive_interval=self.keepalive_s,
                    keepalive_count_max=3,
                    connect_timeout=10,
                    login_timeout=10,
                    agent_path=None,
                    config=None,
                    encryption_algs=CIPHERS,
                )
                self._sftp = await self._conn.start_sftp_client()
            except asyncssh.HostKeyNotVerifiable:
                raise self._failed("host_key", host_key_advice(t)) from None
            except asyncssh.PermissionDenied:
                raise self._failed(
                    "auth", f"{t.user}@{t.host} refused the key {t.key_file}"
                ) from None
            except (OSError, asyncssh.Error, TimeoutError) as exc:
                raise self._failed(
                    "connect", f"cannot connect to {t.host}:{t.port}: {describe(exc)}"
                ) from None
            RECONNECTS.labels(source=self.name).inc()
            self.connections += 1
            self._failures = 0
            log.info("connected to %s:%s", t.host, t.port, extra={"source": self.name})
            return self._sftp

    def _failed(self, kind: str, message: str) -> SourceError:
        """Record a failure, drop the connection and schedule the next attempt."""
        SSH_ERRORS.labels(source=self.name, kind=kind).inc()
        self._failures += 1
        delay = backoff(self._failures, cap=MAX_BACKOFF_S, jitter=0.2)
        self._retry_at = time.monotonic() + delay
        self.last_error = message
        self._drop()
        return SourceError(kind, message)

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.abort()
        self._conn = None
        self._sftp = None

    async def _io(self, what: str, operation: Callable[[asyncssh.SFTPClient], Awaitable[T]]) -> T:
        sftp = await self._client()
        try:
            return await operation(sftp)
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            if isinstance(exc, asyncssh.SFTPNoSuchFile):
                raise SourceError("missing", f"{what}: no such file or directory") from None
            raise self._failed("io", f"{what} failed: {describe(exc)}") from None

    async def stamp(self) -> int | None:
        attrs = await self._io(f"stat {self.target.path}", lambda s: s.stat(self.target.path))
        return mtime_ns(attrs)

    async def list(self) -> dict[str, Entry]:
        """Names as bytes: one that is not UTF-8 is skipped, never the whole listing."""

        async def scan(sftp: asyncssh.SFTPClient) -> list[Listed]:
            return [
                (item.filename, item.attrs.permissions, item.attrs.size or 0, mtime_ns(item.attrs))
                async for item in sftp.scandir(self.target.path.encode())
                if isinstance(item.filename, bytes)
            ]

        return self.problems.entries(await self._io(f"list {self.target.path}", scan))

    async def read(self, name: str, max_bytes: int) -> bytes:
        body, _ = await self._read(name, max_bytes, stat=False)
        return body

    async def read_and_stat(self, name: str, max_bytes: int) -> tuple[bytes, Entry]:
        body, after = await self._read(name, max_bytes, stat=True)
        assert after is not None
        return body, after

    async def _read(self, name: str, max_bytes: int, stat: bool) -> tuple[bytes, Entry | None]:
        """The stat is one more round trip: only monitoring asks for it."""
        path = posixpath.join(self.target.path, name)

        async def fetch(sftp: asyncssh.SFTPClient) -> tuple[bytes, Entry | None]:
            try:
                # One read request at a time (block_size=0): a parallel read of
                # max_bytes would send dozens of requests for a file of a few KB.
                async with sftp.open(path, "rb", block_size=0) as fh:
                    body = b""
                    while len(body) <= max_bytes:
                        wanted = max_bytes + 1 - len(body)
                        chunk: bytes = await fh.read(wanted)
                        body += chunk
                        # A server answers a read in full (up to its own limit)
                        # unless the file ends: no extra request to hear EOF.
                        if len(chunk) < min(wanted, sftp.limits.max_read_len):
                            break
                    if not stat:
                        return body, None
                    attrs = await fh.stat()
                    return body, Entry(name, attrs.size or 0, mtime_ns(attrs))
            except FILE_ERRORS as exc:
                raise self.problems.unreadable(name, exc.reason or type(exc).__name__) from None

        read = await self._io(f"read {path}", fetch)
        self.problems.clear(name)
        return read

    async def close(self) -> None:
        self._drop()
