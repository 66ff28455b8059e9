"""Configuration from environment variables, validated at start.

Every service reads its settings through :class:`Env`, so a bad or missing
variable always stops the service with one line that names it.
"""

from __future__ import annotations

import builtins
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(Exception):
    """A configuration value is missing or invalid; the message names the variable."""


class Env:
    """Typed, validated access to environment variables.

    Secrets may also be given as ``NAME_FILE`` pointing at a file holding the
    value (Docker and Kubernetes secrets); the value itself is never echoed.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def _raw(self, name: str) -> str | None:
        value = self._environ.get(name)
        file_name = self._environ.get(f"{name}_FILE")
        if value not in (None, "") and file_name:
            raise ConfigError(f"{name} and {name}_FILE are both set: keep one")
        if file_name:
            try:
                return Path(file_name).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"{name}_FILE={file_name}: cannot read ({exc.strerror})"
                ) from None
        return value if value != "" else None

    def str(self, name: str, default: str | None = None, *, pattern: str | None = None) -> str:
        value = self._raw(name)
        if value is None:
            if default is None:
                raise ConfigError(f"{name} is required but not set")
            return default
        if pattern is not None and not re.fullmatch(pattern, value):
            raise ConfigError(f"{name}={value!r} is invalid: expected {pattern}")
        return value

    def optional(self, name: builtins.str) -> builtins.str | None:
        return self._raw(name)

    def int(
        self,
        name: builtins.str,
        default: int,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{name}={value!r} is not a whole number") from None
        _check_range(name, number, minimum, maximum)
        return number

    def float(
        self,
        name: builtins.str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{name}={value!r} is not a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ConfigError(f"{name}={value!r} is not a finite number")
        _check_range(name, number, minimum, maximum)
        return number

    def duration(
        self, name: builtins.str, default: builtins.str, *, minimum_s: builtins.float = 0
    ) -> builtins.float:
        """Seconds from `90`, `30s`, `15m`, `48h` or `7d`."""
        value = self._raw(name) or default
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd]?)", value.strip().lower())
        if match is None:
            raise ConfigError(f"{name}={value!r} is not a duration (examples: 30s, 15m, 48h, 7d)")
        seconds = float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
        if seconds < minimum_s:
            raise ConfigError(f"{name}={value!r} is too short: the minimum is {minimum_s:g}s")
        return seconds

    def bool(self, name: builtins.str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"{name}={value!r} is not a yes/no value (use true or false)")


# A pause without rounds this long ends a gaming session: storage cuts sessions
# by it and the poster waits it out before a session's summary (each reads it as
# SESSION_GAP, with this default).
SESSION_GAP_DEFAULT = "60m"


def _check_range(name: str, number: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name}={number} is too small: the minimum is {minimum}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name}={number} is too large: the maximum is {maximum}")


# Local development ports, one per service, so that `etstats up` can run all
# five on one machine; containers override HTTP_PORT.
DEFAULT_HTTP_PORTS = {"fetcher": 8081, "parser": 8082, "storage": 8083, "poster": 8084, "bot": 8085}


@dataclass(frozen=True)
class CommonConfig:
    """Settings every service shares."""

    service: str
    nats_url: str
    nats_user: str | None
    nats_password: str | None
    stream: str
    http_host: str
    http_port: int
    log_level: str
    max_file_bytes: int

    @classmethod
    def from_env(cls, service: str, env: Env) -> CommonConfig:
        return cls(
            service=service,
            nats_url=env.str("NATS_URL", "nats://127.0.0.1:4222", pattern=r"(nats|tls)://\S+"),
            nats_user=env.optional("NATS_USER"),
            nats_password=env.optional("NATS_PASSWORD"),
            stream=env.str("NATS_STREAM", "STATS", pattern=r"[A-Za-z0-9_-]{1,64}"),
            http_host=env.str("HTTP_HOST", "127.0.0.1"),
            http_port=env.int(
                "HTTP_PORT", DEFAULT_HTTP_PORTS.get(service, 0), minimum=0, maximum=65535
            ),
            log_level=env.str(
                "LOG_LEVEL", "INFO", pattern=r"(?i)DEBUG|INFO|WARNING|ERROR|CRITICAL"
            ).upper(),
            max_file_bytes=env.int("MAX_FILE_BYTES", 1_000_000, minimum=1024, maximum=8_000_000),
        )
