"""Plain-text reports of status, health and syncs, for the CLI and the bot (pure)."""

from __future__ import annotations

import time

from etstats.contract import control_pb2
from services.common.control import Health


def backup_text(reply: control_pb2.BackupReply) -> str:
    """What `!backup` and `etstats backup` answer; a temporary file is said to be one."""
    text = f"Backup written: {reply.filename} ({reply.size:,} bytes)"
    if reply.temporary:
        text += (
            ". It is on the storage pod's temporary disk and is lost with the pod:"
            " copy it out now. Lasting backups are the scheduled backup job's."
        )
    return text


def ago(ms: int, now: float | None = None) -> str:
    if not ms:
        return "never"
    seconds = max((now or time.time()) - ms / 1000, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def status_text(
    fetcher: control_pb2.StatusReply | None, storage: control_pb2.StatusReply | None
) -> str:
    lines = []
    if fetcher is None:
        lines.append("fetcher: not answering")
    for s in fetcher.sources if fetcher else []:
        lines.append(
            f"{s.source}: {'connected' if s.connected else 'NOT connected'}, monitoring "
            f"{'on' if s.monitoring else 'off'}, polled by {s.lease_holder or 'nobody'}, "
            f"last poll {ago(s.last_poll_ms)}, last new file {ago(s.last_new_file_ms)}"
        )
        lines.append(
            f"  files today {s.files_today}, total {s.files_total}, errors {s.errors}"
            + (f" (last: {s.last_error})" if s.last_error else "")
        )
        lines.append(
            f"  average poll {s.avg_poll_seconds * 1000:.0f} ms, download "
            f"{s.avg_download_seconds * 1000:.0f} ms"
        )
        if s.older_unimported:
            lines.append(f"  {s.older_unimported} older files not imported: run a sync")
        lines += [f"  skipped: {problem}" for problem in s.file_problems]
    if storage is None:
        lines.append("storage: not answering")
    else:
        c = storage.counters
        lines.append(
            f"storage: {c['rounds']} rounds, {c['files_imported']} files imported, "
            f"{c['files_rejected']} rejected, {c['files_duplicate']} duplicates; "
            f"{c['files_today']} files today, {c['errors_last_hour']} errors in the last hour"
        )
        if storage.last_error:
            lines.append(f"  last error: {storage.last_error}")
    return "\n".join(lines)


def health_text(health: Health) -> str:
    lines = []
    for r in health.instances:
        last = max(r.last_success_ms.values(), default=0)
        lines.append(
            f"{r.service:<8} {r.instance[:12]:<12} v{r.version} up {r.uptime_s / 60:.0f} min,"
            f" {'ready' if r.ready else 'NOT ready'}, last success {ago(last)}"
        )
    for name in health.missing:
        lines.append(f"{name:<8} NOT ANSWERING")
    return "\n".join(lines)


def progress_text(p: control_pb2.SyncProgress) -> str:
    total = max(p.unknown, 1)
    done = p.stored + p.already_published
    bar = "#" * int(20 * done / total) + "." * (20 - int(20 * done / total))
    return (
        f"{p.source}: [{bar}] listed {p.listed}, to import {p.unknown}, fetched {p.fetched}, "
        f"stored {p.stored}"
        + (f", already in the pipeline {p.already_published}" if p.already_published else "")
        + (f", failed {p.failed}" if p.failed else "")
    )


def sync_state(result: control_pb2.SyncResult) -> str:
    """How a sync ended: failed (it could not go on), cancelled, or done."""
    return "failed" if result.error else "cancelled" if result.cancelled else "done"


SHOWN_LINES = 8  # per list in a result: it must fit one Discord message
LINE_MAX = 160


def shown(lines: list[str], what: str, total: int | None = None) -> list[str]:
    """The first SHOWN_LINES of a list, and how many more there are: never cut silently."""
    total = max(total or 0, len(lines))
    kept = [line if len(line) <= LINE_MAX else line[: LINE_MAX - 1] + "…" for line in lines]
    kept = kept[:SHOWN_LINES]
    return kept + ([f"  and {total - len(kept)} more {what}"] if total > len(kept) else [])


def result_text(r: control_pb2.SyncResult) -> str:
    seconds = max((r.finished_at_ms - r.started_at_ms) / 1000, 0)
    elsewhere = sum(p.already_published for p in r.sources)
    lines = [
        f"sync {r.sync_id} {sync_state(r)} in {seconds:.0f}s: "
        f"{r.imported} imported, {r.duplicates} duplicates, {r.rejected} rejected"
        + (f", {elsewhere} already in the pipeline" if elsewhere else "")
        + (f", {r.missing_total} missing" if r.missing_total else "")
    ]
    if r.error:
        lines.append(f"  stopped: {r.error}")
    maps = sorted(r.rounds_per_map.items(), key=lambda kv: (-kv[1], kv[0]))
    lines += shown([f"  {name}: {count} rounds" for name, count in maps], "maps")
    lines += shown([f"  rejected {line}" for line in r.rejections], "rejected", r.rejected)
    lines += [f"  {p.source}: {p.error}" for p in r.sources if p.error]
    lines += shown([f"  missing {line}" for line in r.missing], "missing", r.missing_total)
    return "\n".join(lines)


def sync_text(sync: control_pb2.RunningSync) -> str:
    """`sync <id> (<period>, asked by <who> via <where>)`, with what is known."""
    who = sync.requester
    known = [f"`{sync.period}`"] if sync.period else []
    if who.user_name:
        known.append(f"asked by {who.user_name}" + (f" via {who.via}" if who.via else ""))
    return f"sync {sync.sync_id}" + (f" ({', '.join(known)})" if known else "")


def already_running_text(accepted: control_pb2.SyncAccepted) -> str:
    """Why a sync was refused: the one that holds its sources."""
    return f"{sync_text(accepted.running)} is already running for {', '.join(accepted.sources)}"
