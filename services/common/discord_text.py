"""Text that is shown in Discord, never interpreted (shared by poster and bot)."""

from __future__ import annotations

import re

import disnake

# Markup that Discord renders only at a line start (headers, subtext, lists);
# a name often starts a line of a post.
LINE_START_MARKUP = re.compile(r"^(\s*)(#{1,3}|-#|[-+])(?=\s)", re.MULTILINE)
LINE_START_NUMBERING = re.compile(r"^(\s*\d+)\.(?=\s)", re.MULTILINE)
ZWSP = "\u200b"


def safe(text: str) -> str:
    """No Markdown, no mentions, no links: names and messages are shown as written."""
    escaped = disnake.utils.escape_mentions(disnake.utils.escape_markdown(text))
    escaped = LINE_START_MARKUP.sub(r"\1\\\2", escaped)
    escaped = LINE_START_NUMBERING.sub(r"\1\\.", escaped)
    return (
        escaped.replace("<@", f"<{ZWSP}@")
        .replace("<#", f"<{ZWSP}#")
        .replace("://", f":{ZWSP}//")  # no scheme, no link
    )


def plain(text: str) -> str:
    """What `safe` escaped, as written again: for a terminal, which renders no Markdown."""
    return re.sub(r"\\([^A-Za-z0-9\s])", r"\1", text).replace(ZWSP, "")
