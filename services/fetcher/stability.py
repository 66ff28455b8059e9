"""When a watched file is whole: the stability rule of live monitoring.

A round file is published as soon as it is evidently whole, or else once it
has held still for `stable_s`:

- evidently whole: at its first sighting (never seen otherwise), the body ends
  with a complete line, not on a block boundary, is as long as the listed
  size, and the file's size and mtime after the read are still the listed ones;
- held still: no look in `stable_s` found its size or mtime changed, and the
  stat after the read agrees.

A file ever seen changing has a writer at work: from then on only holding
still counts, however whole the body looks, since a writer may pause at the
end of a line. An empty file, one created and not yet written, is never whole.
Sizes are compared as well as mtimes because SFTP gives mtimes in whole
seconds: writes within one second leave the mtime as it was.

The game server's script writes a round file with one call, so it is whole at
the first look and published without waiting. What a look can catch of it
mid-write is the file created and still empty, or a buffer flushed up to a
block boundary, almost always inside a line: neither is evidently whole. A
writer paused at the end of a line when the file is first seen, and still
paused once it is read, would be published short: such a writer should write
under another name and rename the file when done.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from services.fetcher.source import Entry

# Writers flush whole blocks of this size, or of multiples of it, mid-file.
BLOCK = 4096


@dataclass(frozen=True, slots=True)
class Sighting:
    """A file as the monitor last saw it.

    `since` is when (monotonic seconds) it was first seen so; `changed`, that it
    was seen otherwise before; `tried`, that a read at this sighting did not
    find it whole."""

    entry: Entry
    since: float
    changed: bool = False
    tried: bool = False


def sight(previous: Sighting | None, entry: Entry, now: float) -> Sighting:
    """The sighting after a look that shows `entry`."""
    if previous is None:
        return Sighting(entry, now)
    if previous.entry == entry:
        return previous
    return Sighting(entry, now, changed=True)


def held(sighting: Sighting, now: float, stable_s: float) -> bool:
    return now - sighting.since >= stable_s


def worth_reading(sighting: Sighting, now: float, stable_s: float) -> bool:
    """Read at the first sighting (it may be whole already) and once it held still."""
    first = not sighting.changed and not sighting.tried
    return first or held(sighting, now, stable_s)


def whole(body: bytes) -> bool:
    """Ends with a complete line, and not where a writer's buffer was flushed."""
    return body.endswith(b"\n") and len(body) % BLOCK != 0


def publishable(
    sighting: Sighting, body: bytes, after: Entry, now: float, stable_s: float, max_bytes: int
) -> bool:
    """Whether `body`, read at this sighting, is the file's whole content; `after`
    is the file's stat once read, `now` when that stat came back."""
    if after != sighting.entry:
        return False  # it changed while it was read
    if held(sighting, now, stable_s):
        return True
    size = sighting.entry.size
    first = not sighting.changed and not sighting.tried
    return first and size <= max_bytes and len(body) == size and whole(body)


def after_read(sighting: Sighting, after: Entry, now: float) -> Sighting:
    """The sighting after a read that was not published: looked at once more
    when it held still, or as a new sighting when it changed while read."""
    if after != sighting.entry:
        return sight(sighting, after, now)
    return replace(sighting, tried=True)
