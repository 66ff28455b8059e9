"""Live monitoring of one source: detect new stats files, fetch them whole, publish."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

from prometheus_client import Counter, Gauge, Histogram

from etstats.contract import common_pb2, control_pb2
from etstats.statsfile import FileKind, classify_name
from services.common.bus import Bus
from services.common.errors import describe
from services.common.events import report
from services.common.metrics import mark_success
from services.fetcher.known import unknown_files
from services.fetcher.publish import download_and_stat, now_ms, publish_file, recent
from services.fetcher.source import PER_FILE, Entry, Source, SourceError
from services.fetcher.stability import Sighting, after_read, publishable, sight, worth_reading

log = logging.getLogger(__name__)

# SFTP (version 3) gives times in whole seconds.
STAMP_RESOLUTION_S = 1.0

POLLS = Counter("etstats_fetcher_polls_total", "Source polls.", ["source"])
POLL_ERRORS = Counter("etstats_fetcher_poll_errors_total", "Failed polls.", ["source"])
POLL_SECONDS = Histogram(
    "etstats_fetcher_poll_seconds",
    "Time of one poll: a directory stat, and a listing and fetches when it changed"
    " (not the pause between polls, nor the wait for a file to hold still).",
    ["source"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DETECTED = Counter("etstats_fetcher_files_detected_total", "New stats files seen.", ["source"])
HOSTILE = Counter("etstats_fetcher_hostile_names_total", "Hostile file names ignored.", ["source"])
OLDER = Gauge(
    "etstats_fetcher_older_unimported_files",
    "Unimported files older than the catch-up window (run a sync).",
    ["source"],
)


@dataclass
class SourceStats:
    """What `!ssh_stats` shows about one source, as this fetcher saw it."""

    last_poll_ms: int = 0
    last_new_file_ms: int = 0
    fetched_total: int = 0
    fetched_today: int = 0
    today: date = field(default_factory=date.today)
    errors: int = 0
    last_error: str = ""
    poll_seconds: float = 0.0
    polls: int = 0
    download_seconds: float = 0.0
    downloads: int = 0

    def fetched(self, seconds: float) -> None:
        self.synced()
        self.download_seconds += seconds
        self.downloads += 1

    def synced(self) -> None:
        """A new file in, by monitoring or a sync: both count."""
        if self.today != date.today():
            self.today, self.fetched_today = date.today(), 0
        self.fetched_total += 1
        self.fetched_today += 1
        self.last_new_file_ms = now_ms()


class Monitor:
    """Polls a source: a directory stat, and a listing when the directory changed
    or a file is being watched. A new file is published once it is whole by the
    stability rule (services/fetcher/stability.py): at once when it evidently
    is, or else once its size and mtime held still for `stable_s`.

    At start and after every reconnect, files storage does not know are fetched
    as catch-up when they were modified within `catchup`; older ones are only
    counted (a sync imports them, unposted).

    A file that cannot be read is tried again whenever the directory is listed,
    without holding up the others. A file that changes once imported is reported.
    """

    def __init__(
        self,
        source: Source,
        bus: Bus,
        max_bytes: int,
        catchup: timedelta,
        stable_s: float,
    ) -> None:
        self.source = source
        self.bus = bus
        self.max_bytes = max_bytes
        self.catchup = catchup
        self.stable_s = stable_s
        self.stats = SourceStats()
        self.known: set[str] = set()
        self.older: set[str] = set()
        self.pending: dict[str, Sighting] = {}  # new files not yet published
        self.detected_at: dict[str, int] = {}
        self.catching_up: set[str] = set()
        self.warned: set[str] = set()
        self.unreadable: dict[str, Sighting] = {}
        self.imported: dict[str, Entry] = {}  # as first seen imported, to notice changes
        self.started = False
        self._dir_stamp: int | None = None
        self._stamp_seen_at = 0.0
        self._stamp_settled = False
        self._connections = -1

    def synced(self, names: set[str]) -> None:
        """A sync fetched these: they are neither new nor older unimported files,
        and what they hold now is what was imported (a re-import takes a change)."""
        self.known |= names
        self.older -= names
        for name in names:
            self.imported.pop(name, None)
        OLDER.labels(source=self.source.name).set(len(self.older))

    async def poll(self) -> None:
        """One poll: a cheap directory stat, a listing only when something may have changed."""
        POLLS.labels(source=self.source.name).inc()
        started = time.perf_counter()
        try:
            await self._poll()
        except Exception as exc:
            POLL_ERRORS.labels(source=self.source.name).inc()
            self.stats.errors += 1
            self.stats.last_error = describe(exc)
            raise
        finally:
            seconds = time.perf_counter() - started
            POLL_SECONDS.labels(source=self.source.name).observe(seconds)
            self.stats.poll_seconds += seconds
            self.stats.polls += 1
            self.stats.last_poll_ms = now_ms()

    async def _poll(self) -> None:
        looked_at = time.monotonic()
        stamp = await self.source.stamp()
        if self.source.connections != self._connections:
            self._connections = self.source.connections
            self.started = False
        if not self._listing_due(stamp, looked_at):
            mark_success("poll", self.source.name)
            return
        listing = await self.source.list()
        new = self._new_stats_files(listing)
        if not self.started:
            new = await self._catch_up(new, listing)
        if stamp != self._dir_stamp:
            self._dir_stamp, self._stamp_seen_at = stamp, looked_at
        self._stamp_settled = looked_at - self._stamp_seen_at >= STAMP_RESOLUTION_S
        for gone in set(self.pending) - set(new):
            self.pending.pop(gone, None)
        for gone in set(self.unreadable) - set(new):
            del self.unreadable[gone]
        # Every file's sighting is kept before anything can fail: a file seen
        # growing stays one, whatever happens to this poll.
        listed_at = time.monotonic()
        for name, entry in new.items():
            watched = self.unreadable if name in self.unreadable else self.pending
            watched[name] = sight(watched.get(name), entry, listed_at)
        for name in sorted(new):
            if name not in self.detected_at:
                self.detected_at[name] = now_ms()
                DETECTED.labels(source=self.source.name).inc()
                ref = common_pb2.FileRef(
                    source=self.source.name, filename=name, msg_id=f"{self.source.name}/{name}"
                )
                await report(self.bus, ref, "fetcher", "detected")
            # An unreadable file is tried again at every listing.
            if name in self.unreadable:
                await self._fetch(self.unreadable[name])
            elif worth_reading(self.pending[name], time.monotonic(), self.stable_s):
                await self._fetch(self.pending[name])
        mark_success("poll", self.source.name)

    def _listing_due(self, stamp: int | None, looked_at: float) -> bool:
        """When the directory changed or a file is watched; and once more when
        the second of its last change is surely over, as a directory time in
        whole seconds (SFTP) does not change for a file added later in the same
        second. Not at every poll before that: a listing reads every entry."""
        if not self.started or stamp != self._dir_stamp or self.pending:
            return True
        return not self._stamp_settled and looked_at - self._stamp_seen_at >= STAMP_RESOLUTION_S

    async def _catch_up(self, new: dict[str, Entry], listing: dict[str, Entry]) -> dict[str, Entry]:
        """Keep what storage does not know; fetch the recent, count the older.

        Recent or older is the file's own mtime (`recent`, the rule the poster's
        flag follows too), never whether this monitor had counted it before: a
        reconnect repeats the catch-up and asks about the counted ones again."""
        candidates = set(new) | (self.older & set(listing))
        unknown = set(await unknown_files(self.bus, self.source.name, sorted(candidates)))
        self.known.update(candidates - unknown)
        self.older = {name for name in unknown if not recent(listing[name], self.catchup)}
        fetch = {name: listing[name] for name in unknown - self.older}
        OLDER.labels(source=self.source.name).set(len(self.older))
        if self.older:
            log.warning(
                "%d older files not imported: run a sync",
                len(self.older),
                extra={"source": self.source.name},
            )
        self.catching_up = set(fetch)
        self.started = True
        return fetch

    def _new_stats_files(self, listing: dict[str, Entry]) -> dict[str, Entry]:
        new = {}
        for name, entry in listing.items():
            if name in self.known:
                self._check_unchanged(entry)
                continue
            if name in self.older:
                continue
            kind = classify_name(name).kind
            if kind is FileKind.STATS:
                new[name] = entry
            elif kind is FileKind.HOSTILE and name not in self.warned:
                self.warned.add(name)
                HOSTILE.labels(source=self.source.name).inc()
                log.warning(
                    "ignoring hostile file name %r", name, extra={"source": self.source.name}
                )
        return new

    def _check_unchanged(self, entry: Entry) -> None:
        """Report (once) an imported file whose size or time is no longer what it was."""
        if self.imported.setdefault(entry.name, entry) != entry:
            self.source.problems.report(
                entry.name,
                "changed_after_import",
                "changed after import; the stored round is of the earlier content",
            )

    async def _fetch(self, seen: Sighting) -> None:
        """Read one file and publish it if whole, or watch it on; one that cannot
        be read waits for the next listing."""
        entry = seen.entry
        name = entry.name
        origin = (
            common_pb2.ORIGIN_CATCH_UP if name in self.catching_up else common_pb2.ORIGIN_MONITOR
        )
        reading = time.monotonic()  # the stat after the read comes later still
        try:
            body, after, seconds = await download_and_stat(self.source, entry, self.max_bytes)
        except SourceError as exc:
            if exc.kind not in PER_FILE:
                raise
            self.pending.pop(name, None)
            if exc.kind == "unreadable":
                self.unreadable[name] = seen
            return
        self.unreadable.pop(name, None)
        if not publishable(seen, body, after, reading, self.stable_s, self.max_bytes):
            self.pending[name] = after_read(seen, after, time.monotonic())
            return
        await publish_file(
            self.bus,
            self.source.name,
            entry,
            body,
            origin=origin,
            max_bytes=self.max_bytes,
            detected_at_ms=self.detected_at.get(name, now_ms()),
            catchup=self.catchup,
        )
        self.stats.fetched(seconds)
        self.known.add(name)
        self.imported[name] = entry
        self.pending.pop(name, None)
        self.detected_at.pop(name, None)
        self.catching_up.discard(name)

    def status(self) -> control_pb2.SourceStatus:
        s = self.stats
        return control_pb2.SourceStatus(
            source=self.source.name,
            connected=self.source.connected,
            last_poll_ms=s.last_poll_ms,
            last_new_file_ms=s.last_new_file_ms,
            files_today=s.fetched_today if s.today == date.today() else 0,
            files_total=s.fetched_total,
            errors=s.errors,
            last_error=s.last_error,
            avg_poll_seconds=s.poll_seconds / s.polls if s.polls else 0.0,
            avg_download_seconds=s.download_seconds / s.downloads if s.downloads else 0.0,
            older_unimported=len(self.older),
            file_problems=self.source.problems.lines(),
        )
