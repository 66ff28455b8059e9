"""Who may run control commands, and where (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Admins:
    role_ids: frozenset[int]
    user_ids: frozenset[int]

    def allows(
        self, user_id: int, role_ids: Iterable[int], *, owner: bool, manage_guild: bool
    ) -> bool:
        """For a member of a home guild: the configured admins; with none configured,
        the guild's owner and members with Manage Server."""
        if not self.role_ids and not self.user_ids:
            return owner or manage_guild
        return user_id in self.user_ids or bool(self.role_ids.intersection(role_ids))


def home_guilds(configured: frozenset[int], joined: Iterable[int]) -> frozenset[int]:
    """The guilds the bot takes orders in: those configured; unset, the one guild it
    is in. Unset and in several, none: any server owner could otherwise take control."""
    if configured:
        return configured
    joined = frozenset(joined)
    return joined if len(joined) == 1 else frozenset()


def parse_ids(text: str | None, name: str) -> frozenset[int]:
    from services.common.config import ConfigError

    if not text:
        return frozenset()
    try:
        return frozenset(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise ConfigError(f"{name}={text!r} must be Discord ids separated by commas") from None
