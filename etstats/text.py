"""Text bounded for logs, headers, ledgers and images (pure)."""

from __future__ import annotations

import re
import unicodedata


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the cut marked."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(text: str, limit: int) -> str:
    """`text` on one line (runs of whitespace made one space), cut to `limit`."""
    return clip(re.sub(r"\s+", " ", text).strip(), limit)


# Categories that draw nothing or change how the text around them is laid out:
# controls, format characters (bidi overrides, zero-width joiners, BOM),
# surrogates, private use, unassigned, and line or paragraph separators.
_UNDRAWABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_MARKS = frozenset({"Mn", "Me"})
MARKS_PER_LETTER = 2  # more stack combining marks far above and below the line


def drawable(text: str, limit: int = 64) -> str:
    """`text` safe to draw on one line of an image, in logical order.

    A player chooses their name: nothing in it may move, reorder or stretch
    what is drawn around it. Spaces of any kind (tabs and line breaks too)
    become one space; accents are composed where Unicode can (NFC).
    """
    out: list[str] = []
    marks = 0
    for char in unicodedata.normalize("NFC", text):
        category = "Zs" if char.isspace() else unicodedata.category(char)
        if category in _UNDRAWABLE:
            continue
        if category in _MARKS:
            marks += 1
            if marks > MARKS_PER_LETTER or not out:
                continue
        else:
            marks = 0
            if category == "Zs":
                char = " "
                if not out or out[-1] == " ":
                    continue
        out.append(char)
        if len(out) >= limit + 1:
            break
    return clip("".join(out).rstrip(), limit)
