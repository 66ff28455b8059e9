"""Text that is shown in Discord, never interpreted (shared by poster and bot)."""

from __future__ import annotations

import re

import disnake


def safe(text: str) -> str:
    """No Markdown, no mentions: names and messages are shown as written."""
    escaped = disnake.utils.escape_mentions(disnake.utils.escape_markdown(text))
    return escaped.replace("<@", "<\u200b@").replace("<#", "<\u200b#")


def plain(text: str) -> str:
    """What `safe` escaped, as written again: for a terminal, which renders no Markdown."""
    return re.sub(r"\\([^A-Za-z0-9\s])", r"\1", text).replace("\u200b", "")
