"""Who may run control commands (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Admins:
    role_ids: frozenset[int]
    user_ids: frozenset[int]

    def allows(self, user_id: int, role_ids: Iterable[int], manage_guild: bool) -> bool:
        """Configured admins; with none configured, members with Manage Server."""
        if not self.role_ids and not self.user_ids:
            return manage_guild
        return user_id in self.user_ids or bool(self.role_ids.intersection(role_ids))


def parse_ids(text: str | None, name: str) -> frozenset[int]:
    from services.common.config import ConfigError

    if not text:
        return frozenset()
    try:
        return frozenset(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise ConfigError(f"{name}={text!r} must be Discord ids separated by commas") from None
