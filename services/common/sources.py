"""The game servers and directories etstats watches, from `SOURCES_FILE` (YAML).

Shared because the fetcher polls the sources and the poster needs each
source's round channel. Every validation error names the source and the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from services.common.config import ConfigError, Env

NAME_PATTERN = r"[a-z0-9_-]{1,32}"
SSH_KEYS = {"host", "port", "user", "key_file", "known_hosts_file", "path"}
SOURCE_KEYS = {"name", "ssh", "dir", "round_channel_id"}


@dataclass(frozen=True, slots=True)
class SshTarget:
    host: str
    port: int
    user: str
    key_file: Path
    known_hosts_file: Path
    path: str


@dataclass(frozen=True, slots=True)
class SourceConfig:
    name: str
    ssh: SshTarget | None = None
    dir: Path | None = None
    round_channel_id: str | None = None

    @property
    def where(self) -> str:
        """Where the files are, for people (never includes secrets)."""
        if self.ssh is not None:
            return f"{self.ssh.user}@{self.ssh.host}:{self.ssh.port}{self.ssh.path}"
        return str(self.dir)


def parse_sources(data: Any, origin: str) -> list[SourceConfig]:
    """Validate the parsed YAML document (pure)."""
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        raise ConfigError(f"{origin}: expected a top-level 'sources:' list")
    if extra := set(data) - {"sources"}:
        raise ConfigError(f"{origin}: unknown top-level key {sorted(extra)[0]!r}")
    sources: list[SourceConfig] = []
    for index, item in enumerate(data["sources"], start=1):
        label = f"{origin}: source #{index}"
        if not isinstance(item, dict):
            raise ConfigError(f"{label}: expected a mapping with name and ssh or dir")
        name = item.get("name")
        if not isinstance(name, str) or not re.fullmatch(NAME_PATTERN, name):
            raise ConfigError(f"{label}: name {name!r} must match {NAME_PATTERN}")
        label = f"{origin}: source {name!r}"
        if extra := set(item) - SOURCE_KEYS:
            raise ConfigError(f"{label}: unknown key {sorted(extra)[0]!r}")
        if any(s.name == name for s in sources):
            raise ConfigError(f"{label}: the name is used twice")
        if ("ssh" in item) == ("dir" in item):
            raise ConfigError(f"{label}: give exactly one of 'ssh' or 'dir'")
        channel = item.get("round_channel_id")
        if channel is not None and not re.fullmatch(r"\d{15,22}", str(channel)):
            raise ConfigError(f"{label}: round_channel_id {channel!r} is not a Discord channel id")
        if "dir" in item:
            if not isinstance(item["dir"], str) or not item["dir"]:
                raise ConfigError(f"{label}: dir must be a path")
            sources.append(
                SourceConfig(
                    name, dir=Path(item["dir"]), round_channel_id=str(channel) if channel else None
                )
            )
        else:
            ssh = _ssh(item["ssh"], label)
            sources.append(
                SourceConfig(name, ssh=ssh, round_channel_id=str(channel) if channel else None)
            )
    if not sources:
        raise ConfigError(f"{origin}: 'sources' is empty")
    return sources


def _ssh(value: Any, label: str) -> SshTarget:
    if not isinstance(value, dict):
        raise ConfigError(f"{label}: ssh must be a mapping of {', '.join(sorted(SSH_KEYS))}")
    if extra := set(value) - SSH_KEYS:
        raise ConfigError(f"{label}: unknown key 'ssh.{sorted(extra)[0]}'")
    for key in ("host", "user", "key_file", "known_hosts_file", "path"):
        if not isinstance(value.get(key), str) or not value[key]:
            raise ConfigError(f"{label}: ssh.{key} is required")
    port = value.get("port", 22)
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"{label}: ssh.port {port!r} is not a port number")
    if not value["path"].startswith("/"):
        raise ConfigError(f"{label}: ssh.path {value['path']!r} must be absolute")
    return SshTarget(
        host=value["host"],
        port=port,
        user=value["user"],
        key_file=Path(value["key_file"]),
        known_hosts_file=Path(value["known_hosts_file"]),
        path=value["path"].rstrip("/") or "/",
    )


def require_key_files(sources: list[SourceConfig]) -> None:
    """The fetcher's check at start: the key files of its SSH sources are there,
    and a private key of ours is readable by us alone (as OpenSSH insists).

    Only the fetcher holds the keys; the poster reads the same file for channels.
    """
    for source in sources:
        if source.ssh is None:
            continue
        for key in ("key_file", "known_hosts_file"):
            path = getattr(source.ssh, key)
            if not path.is_file():
                raise ConfigError(
                    f"source {source.name!r}: ssh.{key} {path} is not a readable file"
                )
        key_file = source.ssh.key_file
        st = key_file.stat()
        mode = st.st_mode & 0o777
        # OpenSSH's rule: a key of ours others may read is no secret (of another owner,
        # the mode is that owner's business).
        if st.st_uid == os.getuid() and mode & 0o077:
            raise ConfigError(
                f"source {source.name!r}: ssh.key_file {key_file} is open to others (mode "
                f"{mode:04o}), so OpenSSH would refuse it too; run `chmod 600 {key_file}`"
            )


def load_sources(env: Env) -> list[SourceConfig]:
    """`SOURCES_FILE` (default ./sources.yaml); without it, the local directory."""
    named = env.optional("SOURCES_FILE")
    path = Path(named or "./sources.yaml")
    if not path.exists():
        if named:
            raise ConfigError(f"SOURCES_FILE={named}: no such file")
        return [SourceConfig("local", dir=Path(env.str("LOCAL_SOURCE_DIR", "./var/gamestats")))]
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"SOURCES_FILE={path}: cannot read ({exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"SOURCES_FILE={path}: not valid YAML ({exc})".replace("\n", " ")
        ) from None
    return parse_sources(data, str(path))


def unknown_source(name: str, known: Iterable[str]) -> str:
    """The one sentence every command answers to a source that is not configured."""
    return f"unknown source {name!r}; sources: {', '.join(sorted(known)) or 'none'}"
