"""Text bounded for logs, headers and ledgers (pure)."""

from __future__ import annotations

import re


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the cut marked."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(text: str, limit: int) -> str:
    """`text` on one line (runs of whitespace made one space), cut to `limit`."""
    return clip(re.sub(r"\s+", " ", text).strip(), limit)
