"""Which known commands an unknown one was probably meant to be (pure)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

MIN_LENGTH = 3  # shorter words are more likely another bot's than a typo of ours
MAX_SUGGESTIONS = 6


def close_commands(word: str, names: Iterable[str]) -> list[str]:
    """Commands that start with or contain `word`, else those spelt like it."""
    word = word.lower()
    known = sorted(set(names))
    if len(word) < MIN_LENGTH or word in known:
        return []
    containing = [n for n in known if n.startswith(word) or (len(word) > MIN_LENGTH and word in n)]
    found = containing or difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return found[:MAX_SUGGESTIONS]
