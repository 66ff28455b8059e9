"""What the post images share (pure): the font, the colours, text kept inside its
box, and the PNG bytes.

The font is the one Pillow carries inside itself (`load_default` with a size,
FreeType), so images render the same in every image and on every machine, with
no font files to install. It covers Latin; other letters show as empty boxes,
which keeps a name's length and never breaks the layout.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

from etstats.text import drawable

Colour = tuple[int, int, int]
Align = Literal["left", "right", "centre"]

FONT_SIZE = 15
BACKGROUND: Colour = (30, 31, 34)  # Discord's dark theme, so the image sits in the post
STRIPE: Colour = (43, 45, 49)  # every other row
TEXT: Colour = (232, 232, 235)
MUTED: Colour = (150, 153, 160)
AXIS: Colour = (196, 52, 45)
ALLIES: Colour = (46, 108, 214)
NO_TEAM: Colour = (110, 112, 118)
TEAM_COLOURS: dict[int, Colour] = {1: AXIS, 2: ALLIES}
TEXT_CHARS = 200  # a longer text is cut before it is measured: it would not fit anyway


@lru_cache(maxsize=8)
def finite(x: float) -> float:
    """A number to draw: NaN and infinities (a corrupt file's values) as 0."""
    return x if math.isfinite(x) else 0.0


def font(size: int = FONT_SIZE) -> ImageFont.FreeTypeFont:
    """Pillow's own scalable font (no files); Pillow without FreeType cannot draw these."""
    loaded = ImageFont.load_default(size=size)
    if not isinstance(loaded, ImageFont.FreeTypeFont):
        raise RuntimeError("this Pillow is built without FreeType: post images need it")
    return loaded


def team_colour(team: int) -> Colour:
    return TEAM_COLOURS.get(team, NO_TEAM)


def lighter(colour: Colour, share: float = 0.45) -> Colour:
    """`colour` mixed with white: a team's colour readable as text on the dark rows."""
    r, g, b = (round(c + (255 - c) * share) for c in colour)
    return r, g, b


def fit(text: str, width: float, size: int = FONT_SIZE) -> str:
    """`text` made drawable and cut, with an ellipsis, to at most `width` pixels."""
    text = drawable(text, TEXT_CHARS)
    face = font(size)
    if face.getlength(text) <= width:
        return text
    low, high = 0, len(text)  # the longest prefix that fits with the ellipsis
    while low < high:
        middle = (low + high + 1) // 2
        if face.getlength(text[:middle].rstrip() + "…") <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "…" if low else ""


class Canvas:
    """One image being drawn; text never leaves the box it is given."""

    def __init__(self, width: int, height: int) -> None:
        self.image = Image.new("RGB", (width, height), BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)

    @property
    def width(self) -> int:
        return self.image.width

    def box(self, left: int, top: int, right: int, bottom: int, colour: Colour) -> None:
        if right > left and bottom > top:
            self.draw.rectangle((left, top, right - 1, bottom - 1), fill=colour)

    def text(
        self,
        box: tuple[int, int, int, int],
        text: str,
        colour: Colour = TEXT,
        *,
        align: Align = "left",
        size: int = FONT_SIZE,
    ) -> None:
        """`text` fitted into `box` (left, top, right, bottom), vertically centred.

        Drawn through a mask of the box's size: whatever a font does with a
        glyph (marks above the line, a wide fallback box), nothing lands outside.
        """
        left, top, right, bottom = box
        if right <= left or bottom <= top:
            return
        shown = fit(text, right - left, size)
        if not shown:
            return
        face = font(size)
        room = (right - left) - face.getlength(shown)
        x = {"left": 0.0, "right": room, "centre": room / 2}[align]
        mask = Image.new("L", (right - left, bottom - top), 0)
        ImageDraw.Draw(mask).text((x, (bottom - top) / 2), shown, fill=255, font=face, anchor="lm")
        self.image.paste(colour, (left, top, right, bottom), mask)

    def png(self) -> bytes:
        """The image as PNG; flat colours and text compress to tens of kilobytes."""
        out = io.BytesIO()
        self.image.save(out, "PNG", optimize=False, compress_level=6)
        return out.getvalue()
